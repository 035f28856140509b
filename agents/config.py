"""Router configuration as plain objects.

Nothing here reads the environment: `mcp_server` maps env variables onto
`RouterConfig`. Defaults give a router that works with no key at all (every
chain ends with `local`). Model names and prices live here, not in code,
because providers rename models and change prices (see docs/agents.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from agents.errors import ConfigError
from agents.tasks import TaskKind

__all__ = [
    "AGENT_NAMES",
    "DEFAULT_ROUTING",
    "BreakerConfig",
    "DeepSeekConfig",
    "DeepSeekPricing",
    "ModelPrice",
    "PerplexityConfig",
    "PerplexityPricing",
    "PriceTable",
    "RetryConfig",
    "RouterConfig",
    "RouterMode",
]

AGENT_NAMES = ("deepseek", "perplexity", "local")


class RouterMode(StrEnum):
    """How the response cache is used.

    live: call providers; serve fresh cache hits within `cache_ttl_s` (0 = no cache).
    record: call providers and store every response.
    replay: serve only recorded responses; a miss raises ReplayMissError.
    offline: serve recorded responses; a miss goes straight to `local`.
    """

    LIVE = "live"
    RECORD = "record"
    REPLAY = "replay"
    OFFLINE = "offline"


RESEARCH_CHAIN = ("perplexity", "deepseek", "local")
REASONING_CHAIN = ("deepseek", "perplexity", "local")
CODE_CHAIN = ("deepseek", "local")

DEFAULT_ROUTING: dict[TaskKind, tuple[str, ...]] = {
    TaskKind.INDICATOR_RESEARCH: RESEARCH_CHAIN,
    TaskKind.ASK: RESEARCH_CHAIN,
    TaskKind.ANALYZE_BACKTEST: REASONING_CHAIN,
    TaskKind.COMPARE_STRATEGIES: REASONING_CHAIN,
    TaskKind.RISK_ADVICE: REASONING_CHAIN,
    TaskKind.MARKET_REGIME: REASONING_CHAIN,
    TaskKind.EXPLAIN_METRIC: REASONING_CHAIN,
    # Perplexity is a search engine: no use for reviewing code we hand it.
    TaskKind.CODE_REVIEW: CODE_CHAIN,
    TaskKind.TEST_SCENARIOS: CODE_CHAIN,
}


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens."""

    input_cache_hit: float
    input_cache_miss: float
    output: float


@dataclass(frozen=True)
class DeepSeekPricing:
    """Peak prices, optional off-peak prices and the peak windows (UTC hours, weekdays)."""

    peak: ModelPrice
    offpeak: ModelPrice | None = None
    peak_hours_utc: tuple[tuple[int, int], ...] = ((1, 4), (6, 10))

    def at(self, when: datetime) -> ModelPrice:
        """The price in force at `when` (UTC)."""
        if self.offpeak is None:
            return self.peak
        if when.weekday() >= 5:
            return self.offpeak
        in_peak = any(start <= when.hour < end for start, end in self.peak_hours_utc)
        return self.peak if in_peak else self.offpeak


@dataclass(frozen=True)
class PerplexityPricing:
    """Used only when a response does not report `usage.cost.total_cost`."""

    input: float = 1.0
    output: float = 1.0
    per_search: float = 0.005


def _default_deepseek_prices() -> dict[str, DeepSeekPricing]:
    # Stored official page, 2026-11 (see the providers spec); override in config.
    return {
        "deepseek-flash": DeepSeekPricing(
            peak=ModelPrice(0.006, 0.30, 1.20), offpeak=ModelPrice(0.003, 0.15, 0.60)
        ),
        "deepseek-v4-pro": DeepSeekPricing(
            peak=ModelPrice(0.044, 1.32, 3.96), offpeak=ModelPrice(0.022, 0.66, 1.98)
        ),
    }


@dataclass(frozen=True)
class PriceTable:
    """Prices per provider and model."""

    deepseek: dict[str, DeepSeekPricing] = field(default_factory=_default_deepseek_prices)
    perplexity: PerplexityPricing = field(default_factory=PerplexityPricing)


@dataclass(frozen=True)
class _KeyedConfig:
    """A remote provider's key; without one the provider is skipped, not failed."""

    api_key: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        """True when a key is set."""
        return bool(self.api_key)


