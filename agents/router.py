"""MCPRouter: task kind -> agent chain, with retries, fallback, breakers, cost and replay.

For each agent of the chain, in order:
1. build the agent's own payload (a fallback never replays another provider's payload);
2. in replay/offline (or live with a TTL) serve a cached response if there is one;
3. skip agents without a key, and agents whose breaker is open;
4. call it inside one tenacity loop (SDK retries are off), each attempt under a
   total deadline (`asyncio.timeout`), since keep-alive lines reset read timeouts;
5. on success: close the breaker, record the response, return;
   on a fall-back error or exhausted retries: open the breaker by reason, next agent;
   on a fatal error (400/422): raise FatalRequestError at once.
`local` ends every chain and always answers; it answers with `degraded=True`
when a configured remote agent of the chain failed or was open.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from agents.breaker import CircuitBreaker
from agents.cache import CacheBackend, MemoryCache, cache_key
from agents.classify import Verdict, classify
from agents.config import RouterConfig, RouterMode
from agents.cost import compute_cost
from agents.errors import FatalRequestError, ProviderError, ReplayMissError
from agents.outputs import AskAnswer
from agents.providers.base import CallOptions, PreparedCall, ProviderResponse, RemoteProvider
from agents.providers.deepseek import DeepSeekProvider
from agents.providers.local import LocalAgent
from agents.providers.perplexity import PerplexityProvider
from agents.result import AgentResult, Attempt
from agents.retry import build_retrying
from agents.tasks import TaskInput, TaskKind, parse_task_input

__all__ = ["AgentStatus", "MCPRouter", "RouterStatus"]

log = logging.getLogger(__name__)


class AgentStatus(BaseModel):
    """One agent in `router status`."""

    name: str
    configured: bool
    model: str | None
    breaker: str
    breaker_reason: str | None = None
    retry_in_s: float | None = None
    calls: int = 0
    failures: int = 0
    answers: int = 0
    cost_usd: float = 0.0


class RouterStatus(BaseModel):
    """Agents, breakers and cost so far."""

    mode: str
    agents: list[AgentStatus] = Field(default_factory=list)
    requests: int = 0
    total_cost_usd: float = 0.0


@dataclass
class _Stats:
    calls: int = 0
    failures: int = 0
    answers: int = 0
    cost_usd: float = 0.0


# Modes that answer from recorded responses only: a miss moves on without calling anyone.
_CACHE_ONLY = (RouterMode.REPLAY, RouterMode.OFFLINE)


@dataclass
class _Trail:
    """What one request went through so far, handed from agent to agent."""

    attempts: list[Attempt] = field(default_factory=list)
    remote_failed: bool = False  # a configured remote agent failed or was open: answer is degraded

    def skip(self, agent: str, model: str, why: str, detail: str | None = None) -> None:
        """Record an agent passed over without a call."""
        self.attempts.append(
            Attempt(agent=agent, model=model, outcome="skipped", error_class=why, detail=detail)
        )


class _FallBack(Exception):
    """Internal: this agent is done for this request; try the next one."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.error_class)
        self.verdict = verdict


