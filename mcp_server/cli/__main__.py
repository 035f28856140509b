"""`python -m mcp_server.cli`: the same as the `bybit-tester` script."""

from mcp_server.cli import main

main()
