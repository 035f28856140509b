"""The composing layer: MCP tools, REST routes, CLI commands and (soon) jobs, all over one
`AppContext` built from the settings (the only reader of the environment).

Where things go: a new tool is a function in `tools/<toolset>.py`; a REST route goes in
`http/`; a CLI command in `cli/`; new maths in `engine`; exchange behaviour in `market`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bybit-strategy-tester")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
