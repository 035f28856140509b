"""A fake DeepSeek + Perplexity server with fault injection, for tests, demos and benches.

An ASGI app speaking just enough of both APIs for the adapters:
- `POST /deepseek/chat/completions`: DeepSeek chat completions (JSON mode,
  thinking -> `reasoning_content`, usage with cache hit/miss tokens);
- `POST /perplexity/v1/responses`: the Perplexity Agent API (strict body
  schema: an unknown field is a 400, as the real one), `search_results` items,
  `usage.cost.total_cost`; `POST /perplexity/v1/chat/completions`: legacy Sonar.

JSON-mode answers echo the example object our prompt embeds, so they always
validate. Faults are queued per provider and consumed one per request:
`Fault.status(429, retry_after=1)`, `Fault.blank()`, `Fault.invalid_json()`,
`Fault.failed()` (200 with status failed), `Fault.drip(seconds)` (keep-alive
newlines, as DeepSeek does under load), `Fault.delay(seconds)`.
Serve it like any ASGI app (`market.ServerThread(FakeProviders())` runs uvicorn on a
free loopback port in a thread); `deepseek_url(base)` and `perplexity_url(base)` are
the base URLs to put in DeepSeekConfig and PerplexityConfig.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeProviders", "Fault", "deepseek_url", "perplexity_url"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_EXAMPLE_MARKER = "shaped like this example:\n"
_DEEPSEEK_MODELS = {"deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"}
_AGENT_FIELDS = {
    "input",
    "instructions",
    "model",
    "preset",
    "models",
    "max_output_tokens",
    "reasoning",
    "response_format",
    "max_steps",
    "max_tool_calls",
    "stream",
    "background",
    "tools",
    "tool_choice",
}
_SOURCES = [
    {
        "url": "https://www.investopedia.com/terms/r/rsi.asp",
        "title": "Relative Strength Index (RSI)",
        "snippet": "RSI is a momentum indicator...",
        "date": "2025-03-01",
    },
    {
        "url": "https://school.stockcharts.com/doku.php?id=technical_indicators:relative_strength_index_rsi",
        "title": "RSI - ChartSchool",
        "snippet": "Developed by J. Welles Wilder...",
        "date": "2024-11-12",
    },
]


@dataclass(frozen=True)
class Fault:
    """One injected behaviour for one request."""

    kind: str
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0

    @staticmethod
    def http(status: int, retry_after: float | None = None) -> Fault:
        """Answer with an HTTP error status (and optionally a Retry-After header)."""
        return Fault("status", status=status, retry_after=retry_after)

    @staticmethod
    def blank() -> Fault:
        """200 with blank content (DeepSeek JSON mode's failure)."""
        return Fault("blank")

    @staticmethod
    def invalid_json() -> Fault:
        """200 with content that is not JSON."""
        return Fault("invalid_json")

    @staticmethod
    def failed() -> Fault:
        """Perplexity: HTTP 200 with `status: failed`."""
        return Fault("failed")

    @staticmethod
    def drip(seconds: float, interval: float = 0.1) -> Fault:
        """Send a keep-alive newline every `interval` for `seconds`, then the answer."""
        return Fault("drip", seconds=seconds, retry_after=interval)

    @staticmethod
    def delay(seconds: float) -> Fault:
        """Wait `seconds` before answering."""
        return Fault("delay", seconds=seconds)


@dataclass
class _ProviderState:
    faults: deque[Fault] = field(default_factory=deque)
    calls: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


class FakeProviders:
    """The ASGI app. Thread-safe for setting faults from another thread."""

    def __init__(self, api_key: str | None = "test-key") -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._state = {"deepseek": _ProviderState(), "perplexity": _ProviderState()}

    def inject(self, provider: str, *faults: Fault) -> None:
        """Queue faults for the next requests to `provider`."""
        with self._lock:
            self._state[provider].faults.extend(faults)

    def calls(self, provider: str) -> int:
        """Requests `provider` received so far."""
        with self._lock:
            return self._state[provider].calls

    def last_body(self, provider: str) -> dict[str, Any] | None:
        """The last request body `provider` received."""
        with self._lock:
            bodies = self._state[provider].bodies
            return bodies[-1] if bodies else None

    def reset(self) -> None:
        """Forget faults and counters."""
        with self._lock:
            for state in self._state.values():
                state.faults.clear()
                state.calls = 0
                state.bodies.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        provider = (
            "deepseek"
            if path.startswith("/deepseek/")
            else "perplexity"
            if path.startswith("/perplexity/")
            else None
        )
        if provider is None or scope["method"] != "POST":
            await _json(send, 404, {"error": {"message": f"no route {scope['method']} {path}"}})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = json.loads(raw or b"{}")
        with self._lock:
            state = self._state[provider]
            state.calls += 1
            state.bodies.append(body)
            fault = state.faults.popleft() if state.faults else None
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await _json(
                send,
                401,
                {
                    "error": {
                        "message": "Authentication Fails (invalid key)",
                        "type": "authentication_error",
                    }
                },
            )
            return
        await self._respond(provider, path, body, fault, send)

    async def _respond(
        self, provider: str, path: str, body: dict[str, Any], fault: Fault | None, send: Send
    ) -> None:
        if fault is not None and fault.kind == "status":
            extra = (
                {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            await _json(
                send,
                fault.status,
                {"error": {"message": f"injected {fault.status}", "type": "injected"}},
                extra,
            )
            return
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if path.endswith("/responses"):
            unknown = sorted(set(body) - _AGENT_FIELDS)
            if unknown:
                await _json(
                    send,
                    400,
                    {
                        "error": {
                            "message": f'unknown field "{unknown[0]}"',
                            "type": "invalid_request",
                        }
                    },
                )
                return
            payload = _agent_response(body, fault)
        elif path.endswith("/chat/completions"):
            if provider == "deepseek" and body.get("model") not in _DEEPSEEK_MODELS:
                await _json(
                    send,
                    400,
                    {
                        "error": {
                            "message": f"Model Not Exist: {body.get('model')}",
                            "type": "invalid_request_error",
                        }
                    },
                )
                return
            payload = _chat_response(provider, body, fault)
        else:
            await _json(send, 404, {"error": {"message": f"no route {path}"}})
            return
        if fault is not None and fault.kind == "drip":
            await _drip(send, payload, fault.seconds, fault.retry_after or 0.1)
            return
        await _json(send, 200, payload)


def _example(text: str) -> str:
    """The JSON example our system prompt embeds, so JSON answers always validate."""
    if _EXAMPLE_MARKER in text:
        return text.split(_EXAMPLE_MARKER, 1)[1].strip()
    return json.dumps({"summary": "ok"})


def _answer_text(system: str, structured: bool, fault: Fault | None) -> str:
    if fault is not None and fault.kind == "blank":
        return "   \n  "
    if fault is not None and fault.kind == "invalid_json":
        return "Sure! Here is my analysis: the strategy is fine."
    if structured:
        return _example(system)
    return "A fake answer from the loopback server. RSI uses Wilder's smoothing."


def _chat_response(provider: str, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
    messages = body.get("messages") or []
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    structured = (body.get("response_format") or {}).get(
        "type"
    ) == "json_object" or _EXAMPLE_MARKER in system
    content = _answer_text(system, structured, fault)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if (body.get("thinking") or {}).get("type") == "enabled":
        message["reasoning_content"] = "Let me check the metrics one by one."
    prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
    hit = prompt // 2
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": 50,
        "total_tokens": prompt + 50,
        "prompt_tokens_details": {"cached_tokens": hit},
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": prompt - hit,
    }
    response: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
    }
    if provider == "perplexity":
        response["search_results"] = _SOURCES
        response["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": 50,
            "total_tokens": prompt + 50,
            "cost": {"total_cost": 0.0061},
        }
    return response


def _agent_response(body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
    instructions = str(body.get("instructions") or "")
    structured = body.get("response_format") is not None
    text = _answer_text(instructions, structured, fault)
    status = "failed" if fault is not None and fault.kind == "failed" else "completed"
    searched = any(
        isinstance(t, dict) and t.get("type") == "web_search" for t in body.get("tools") or []
    )
    output: list[dict[str, Any]] = []
    if searched:
        output.append(
            {"type": "search_results", "id": "sr_1", "results": _SOURCES, "queries": ["fake query"]}
        )
    output.append(
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
    )
    response: dict[str, Any] = {
        "id": "resp_fake",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": body.get("model", "unknown"),
        "output": output if status == "completed" else [],
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 120,
            "output_tokens": 60,
            "total_tokens": 180,
            "cost": {"total_cost": 0.0071, "currency": "USD"},
        },
    }
    if status == "failed":
        response["error"] = {"code": "server_error", "message": "the agent run failed"}
    return response


async def _json(
    send: Send, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(payload).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


async def _drip(send: Send, payload: dict[str, Any], seconds: float, interval: float) -> None:
    # DeepSeek under load: headers at once, then blank lines until inference starts.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            await send({"type": "http.response.body", "body": b"\n", "more_body": True})
            await asyncio.sleep(interval)
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})
    except OSError:  # the client hung up (our deadline fired): nothing to finish
        return


def deepseek_url(base: str) -> str:
    """DeepSeekConfig.base_url for a FakeProviders served at `base` (http://host:port)."""
    return f"{base}/deepseek"


def perplexity_url(base: str) -> str:
    """PerplexityConfig.base_url for a FakeProviders served at `base`."""
    return f"{base}/perplexity/v1"
