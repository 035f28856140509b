#!/usr/bin/env bash
# Install the MCP Inspector CLI (pinned) into .cache/inspector for tests/mcp_server/test_mcp_inspector.py.
# 2.12.0 declares node >= 22.19 but its CLI runs on Node 20; plain `npm install` would resolve 0.15.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${BST_INSPECTOR_DIR:-$root/.cache/inspector}"
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"bst-inspector","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error --engine-strict=false @modelcontextprotocol/inspector@2.12.0 >&2
test -x node_modules/.bin/mcp-inspector
echo "$dest/node_modules/.bin/mcp-inspector"
