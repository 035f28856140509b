"""Perplexity adapter: the Agent API (`POST /v1/responses`) or legacy Sonar chat.

Agent API (default, `api_style="agent"`):
- `client.responses.create` with `instructions`, `input`, and a `web_search`
  tool carrying the filters (recency, domains); search is not automatic, so
  the tool is always sent and forced for research kinds.
- Sources come from `output[]` items of `type: "search_results"`.
- A run that failed returns HTTP 200 with `status: "failed"`: branch on it.
- Cost is Perplexity's own `usage.cost.total_cost`.
- The schema is strict (unknown field -> 400), so only documented fields are sent.
Legacy (`api_style="sonar"`): chat completions with `search_*` top-level fields.
"""

from __future__ import annotations

from typing import Any

from agents.config import PerplexityConfig
from agents.errors import BadResponseError
from agents.outputs import TASK_OUTPUTS
from agents.prompts import render_system, render_user
from agents.providers._openai_client import OpenAIClientProvider, model_extra
from agents.providers._openai_errors import translate_openai_error
from agents.providers.base import CallOptions, PreparedCall, ProviderResponse, parse_structured
from agents.render import render_output
from agents.result import Source, Usage
from agents.tasks import TaskInput, TaskKind

__all__ = ["PerplexityProvider", "sources_from_results"]

_RESEARCH_KINDS = {TaskKind.INDICATOR_RESEARCH, TaskKind.ASK}


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    value = getattr(obj, key, None)
    return value if value is not None else model_extra(obj).get(key)


