"""Prometheus telemetry of one server instance (trading statistics are `metrics` elsewhere).

Each server owns its registry (not the global one), so tests can build many
servers in one process without "duplicated timeseries" errors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Telemetry"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Telemetry:
    """Tool calls, latency, cache hits and upstream errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tool_calls = Counter(
            "bst_tool_calls", "MCP tool calls by tool and outcome (ok, tool_error, crash, "
            "cancelled)", ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tool_latency = Histogram(
            "bst_tool_latency_seconds", "MCP tool call latency", ["tool"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.cache_requests = Counter(
            "bst_cache_requests", "Result cache lookups by kind and outcome (hit, miss)",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "bst_upstream_errors", "Errors from upstreams (exchange, AI providers, cache backend)",
            ["upstream", "error"], registry=r,
        )  # fmt: skip
        self.http_requests = Counter(
            "bst_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.results_in_memory = Gauge(
            "bst_results_in_memory", "Backtest results held for resources", registry=r
        )
        self._add_live(r)
        self.catalog_records = Counter(
            "bst_catalog_records", "Results catalog records by item (run, optimization, job, "
            "backfill) and outcome (written, duplicate, spooled: kept for retry)",
            ["item", "outcome"], registry=r,
        )  # fmt: skip
        self.catalog_pending = Gauge(
            "bst_catalog_pending", "Catalog records waiting in the spool for the database",
            registry=r,
        )
        self.catalog_up = Gauge(
            "bst_catalog_up", "1 when the last catalog write or retry succeeded", registry=r
        )
        self.job_events = Counter(
            "bst_job_events", "Job events handled by the metrics consumer group (Redis events "
            "only), by kind", ["kind"], registry=r,
        )  # fmt: skip

    def _add_live(self, r: CollectorRegistry) -> None:
        """The live stream and the WebSocket relay."""
        self.live_messages = Counter(
            "bst_live_messages", "Messages from the Bybit stream", registry=r
        )
        self.live_reconnects = Counter("bst_live_reconnects", "Bybit stream reconnects", registry=r)
        self.live_repaired = Counter(
            "bst_live_repaired_candles", "Closed candles repaired from REST", registry=r
        )
        self.live_relay_dropped = Counter(
            "bst_live_relay_dropped", "Relay messages dropped for slow clients", registry=r
        )
        self.live_relay_clients = Gauge(
            "bst_live_relay_clients", "Relay clients connected", registry=r
        )
        self.live_delay = Histogram(
            "bst_live_delay_seconds", "Delay from the stream's publish to the relay's send",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
