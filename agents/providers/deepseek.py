"""DeepSeek adapter: OpenAI-format chat completions via `openai.AsyncOpenAI`.

- Model IDs come from config (`deepseek-flash`, `deepseek-v4-pro`); the old
  `deepseek-chat`/`deepseek-reasoner` were retired in 2026-07.
- Thinking mode is on by default at the API, so it is always set explicitly:
  `extra_body={"thinking": {"type": "enabled"|"disabled"}}`. The chain of
  thought (`reasoning_content`) is kept apart from the answer.
- JSON mode (`response_format=json_object`) for structured tasks; DeepSeek
  blanks non-JSON output, so blank content is a retryable bad response.
- Usage keeps `prompt_cache_hit_tokens`/`prompt_cache_miss_tokens`, falling
  back to `prompt_tokens_details.cached_tokens`.
- `max_retries=0`: the router is the only retry loop.
"""

from __future__ import annotations

from typing import Any

from agents.config import DeepSeekConfig
from agents.errors import BadResponseError
from agents.prompts import render_messages
from agents.providers._openai_client import OpenAIClientProvider, model_extra
from agents.providers._openai_errors import translate_openai_error
from agents.providers.base import CallOptions, PreparedCall, ProviderResponse, parse_structured
from agents.render import render_output
from agents.result import Usage
from agents.tasks import TaskInput, TaskKind

__all__ = ["DeepSeekProvider", "deepseek_usage"]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def deepseek_usage(usage: Any) -> Usage:
    """Usage with the cache hit/miss split; consistent even when only `cached_tokens` is given."""
    if usage is None:
        return Usage()
    extra = model_extra(usage)
    prompt = _int(getattr(usage, "prompt_tokens", 0))
    completion = _int(getattr(usage, "completion_tokens", 0))
    hit = extra.get("prompt_cache_hit_tokens")
    miss = extra.get("prompt_cache_miss_tokens")
    if hit is None:
        details = getattr(usage, "prompt_tokens_details", None)
        hit = getattr(details, "cached_tokens", None) if details is not None else None
    hit_n = _int(hit)
    miss_n = _int(miss) if miss is not None else max(prompt - hit_n, 0)
    cdetails = getattr(usage, "completion_tokens_details", None)
    reasoning = _int(getattr(cdetails, "reasoning_tokens", 0)) if cdetails is not None else 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cache_hit_tokens=hit_n,
        cache_miss_tokens=miss_n,
        reasoning_tokens=reasoning,
    )


class DeepSeekProvider(OpenAIClientProvider[DeepSeekConfig]):
    """DeepSeek chat completions."""

    name = "deepseek"

    def prepare(self, kind: TaskKind, task: TaskInput, options: CallOptions) -> PreparedCall:
        """Chat completion payload for `task`."""
        cfg = self._config
        structured = kind is not TaskKind.ASK
        thinking = options.thinking if options.thinking is not None else kind in cfg.thinking_kinds
        model = cfg.reasoning_model if kind in cfg.thinking_kinds else cfg.model
        payload: dict[str, Any] = {
            "model": model,
            "messages": render_messages(kind, task, structured),
            "max_tokens": options.max_tokens or cfg.max_tokens,
            "extra_body": {"thinking": {"type": "enabled" if thinking else "disabled"}},
        }
        if thinking:
            # Temperature is ignored in thinking mode; effort is what matters.
            payload["reasoning_effort"] = cfg.reasoning_effort
        else:
            payload["temperature"] = cfg.temperature
        if structured:
            payload["response_format"] = {"type": "json_object"}
        return PreparedCall(
            provider=self.name,
            model=model,
            kind=kind,
            endpoint="/chat/completions",
            payload=payload,
            structured=structured,
        )

    async def send(self, call: PreparedCall) -> ProviderResponse:
        """POST /chat/completions and normalise the answer."""
        import openai  # on first use only: the SDK takes ~0.5 s to import
        try:
            response = await self._get_client().chat.completions.create(**call.payload)
        except openai.APIError as exc:
            raise translate_openai_error(exc, self.name) from None
        if not response.choices:
            raise BadResponseError("no choices in the response", agent=self.name, reason="blank")
        choice = response.choices[0]
        message = choice.message
        finish = choice.finish_reason
        if finish == "insufficient_system_resource":
            raise BadResponseError(
                "finish_reason insufficient_system_resource",
                agent=self.name,
                reason="insufficient_system_resource",
            )
        if finish == "length":
            raise BadResponseError(
                "answer truncated at max_tokens", agent=self.name, reason="truncated"
            )
        if finish == "content_filter":
            raise BadResponseError(
                "answer blocked by the content filter", agent=self.name, reason="content_filter"
            )
        content = message.content or ""
        reasoning = getattr(message, "reasoning_content", None) or model_extra(message).get(
            "reasoning_content"
        )
        output: dict[str, Any] | None = None
        if call.structured:
            output = parse_structured(self.name, call.kind, content)
            text = render_output(call.kind, output)
        else:
            if not content.strip():
                raise BadResponseError("blank content", agent=self.name, reason="blank")
            text = content
        return ProviderResponse(
            text=text,
            output=output,
            model=response.model or call.model,
            usage=deepseek_usage(response.usage),
            reasoning=reasoning if isinstance(reasoning, str) else None,
        )