@dataclass(frozen=True)
class DeepSeekConfig(_KeyedConfig):
    """DeepSeek chat completions (OpenAI format)."""

    base_url: str = "https://api.deepseek.com"
    model: str = "deepseek-flash"
    reasoning_model: str = "deepseek-v4-pro"
    # Kinds that get the pro model with thinking on unless the request says otherwise.
    thinking_kinds: frozenset[TaskKind] = frozenset({TaskKind.CODE_REVIEW})
    reasoning_effort: str = "high"
    max_tokens: int = 4096
    temperature: float = 0.2


@dataclass(frozen=True)
class PerplexityConfig(_KeyedConfig):
    """Perplexity Agent API (`/v1/responses`) or legacy Sonar chat completions."""

    base_url: str = "https://api.perplexity.ai/v1"
    model: str = "perplexity/sonar"
    api_style: str = "agent"  # "agent" (/v1/responses) or "sonar" (legacy /chat/completions)
    search_recency: str | None = "year"
    search_domains: tuple[str, ...] = ()
    max_results: int = 10
    max_output_tokens: int = 4096


@dataclass(frozen=True)
class RetryConfig:
    """The router's only retry loop (provider SDK retries are off).

    Wait before retry n (1-based) = max(Retry-After, min(wait_max, wait_initial * 2**(n-1)))
    minus up to `jitter` of it. A Retry-After longer than `max_retry_after` is not
    waited out: the agent falls back at once and its breaker opens for that long.
    """

    attempts: int = 3
    wait_initial: float = 0.5
    wait_max: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 20.0
    attempt_deadline: float = 60.0

    def budget(self) -> float:
        """Worst-case seconds spent waiting between the attempts of one agent."""
        return sum(
            min(self.wait_max, self.wait_initial * 2**n) for n in range(max(self.attempts - 1, 0))
        )


@dataclass(frozen=True)
class BreakerConfig:
    """Cooldowns of the per-agent circuit breaker, by failure reason (seconds)."""

    auth_cooldown: float | None = None  # 401/403: None = until restart
    payment_cooldown: float = 3600.0  # 402
    rate_limit_cooldown: float = 30.0  # 429 without Retry-After
    server_cooldown: float = 15.0  # 5xx, timeouts, connection errors
    bad_response_cooldown: float = 15.0
    # Soft failures (status: failed, exhausted bad JSON) open it only when repeated.
    soft_failure_threshold: int = 3


@dataclass(frozen=True)
class RouterConfig:
    """Everything the router needs; build it in code or from env in mcp_server."""

    deepseek: DeepSeekConfig = field(default_factory=DeepSeekConfig)
    perplexity: PerplexityConfig = field(default_factory=PerplexityConfig)
    routing: dict[TaskKind, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ROUTING))
    mode: RouterMode = RouterMode.LIVE
    retry: RetryConfig = field(default_factory=RetryConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    prices: PriceTable = field(default_factory=PriceTable)
    cache_ttl_s: float = 0.0  # live mode response cache; record/replay keep forever

    def __post_init__(self) -> None:
        routing: dict[TaskKind, tuple[str, ...]] = {}
        for kind, chain in self.routing.items():
            try:
                task_kind = TaskKind(kind)
            except ValueError:
                raise ConfigError(f"routing table: unknown task kind {kind!r}") from None
            routing[task_kind] = self.normalise_chain(chain, where=f"routing[{task_kind.value}]")
        for kind in TaskKind:
            routing.setdefault(kind, DEFAULT_ROUTING[kind])
        object.__setattr__(self, "routing", routing)
        object.__setattr__(self, "mode", RouterMode(self.mode))
        if self.retry.attempts < 1:
            raise ConfigError("retry.attempts must be >= 1")
        if self.perplexity.api_style not in ("agent", "sonar"):
            raise ConfigError(
                f"perplexity.api_style must be 'agent' or 'sonar', got {self.perplexity.api_style!r}"
            )

    @staticmethod
    def normalise_chain(
        chain: tuple[str, ...] | list[str], *, where: str = "chain"
    ) -> tuple[str, ...]:
        """Validate agent names, drop duplicates and make sure `local` ends the chain."""
        out: list[str] = []
        for name in chain:
            if name not in AGENT_NAMES:
                raise ConfigError(
                    f"{where}: unknown agent {name!r}; known agents: {', '.join(AGENT_NAMES)}"
                )
            if name not in out and name != "local":
                out.append(name)
        out.append("local")
        return tuple(out)

    def with_mode(self, mode: RouterMode | str) -> RouterConfig:
        """A copy with another cache mode."""
        return replace(self, mode=RouterMode(mode))
