"""MCP context budget and latency, through the SDK client over stdio (and HTTP).

    uv run python bench/mcp.py [--budget] [--calls 60] [--clients 20] [--per-client 10]

Budget (issue #14): `tools/list` bytes with every toolset, and the canonical session
(bench/_budget.py) with each call's text tokens (chars/4), image bytes and latency.
Reach: tools/list <= 40 KB; the session <= 6k text tokens and no image unless asked.
Latency (issue #5): stdio p50 < 30 ms on 100k cached bars; 0 errors under 20 HTTP clients.
`--budget` prints only the budget table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and `bench/mcp.py` would
# shadow the `mcp` SDK package: drop that entry before importing it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(Path(__file__).resolve().parent))
from _budget import canonical_session, tools_list_bytes  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] * 1000


def env(tmp: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "PATH", "LANG")}
    return {
        **keep,
        "BST_DATA_DIR": tmp,
        "BST_CACHE_URL": "memory://",
        "PYTHONPATH": str(ROOT),
        "BST_LOG_LEVEL": "WARNING",
    }


async def bench_stdio(calls: int, tmp: str) -> list[tuple[str, float, float, int]]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server.stdio"], env=env(tmp)
    )
    rows = []
    async with Client(params) as c:
        base = {"bars": 100_000, "interval": "15"}
        await c.call_tool("run_backtest", base)  # generate + cache the 100k bars and the result
        lat: list[float] = []
        for _ in range(calls):
            t = time.perf_counter()
            r = await c.call_tool("run_backtest", base)
            lat.append(time.perf_counter() - t)
            assert not r.is_error
        rows.append(("stdio run_backtest, cached result + chart", pct(lat, 0.5), pct(lat, 0.99), 0))
        lat, errors = [], 0
        for k in range(calls):
            t = time.perf_counter()
            r = await c.call_tool(
                "run_backtest",
                {**base, "params": {"fast": 5 + k % 40, "slow": 100 + k}, "include_chart": False},
            )
            lat.append(time.perf_counter() - t)
            errors += bool(r.is_error)
        rows.append(
            (
                "stdio run_backtest, new params, cached bars, no chart",
                pct(lat, 0.5),
                pct(lat, 0.99),
                errors,
            )
        )
    return rows


async def bench_http(clients: int, per_client: int, tmp: str) -> tuple[str, float, float, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mcp_server.cli", "serve", "--transport", "http"),
            *("--port", str(port)),
        ],
        env=env(tmp),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        lat: list[float] = []
        errors = 0

        async def one(i: int) -> None:
            nonlocal errors
            try:
                async with Client(url + "/mcp/") as c:
                    for k in range(per_client):
                        t = time.perf_counter()
                        r = await c.call_tool(
                            "run_backtest",
                            {
                                "bars": 5000,
                                "include_chart": k % 2 == 0,
                                "params": {"fast": 5 + (i + k) % 10},
                            },
                        )
                        lat.append(time.perf_counter() - t)
                        errors += bool(r.is_error)
            except Exception:
                errors += 1

        await asyncio.gather(*(one(i) for i in range(clients)))
        return (
            f"HTTP run_backtest, {clients} concurrent clients x {per_client}",
            pct(lat, 0.5),
            pct(lat, 0.99),
            errors,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def bench_budget(tmp: str) -> str:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server.stdio"], env=env(tmp)
    )
    async with Client(params) as c:
        listed = await tools_list_bytes(c)
        rows = await canonical_session(c)
    out = [
        f"tools/list with every toolset: {listed:,} bytes (reach <= 40,000)",
        "",
        "| call | text tokens | image bytes | latency s | error |",
        "|---|---:|---:|---:|---|",
    ]
    out += [
        f"| {r.call} | {r.text_tokens:,} | {r.image_bytes:,} | {r.seconds:.2f} | {r.error} |"
        for r in rows
    ]
    tokens = sum(r.text_tokens for r in rows)
    images = sum(r.image_bytes for r in rows)
    seconds = sum(r.seconds for r in rows)
    out.append(f"| **session** (reach <= 6,000 tokens, no image) | {tokens:,} | {images:,} | {seconds:.2f} | |")
    return "\n".join(out) + "\n"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--per-client", type=int, default=10)
    ap.add_argument("--budget", action="store_true", help="print only the context budget")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(await bench_budget(tmp))
        if a.budget:
            return
        rows = await bench_stdio(a.calls, tmp)
        rows.append(await bench_http(a.clients, a.per_client, tmp))
    out = ["| case | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|"]
    out += [f"| {n} | {p50:.1f} | {p99:.1f} | {e} |" for n, p50, p99, e in rows]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
