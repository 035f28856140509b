"""`bybit-tester fake-bybit` serves REST and the WebSocket stream from the same candles."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]


def _urls(proc: subprocess.Popen[str], deadline: float) -> tuple[str, str]:
    text = ""
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        text += proc.stderr.readline()
        rest, ws = (
            re.search(r"http://127\.0\.0\.1:\d+", text),
            re.search(r"ws://127\.0\.0\.1:\d+", text),
        )
        if rest and ws:
            return rest.group(0), ws.group(0)
        assert proc.poll() is None, f"fake-bybit exited: {text}"
    raise AssertionError(f"no URLs printed: {text}")


def test_fake_bybit_serves_rest_and_a_matching_stream() -> None:
    cmd = [sys.executable, "-c", "from mcp_server.cli import main; main()", "fake-bybit",
           "--port", "0", "--ws-port", "0", "--speed", "60", "--push-interval", "0.1",
           "--history-days", "2"]  # fmt: skip
    env = os.environ | {"COLUMNS": "300"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    try:
        rest, ws = _urls(proc, time.monotonic() + 120)
        with connect(f"{ws}/v5/public/linear", open_timeout=30) as conn:
            conn.send(json.dumps({"req_id": "a", "op": "subscribe", "args": ["kline.1.BTCUSDT"]}))
            confirmed = None
            deadline = time.monotonic() + 60
            while confirmed is None and time.monotonic() < deadline:
                msg = json.loads(conn.recv(timeout=30))
                if msg.get("op") == "subscribe":
                    assert msg["success"] is True and msg["req_id"] == "a"
                for item in msg.get("data") or []:
                    if item["confirm"]:
                        confirmed = item
        assert confirmed is not None, "no confirmed candle"
        params = {"category": "linear", "symbol": "BTCUSDT", "interval": "1",
                  "start": confirmed["start"], "end": confirmed["start"]}  # fmt: skip
        (row,) = httpx.get(f"{rest}/v5/market/kline", params=params, timeout=30).json()["result"][
            "list"
        ]
        fields = ("open", "high", "low", "close", "volume", "turnover")
        assert row == [str(confirmed["start"]), *(confirmed[f] for f in fields)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
