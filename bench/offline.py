"""Time to a useful error when the exchange cannot be reached (issue #14): a refused port
on loopback and a name that does not resolve, through `market` directly and through the
MCP tool `get_klines`, with today's policy (one quick retry) beside the old one (DNS
failures and refused connections retried like timeouts: 5 attempts with backoff).

Run: `uv run python bench/offline.py` (`--repeat N` takes the median of N runs per cell).
Both columns are measured in the same run; nothing here reaches the internet.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# bench/ holds market.py and mcp.py: drop it from the path so the packages are imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import httpx  # noqa: E402
from mcp import Client  # noqa: E402

import market as M  # noqa: E402
from mcp_server.context import AppContext  # noqa: E402
from mcp_server.server import build_server  # noqa: E402
from mcp_server.settings import RouterSettings, ServerSettings, Settings  # noqa: E402
from ohlcv import now_ms  # noqa: E402

OLD = {"fail_fast_unreachable": False}  # the retry settings before #14, otherwise defaults
NEW: dict[str, object] = {}
HOUR = 3_600_000


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _settings(root: Path, url: str) -> Settings:
    server = ServerSettings(
        _env_file=None, data_dir=root, cache_url="memory://", bybit_base_url=url
    )  # type: ignore[call-arg]
    return Settings(server, RouterSettings(_env_file=None, router_mode="offline"))  # type: ignore[call-arg]


async def via_market(url: str, policy: dict[str, object], root: Path) -> str:
    """MarketData.get_candles for the last day of 1h candles (what the tools call)."""
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(http, M.ClientConfig(base_url=url, **policy))  # type: ignore[arg-type]
        md = M.MarketData(M.CandleStore(root), client)
        try:
            await md.get_candles("BTCUSDT", "60", now_ms() - 24 * HOUR)
        except M.MarketError as exc:
            return f"{type(exc).__name__}: {exc}"
    return "no error"


async def via_mcp(url: str, policy: dict[str, object], root: Path) -> str:
    """The MCP tool get_klines through the SDK's in-memory client."""
    settings = _settings(root, url)
    async with httpx.AsyncClient() as http:
        client = M.BybitClient(http, M.ClientConfig(base_url=url, **policy))  # type: ignore[arg-type]
        market = M.MarketData(M.CandleStore(root), client)
        server, _ = build_server(settings, context=AppContext(settings, market=market))
        async with Client(server) as mcp:
            r = await mcp.call_tool(
                "get_klines", {"symbol": "BTCUSDT", "interval": "60", "limit": 24}
            )
    return str(r.content[0].text) if r.is_error else "no error"  # type: ignore[union-attr]


Case = Callable[[str, dict[str, object], Path], Awaitable[str]]


async def timed(case: Case, url: str, policy: dict[str, object], repeat: int) -> tuple[float, str]:
    times, text = [], ""
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            text = await case(url, policy, Path(tmp))
            times.append(time.perf_counter() - started)
    return statistics.median(times), text


async def main(repeat: int) -> None:
    rows = []
    for path, case in (
        ("market.MarketData.get_candles", via_market),
        ("MCP tool get_klines", via_mcp),
    ):
        for failure, url in (
            ("refused port", refused_url()),
            ("DNS bybit.invalid", "http://bybit.invalid"),
        ):
            before, _ = await timed(case, url, OLD, repeat)
            after, text = await timed(case, url, NEW, repeat)
            rows.append((path, failure, before, after, " ".join(text.split())))
    print(f"\ntime to error, exchange unreachable (median of {repeat}; seconds)\n")
    print(
        "| path | failure | before: retried like a timeout | after: one quick retry | the error after |"
    )
    print("|---|---|---:|---:|---|")
    for path, failure, before, after, text in rows:
        print(f"| {path} | {failure} | {before:.2f} | {after:.2f} | {text[:260]} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=1)
    asyncio.run(main(max(1, ap.parse_args().repeat)))