def sources_from_results(results: Any) -> list[Source]:
    """Sources from a list of search results (dicts or objects with url/title/snippet/date)."""
    out: list[Source] = []
    seen: set[str] = set()
    for item in results or []:
        url = item if isinstance(item, str) else _get(item, "url")
        if not isinstance(url, str) or url in seen:
            continue
        seen.add(url)
        if isinstance(item, str):
            out.append(Source(url=url))
            continue
        title, snippet, date = _get(item, "title"), _get(item, "snippet"), _get(item, "date")
        out.append(
            Source(
                url=url,
                title=title if isinstance(title, str) else None,
                snippet=snippet[:500] if isinstance(snippet, str) else None,
                date=date if isinstance(date, str) else None,
            )
        )
    return out


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class PerplexityProvider(OpenAIClientProvider[PerplexityConfig]):
    """Perplexity web-grounded research."""

    name = "perplexity"

    def _filters(self) -> dict[str, Any]:
        cfg = self._config
        filters: dict[str, Any] = {}
        if cfg.search_recency:
            filters["search_recency_filter"] = cfg.search_recency
        if cfg.search_domains:
            filters["search_domain_filter"] = list(cfg.search_domains)[:20]
        return filters

    def prepare(self, kind: TaskKind, task: TaskInput, options: CallOptions) -> PreparedCall:
        """Agent API or Sonar payload for `task`."""
        cfg = self._config
        structured = kind is not TaskKind.ASK
        system, user = render_system(kind, structured), render_user(kind, task)
        max_tokens = options.max_tokens or cfg.max_output_tokens
        if cfg.api_style == "sonar":
            style, endpoint = "sonar", "/chat/completions"
            payload = self._sonar_payload(system, user, max_tokens)
        else:
            style, endpoint = "agent", "/responses"
            payload = self._agent_payload(kind, structured, system, user, max_tokens)
        return PreparedCall(
            provider=self.name,
            model=cfg.model,
            kind=kind,
            endpoint=endpoint,
            payload=payload,
            structured=structured,
            extra={"style": style},
        )

    def _sonar_payload(self, system: str, user: str, max_tokens: int) -> dict[str, Any]:
        return {
            "model": self._config.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "max_tokens": max_tokens,
            "extra_body": self._filters(),
        }

    def _agent_payload(
        self, kind: TaskKind, structured: bool, system: str, user: str, max_tokens: int
    ) -> dict[str, Any]:
        tool: dict[str, Any] = {"type": "web_search", "max_results": self._config.max_results}
        filters = self._filters()
        if filters:
            tool["filters"] = filters
        payload: dict[str, Any] = {
            "model": self._config.model,
            "instructions": system,
            "input": user,
            "tools": [tool],
            "max_output_tokens": max_tokens,
        }
        extra_body: dict[str, Any] = {}
        if kind in _RESEARCH_KINDS:
            # Citations matter for research: force the search instead of letting the model skip it.
            extra_body["tool_choice"] = {"type": "web_search"}
        if structured:
            schema = TASK_OUTPUTS[kind].model_json_schema()
            extra_body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"schema": schema},
            }
        if extra_body:
            payload["extra_body"] = extra_body
        return payload

    async def send(self, call: PreparedCall) -> ProviderResponse:
        """Send and normalise; `status: failed` raises BadResponseError (fall back)."""
        import openai  # on first use only: the SDK takes ~0.5 s to import
        try:
            if call.extra.get("style") == "sonar":
                return self._from_chat(
                    call, await self._get_client().chat.completions.create(**call.payload)
                )
            return self._from_responses(
                call, await self._get_client().responses.create(**call.payload)
            )
        except openai.APIError as exc:
            raise translate_openai_error(exc, self.name) from None

    def _finish(
        self, call: PreparedCall, text: str, model: str, usage: Usage, sources: list[Source]
    ) -> ProviderResponse:
        output: dict[str, Any] | None = None
        if call.structured:
            output = parse_structured(self.name, call.kind, text)
            text = render_output(call.kind, output)
        elif not text.strip():
            raise BadResponseError("blank answer", agent=self.name, reason="blank")
        return ProviderResponse(text=text, output=output, model=model, usage=usage, sources=sources)

    def _from_responses(self, call: PreparedCall, response: Any) -> ProviderResponse:
        status = getattr(response, "status", None) or "completed"
        if status != "completed":
            error = getattr(response, "error", None)
            detail = _get(error, "message") if error is not None else None
            raise BadResponseError(
                f"run {status}" + (f": {detail}" if detail else ""),
                agent=self.name,
                reason=str(status),
            )
        sources: list[Source] = []
        searches = 0
        for item in getattr(response, "output", None) or []:
            if _get(item, "type") == "search_results":
                searches += 1
                sources.extend(sources_from_results(_get(item, "results")))
        usage_obj = getattr(response, "usage", None)
        cost = _get(usage_obj, "cost") if usage_obj is not None else None
        usage = Usage(
            prompt_tokens=int(_get(usage_obj, "input_tokens") or 0) if usage_obj is not None else 0,
            completion_tokens=int(_get(usage_obj, "output_tokens") or 0)
            if usage_obj is not None
            else 0,
            search_calls=searches,
            reported_cost_usd=_float(_get(cost, "total_cost")) if cost is not None else None,
        )
        text = getattr(response, "output_text", "") or ""
        return self._finish(
            call, text, getattr(response, "model", None) or call.model, usage, sources
        )

    def _from_chat(self, call: PreparedCall, response: Any) -> ProviderResponse:
        if not response.choices:
            raise BadResponseError("no choices in the response", agent=self.name, reason="blank")
        extra = model_extra(response)
        sources = sources_from_results(extra.get("search_results") or extra.get("citations"))
        u = response.usage
        cost = model_extra(u).get("cost") if u is not None else None
        usage = Usage(
            prompt_tokens=u.prompt_tokens if u else 0,
            completion_tokens=u.completion_tokens if u else 0,
            search_calls=1 if sources else 0,
            reported_cost_usd=_float(_get(cost, "total_cost")) if cost is not None else None,
        )
        text = response.choices[0].message.content or ""
        return self._finish(call, text, response.model or call.model, usage, sources)
