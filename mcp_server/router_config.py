"""Environment -> agents.RouterConfig. The only place the router's settings are read from env.

Kept small on purpose: it will be folded into `mcp_server/settings.py`.
Variables: DEEPSEEK_API_KEY, DEEPSEEK_BASE_URL, DEEPSEEK_MODEL, DEEPSEEK_REASONING_MODEL,
PERPLEXITY_API_KEY, PERPLEXITY_BASE_URL, PERPLEXITY_MODEL, PERPLEXITY_API_STYLE,
ROUTER_MODE (live|record|replay|offline), ROUTER_ROUTING (JSON: {"kind": ["agent", ...]}),
ROUTER_CACHE_TTL (seconds, live mode), ROUTER_CACHE_DIR (recorded responses, CLI state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents import ConfigError, DeepSeekConfig, PerplexityConfig, RouterConfig, RouterMode, TaskKind

__all__ = ["RouterSettings", "default_cache_dir", "router_config_from_env"]


def default_cache_dir() -> Path:
    """Where the CLI keeps recorded responses and router state."""
    return Path(platformdirs.user_cache_dir("bybit-strategy-tester")) / "agents"


class RouterSettings(BaseSettings):
    """Router-related environment variables (and .env)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    deepseek_api_key: SecretStr | None = None
    deepseek_base_url: str = DeepSeekConfig.base_url
    deepseek_model: str = DeepSeekConfig.model
    deepseek_reasoning_model: str = DeepSeekConfig.reasoning_model
    perplexity_api_key: SecretStr | None = None
    perplexity_base_url: str = PerplexityConfig.base_url
    perplexity_model: str = PerplexityConfig.model
    perplexity_api_style: str = PerplexityConfig.api_style
    router_mode: RouterMode = RouterMode.LIVE
    router_routing: dict[str, list[str]] | None = None
    router_cache_ttl: float = 0.0
    router_cache_dir: Path | None = None

    @field_validator("deepseek_api_key", "perplexity_api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # `DEEPSEEK_API_KEY=` in a .env means "no key", not an empty key that fails with 401.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("router_mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def to_router_config(self) -> RouterConfig:
        """The agents package's plain config object."""
        routing: dict[TaskKind, tuple[str, ...]] = {}
        for kind, chain in (self.router_routing or {}).items():
            try:
                routing[TaskKind(kind)] = tuple(chain)
            except ValueError:
                known = ", ".join(k.value for k in TaskKind)
                raise ConfigError(
                    f"ROUTER_ROUTING: unknown task kind {kind!r}; known: {known}"
                ) from None
        return RouterConfig(
            deepseek=DeepSeekConfig(
                api_key=self.deepseek_api_key.get_secret_value() if self.deepseek_api_key else None,
                base_url=self.deepseek_base_url,
                model=self.deepseek_model,
                reasoning_model=self.deepseek_reasoning_model,
            ),
            perplexity=PerplexityConfig(
                api_key=self.perplexity_api_key.get_secret_value()
                if self.perplexity_api_key
                else None,
                base_url=self.perplexity_base_url,
                model=self.perplexity_model,
                api_style=self.perplexity_api_style,
            ),
            routing=routing,
            mode=self.router_mode,
            cache_ttl_s=self.router_cache_ttl,
        )

    def cache_dir(self) -> Path:
        """ROUTER_CACHE_DIR or the user cache directory."""
        return self.router_cache_dir or default_cache_dir()


def router_config_from_env(env: Mapping[str, str] | None = None) -> RouterConfig:
    """RouterConfig from the process environment (or from `env`, for tests)."""
    if env is None:
        return RouterSettings().to_router_config()
    lowered: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    if "router_routing" in lowered and isinstance(lowered["router_routing"], str):
        lowered["router_routing"] = json.loads(lowered["router_routing"])
    return RouterSettings(_env_file=None, **lowered).to_router_config()  # type: ignore[call-arg]
