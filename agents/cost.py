"""Cost of an answer in USD from usage and the configured price table.

DeepSeek bills prompt tokens at two prices: cache hits (about 1/50 of a miss)
and misses. Several gateways bill every prompt token at the miss price, or
count hits twice; here cost = hit*p_hit + miss*p_miss + output*p_out, with the
split read from `prompt_cache_hit_tokens`/`prompt_cache_miss_tokens` or, when
only `prompt_tokens_details.cached_tokens` is given, derived from it.
Perplexity reports its own cost (`usage.cost.total_cost`), which wins.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from agents.config import PriceTable
from agents.result import Usage

__all__ = ["compute_cost"]

log = logging.getLogger(__name__)

_PER_TOKEN = 1e-6


def compute_cost(
    provider: str,
    model: str,
    usage: Usage,
    prices: PriceTable,
    when: datetime | None = None,
) -> float:
    """USD cost of one answer; 0 for `local` and for unknown models (logged once per call)."""
    if provider == "deepseek":
        pricing = prices.deepseek.get(model)
        if pricing is None:
            log.warning("no price for DeepSeek model %r; cost counted as 0", model)
            return 0.0
        price = pricing.at(when or datetime.now(UTC))
        return _PER_TOKEN * (
            usage.cache_hit_tokens * price.input_cache_hit
            + usage.cache_miss_tokens * price.input_cache_miss
            + usage.completion_tokens * price.output
        )
    if provider == "perplexity":
        if usage.reported_cost_usd is not None:
            return usage.reported_cost_usd
        pp = prices.perplexity
        return (
            _PER_TOKEN * (usage.prompt_tokens * pp.input + usage.completion_tokens * pp.output)
            + usage.search_calls * pp.per_search
        )
    return 0.0
