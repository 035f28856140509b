"""Compatibility re-export: the router's settings now live in `mcp_server.settings`.

`mcp_server.settings` is the only module that reads the environment; this name is
kept so existing imports (`mcp_server.cli.agents`, tests) keep working.
"""

from __future__ import annotations

from mcp_server.settings import RouterSettings, default_cache_dir, router_config_from_env

__all__ = ["RouterSettings", "default_cache_dir", "router_config_from_env"]
