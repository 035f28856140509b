"""The OpenAI SDK client both remote providers talk through, created lazily.

DeepSeek and Perplexity differ in payloads and parsing, not in how the client
is built: one key, one base URL, the SDK's own retries off (the router is the
only retry loop), an optional injected HTTP client for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import openai


def model_extra(obj: Any) -> dict[str, Any]:
    """Fields the SDK did not model (provider extensions), as a plain dict."""
    extra = getattr(obj, "model_extra", None)
    return dict(extra) if isinstance(extra, dict) else {}


class ClientConfig(Protocol):
    """What building the client needs from a provider's config."""

    @property
    def api_key(self) -> str | None: ...

    @property
    def base_url(self) -> str: ...

    @property
    def configured(self) -> bool: ...


ConfigT = TypeVar("ConfigT", bound=ClientConfig)


class OpenAIClientProvider(Generic[ConfigT]):
    """Client lifecycle shared by the OpenAI-compatible providers; `ConfigT` is the vendor's config."""

    def __init__(
        self, config: ConfigT, *, http_client: Any | None = None, timeout: float = 60.0
    ) -> None:
        self._config = config
        self._client: openai.AsyncOpenAI | None = None
        self._http_client = http_client
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        """True when an API key is set."""
        return bool(self._config.configured)

    def _get_client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai  # here, not at the top: the SDK takes ~0.5 s to import

            self._client = openai.AsyncOpenAI(
                api_key=self._config.api_key,
                base_url=self._config.base_url,
                max_retries=0,
                timeout=self._timeout,
                http_client=self._http_client,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the SDK client."""
        if self._client is not None:
            await self._client.close()
            self._client = None
