"""AI agents for strategy analysis: DeepSeek, Perplexity and an offline analyst behind one router.

    from agents import MCPRouter, RouterConfig
    async with MCPRouter(RouterConfig()) as router:          # no keys: the local analyst answers
        result = await router.run("analyze_backtest", {"metrics": metrics})

This package imports nothing else of ours; engine results arrive as plain mappings.
"""

from agents.breaker import BreakerSnapshot, CircuitBreaker
from agents.cache import CacheBackend, FileCache, MemoryCache, cache_key
from agents.classify import Verdict, classify
from agents.config import (
    DEFAULT_ROUTING,
    BreakerConfig,
    DeepSeekConfig,
    DeepSeekPricing,
    ModelPrice,
    PerplexityConfig,
    PerplexityPricing,
    PriceTable,
    RetryConfig,
    RouterConfig,
    RouterMode,
)
from agents.errors import (
    AgentsError,
    AllAgentsFailedError,
    BadResponseError,
    ConfigError,
    FatalRequestError,
    InvalidTaskError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeoutError,
    ReplayMissError,
)
from agents.outputs import TASK_OUTPUTS
from agents.pipelines import PIPELINES, Pipeline, PipelineResult, Step, StepProgress, run_pipeline
from agents.providers.base import CallOptions
from agents.result import AgentResult, Attempt, Source, Usage, mark_untrusted
from agents.router import AgentStatus, MCPRouter, RouterStatus
from agents.tasks import TASK_INPUTS, TaskKind, parse_task_input

__all__ = [
    "DEFAULT_ROUTING",
    "PIPELINES",
    "TASK_INPUTS",
    "TASK_OUTPUTS",
    "AgentResult",
    "AgentStatus",
    "AgentsError",
    "AllAgentsFailedError",
    "Attempt",
    "BadResponseError",
    "BreakerConfig",
    "BreakerSnapshot",
    "CacheBackend",
    "CallOptions",
    "CircuitBreaker",
    "ConfigError",
    "DeepSeekConfig",
    "DeepSeekPricing",
    "FatalRequestError",
    "FileCache",
    "InvalidTaskError",
    "MCPRouter",
    "MemoryCache",
    "ModelPrice",
    "PerplexityConfig",
    "PerplexityPricing",
    "Pipeline",
    "PipelineResult",
    "PriceTable",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeoutError",
    "ReplayMissError",
    "RetryConfig",
    "RouterConfig",
    "RouterMode",
    "RouterStatus",
    "Source",
    "Step",
    "StepProgress",
    "TaskKind",
    "Usage",
    "Verdict",
    "cache_key",
    "classify",
    "mark_untrusted",
    "parse_task_input",
    "run_pipeline",
]
