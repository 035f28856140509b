"""The parts of docs/mcp.md that the code owns: the tool table (from the server itself) and the
VS Code configuration (vscode/mcp.json, verbatim). `python -m mcp_server.docgen` rewrites
them; a test fails when the docs and the code disagree."""

from __future__ import annotations

import re
from pathlib import Path

from mcp_server.tools import TOOLSET_MODULES, TOOLSET_TOOLS
from mcp_server.tools._runtime import marked_tools

__all__ = ["render_tool_table", "update_docs"]

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "mcp.md"
VSCODE_MCP = ROOT / "vscode" / "mcp.json"


def _summary(doc: str) -> str:
    """The first sentence of a tool's docstring, on one line, pipes escaped."""
    text = " ".join((doc or "").split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first.replace("|", "\\|")


def render_tool_table() -> str:
    """Markdown: every tool by toolset, with its title, whether it writes, and what it does."""
    n_tools = sum(len(t) for t in TOOLSET_TOOLS.values())
    lines = [
        f"{n_tools} tools in {len(TOOLSET_TOOLS)} toolsets (`BST_TOOLSETS` picks toolsets).",
        "",
        "| toolset | tool | title | writes | what it does |",
        "|---|---|---|---|---|",
    ]
    for toolset, module in TOOLSET_MODULES.items():
        for fn, mark in marked_tools(module):
            writes = "yes" if mark.annotations.read_only_hint is False else "no"
            summary = _summary(fn.__doc__ or "")
            lines.append(f"| {toolset} | `{mark.name}` | {mark.title} | {writes} | {summary} |")
    return "\n".join(lines)


def _vscode_block() -> str:
    return "```json\n" + VSCODE_MCP.read_text(encoding="utf-8").strip() + "\n```"


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"docs/mcp.md has no <!-- {name}:start --> ... <!-- {name}:end --> block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def update_docs(text: str) -> str:
    """`text` (docs/mcp.md) with its generated blocks brought up to date."""
    return _replace(_replace(text, "tools", render_tool_table()), "vscode", _vscode_block())


if __name__ == "__main__":
    DOC.write_text(update_docs(DOC.read_text(encoding="utf-8")), encoding="utf-8")
