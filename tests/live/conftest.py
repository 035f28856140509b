"""Live relay tests reuse the market and MCP testkits (and their redis fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _kit in ("market", "mcp_server"):
    _path = str(_HERE.parent / _kit)
    if _path not in sys.path:
        sys.path.append(_path)