class MCPRouter:
    """Routes typed tasks to DeepSeek, Perplexity or the local analyst.

    `providers` replaces the remote adapters (tests, other vendors); `http_client`
    (an httpx2.AsyncClient) is injected into the default adapters; `clock`,
    `sleep` and `rng` make timing and jitter controllable.
    """

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        cache: CacheBackend | None = None,
        providers: Mapping[str, RemoteProvider] | None = None,
        http_client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or RouterConfig()
        self.cache: CacheBackend = cache if cache is not None else MemoryCache()
        deadline = self.config.retry.attempt_deadline
        self._providers: dict[str, RemoteProvider] = (
            dict(providers)
            if providers is not None
            else {
                "deepseek": DeepSeekProvider(
                    self.config.deepseek, http_client=http_client, timeout=deadline
                ),
                "perplexity": PerplexityProvider(
                    self.config.perplexity, http_client=http_client, timeout=deadline
                ),
            }
        )
        self._local = LocalAgent()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._breakers = {
            name: CircuitBreaker(name, self.config.breaker, clock) for name in self._providers
        }
        self._stats = {name: _Stats() for name in [*self._providers, "local"]}
        self._requests = 0

    async def __aenter__(self) -> MCPRouter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the providers' network clients."""
        for provider in self._providers.values():
            await provider.aclose()

    def breaker(self, agent: str) -> CircuitBreaker:
        """The circuit breaker of a remote agent."""
        return self._breakers[agent]

    def chain_for(self, kind: TaskKind | str, agent: str | None = None) -> tuple[str, ...]:
        """The agent chain a task of `kind` would use (`agent` forces one agent, then local)."""
        if agent and agent != "auto":
            return self.config.normalise_chain((agent,), where="agent")
        return self.config.routing[TaskKind(kind)]

    async def ask(
        self, question: str, *, kind: TaskKind | str = TaskKind.ASK, agent: str | None = None
    ) -> AgentResult:
        """Free-form question (or a kind whose input has a single `question`-like field)."""
        return await self.run(kind, {"question": question}, agent=agent)

    async def run(
        self,
        kind: TaskKind | str,
        task: TaskInput | dict[str, Any],
        *,
        agent: str | None = None,
        chain: Sequence[str] | None = None,
        options: CallOptions | None = None,
    ) -> AgentResult:
        """Answer one task through its chain. Raises InvalidTaskError, FatalRequestError, ReplayMissError."""
        parsed = parse_task_input(kind, task)
        task_kind = TaskKind(kind)
        agents = (
            self.config.normalise_chain(tuple(chain), where="chain")
            if chain
            else self.chain_for(task_kind, agent)
        )
        options = options or CallOptions()
        self._requests += 1
        trail = _Trail()
        for name in agents:
            if name == "local":
                break
            result = await self._try_agent(name, task_kind, parsed, options, trail)
            if result is not None:
                return result
        return await self._answer_locally(
            task_kind, parsed, agents, trail.attempts, trail.remote_failed
        )

    async def _try_agent(
        self, name: str, kind: TaskKind, task: TaskInput, options: CallOptions, trail: _Trail
    ) -> AgentResult | None:
        """One remote agent's turn: its (cached) answer, or None to move on to the next agent."""
        provider = self._providers[name]
        call = provider.prepare(kind, task, options)
        key = cache_key(call.provider, call.model, call.payload)
        mode = self.config.mode
        if mode in _CACHE_ONLY or (mode is RouterMode.LIVE and self.config.cache_ttl_s > 0):
            hit = await self._cache_get(key)
            if hit is not None:
                trail.attempts.append(
                    Attempt(agent=name, model=hit.model, outcome="ok", cached=True)
                )
                self._stats[name].answers += 1
                return self._result(
                    kind, name, hit, trail.attempts, degraded=False, cost=0.0, cached=True
                )
            if mode in _CACHE_ONLY:
                trail.skip(name, call.model, "CacheMiss")
                return None
        if not provider.configured:
            trail.skip(name, call.model, "NotConfigured")
            return None
        breaker = self._breakers[name]
        if not breaker.allow():
            trail.skip(name, call.model, "CircuitOpen", detail=breaker.snapshot().reason)
            trail.remote_failed = True
            return None
        try:
            response = await self._call(provider, call, trail.attempts)
        except _FallBack as fb:
            breaker.record_failure(fb.verdict)
            trail.remote_failed = True
            log.warning("agent %s failed (%s); falling back", name, fb.verdict.error_class)
            return None
        breaker.record_success()
        await self._remember(key, response)
        cost = compute_cost(name, response.model, response.usage, self.config.prices)
        self._stats[name].answers += 1
        self._stats[name].cost_usd += cost
        return self._result(
            kind, name, response, trail.attempts, degraded=False, cost=cost, cached=False
        )

    async def _remember(self, key: str, response: ProviderResponse) -> None:
        """Store a fresh answer: forever when recording, for the TTL in live mode."""
        if self.config.mode is RouterMode.RECORD:
            await self.cache.set(key, response.model_dump_json())
        elif self.config.mode is RouterMode.LIVE and self.config.cache_ttl_s > 0:
            await self.cache.set(key, response.model_dump_json(), ttl=self.config.cache_ttl_s)

    async def _answer_locally(
        self,
        kind: TaskKind,
        task: TaskInput,
        agents: tuple[str, ...],
        attempts: list[Attempt],
        remote_failed: bool,
    ) -> AgentResult:
        mode = self.config.mode
        route = self._route_key(kind, task, agents)
        if mode is RouterMode.REPLAY and any(a != "local" for a in agents):
            recorded = await self.cache.get(route)
            if recorded is None:
                raise ReplayMissError(
                    f"replay: no recorded response for this {kind.value} task (chain {', '.join(agents)}); "
                    "run it once with ROUTER_MODE=record",
                    key=route,
                )
            remote_failed = json.loads(recorded).get("degraded", False)
        started = self._clock()
        response = self._local.answer(kind, task)
        attempts.append(
            Attempt(
                agent="local",
                model=response.model,
                outcome="ok",
                latency_ms=(self._clock() - started) * 1000,
            )
        )
        if mode is RouterMode.RECORD:
            # Replay must reproduce "local answered" too, not only remote answers.
            await self.cache.set(route, json.dumps({"agent": "local", "degraded": remote_failed}))
        self._stats["local"].answers += 1
        result = self._result(
            kind, "local", response, attempts, degraded=remote_failed, cost=0.0, cached=False
        )
        if remote_failed:
            log.warning("task %s answered by the local analyst (degraded)", kind.value)
        return result

    async def _call(
        self, provider: RemoteProvider, call: PreparedCall, attempts: list[Attempt]
    ) -> ProviderResponse:
        """The tenacity loop for one agent; raises _FallBack or FatalRequestError."""
        name = provider.name
        stats = self._stats[name]
        retrying = build_retrying(self.config.retry, sleep=self._sleep, rng=self._rng)
        deadline = self.config.retry.attempt_deadline
        try:
            async for attempt in retrying:
                with attempt:
                    started = self._clock()
                    stats.calls += 1
                    try:
                        async with asyncio.timeout(deadline):
                            response = await provider.send(call)
                    except Exception as exc:
                        verdict = classify(exc)
                        stats.failures += 1
                        attempts.append(
                            Attempt(
                                agent=name,
                                model=call.model,
                                outcome=verdict.action,
                                error_class=verdict.error_class,
                                status=getattr(exc, "status", None),
                                detail=_detail(exc),
                                latency_ms=(self._clock() - started) * 1000,
                            )
                        )
                        raise
                    attempts.append(
                        Attempt(
                            agent=name,
                            model=response.model,
                            outcome="ok",
                            latency_ms=(self._clock() - started) * 1000,
                        )
                    )
                    return response
        except Exception as exc:
            verdict = classify(exc)
            if verdict.action == "fatal":
                if isinstance(exc, ProviderError):
                    raise FatalRequestError(
                        f"{name} rejected our request as malformed (HTTP {exc.status}): {exc}. "
                        f"This is a bug in agents/providers/{name}.py (a field or value the API does not accept), "
                        "not an outage, so it is not retried or hidden behind another agent.",
                        agent=name,
                        status=exc.status,
                    ) from None
                raise
            raise _FallBack(verdict) from exc
        raise AssertionError("tenacity loop ended without result")  # pragma: no cover

    async def _cache_get(self, key: str) -> ProviderResponse | None:
        raw = await self.cache.get(key)
        if raw is None:
            return None
        try:
            return ProviderResponse.model_validate_json(raw)
        except ValueError:
            log.warning("ignoring a corrupt cache entry")
            return None

    @staticmethod
    def _route_key(kind: TaskKind, task: TaskInput, agents: tuple[str, ...]) -> str:
        canonical = json.dumps(
            {"kind": kind.value, "task": task.model_dump(mode="json"), "chain": agents},
            sort_keys=True,
            separators=(",", ":"),
        )
        return "agents:route:" + hashlib.sha256(canonical.encode()).hexdigest()

    def _result(
        self,
        kind: TaskKind,
        agent: str,
        response: ProviderResponse,
        attempts: list[Attempt],
        *,
        degraded: bool,
        cost: float,
        cached: bool,
    ) -> AgentResult:
        output = response.output
        if output is None and kind is TaskKind.ASK:
            output = AskAnswer(
                summary=response.text.strip().split("\n", 1)[0][:200], answer=response.text
            ).model_dump()
        return AgentResult(
            task=kind.value,
            text=response.text,
            output=output,
            sources=response.sources,
            agent=agent,
            model=response.model,
            attempts=attempts,
            usage=response.usage,
            cost_usd=cost,
            degraded=degraded,
            cached=cached,
            untrusted=agent != "local",
            reasoning=response.reasoning,
        )

    def status(self) -> RouterStatus:
        """Agents, breaker states and cost so far, for `router status` and /metrics."""
        models = {
            "deepseek": self.config.deepseek.model,
            "perplexity": self.config.perplexity.model,
        }
        rows = []
        for name, provider in self._providers.items():
            snap = self._breakers[name].snapshot()
            s = self._stats[name]
            rows.append(
                AgentStatus(
                    name=name,
                    configured=provider.configured,
                    model=models.get(name),
                    breaker=snap.state,
                    breaker_reason=snap.reason,
                    retry_in_s=snap.retry_in,
                    calls=s.calls,
                    failures=s.failures,
                    answers=s.answers,
                    cost_usd=s.cost_usd,
                )
            )
        local = self._stats["local"]
        rows.append(
            AgentStatus(
                name="local",
                configured=True,
                model="local-analyst-1",
                breaker="closed",
                answers=local.answers,
            )
        )
        return RouterStatus(
            mode=self.config.mode.value,
            agents=rows,
            requests=self._requests,
            total_cost_usd=sum(r.cost_usd for r in rows),
        )


def _detail(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
