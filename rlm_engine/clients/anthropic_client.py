"""Anthropic, through the official `anthropic` package (Messages API, SSE stream).

``think=True`` turns on extended thinking with ``thinking_budget`` tokens; Anthropic requires
the default temperature then, so the temperature setting is not sent with it. Newer releases of
the SDK no longer take ``temperature`` at all (the API stopped accepting sampling settings for
current models); it is sent only when the installed SDK still has the parameter.
"""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Optional

import anthropic

from ..errors import BackendError
from ..specs import redact_url
from ..errors import BackendErrorKind
from ..usage import Usage
from .base import (
    ChatClient, ClientOptions, StreamItem, TextChunk, ThinkingChunk, describe_sdk_error,
    sdk_error_kind,
    split_system,
)


class AnthropicClient(ChatClient):
    provider = "anthropic"

    def __init__(
        self, model: str, *, api_key: str, base_url: Optional[str],
        label: Optional[str] = None, options: Optional[ClientOptions] = None,
    ) -> None:
        super().__init__(model, label or f"anthropic:{model}", options)
        self.base_url = base_url
        self._api_key = api_key

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def _make_sdk(self) -> Any:
        return anthropic.AsyncAnthropic(
            api_key=self._api_key, base_url=self.base_url,
            max_retries=self.options.max_retries, timeout=self.options.timeout,
        )

    async def _raw_stream(self, messages: list[dict]) -> AsyncIterator[StreamItem]:
        system, turns = split_system(messages)
        kwargs: dict[str, Any] = {"max_tokens": self.options.max_tokens}
        if system:
            kwargs["system"] = system
        if self.options.think:
            budget = max(1024, self.options.thinking_budget)
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": budget}
            kwargs["max_tokens"] = max(self.options.max_tokens, budget + 1024)
        elif self.options.temperature is not None and _takes_temperature(self.sdk()):
            kwargs["temperature"] = min(1.0, self.options.temperature)
        stream = await self.sdk().messages.create(
            model=self.model, messages=turns, stream=True, **kwargs
        )
        prompt_tokens = 0
        completion_tokens = 0
        async for event in stream:
            kind = event.type
            if kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta" and delta.text:
                    yield TextChunk(delta.text)
                elif delta.type == "thinking_delta" and delta.thinking:
                    yield ThinkingChunk(delta.thinking)
            elif kind == "message_start":
                usage = event.message.usage
                prompt_tokens = (usage.input_tokens or 0) if usage else 0
                completion_tokens = (usage.output_tokens or 0) if usage else 0
            elif kind == "message_delta" and event.usage is not None:
                completion_tokens = event.usage.output_tokens or completion_tokens
                prompt_tokens = getattr(event.usage, "input_tokens", None) or prompt_tokens
        yield Usage(prompt_tokens, completion_tokens)

    async def list_models(self) -> list[str]:
        """GET /v1/models (Anthropic's Models API, paged)."""
        sdk = self.sdk().with_options(max_retries=0, timeout=15.0)
        try:
            return sorted({m.id async for m in sdk.models.list(limit=1000) if m.id})
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise BackendError(self._describe(exc), model=self.label, kind=self._kind(exc)) from exc

    async def probe(self) -> Optional[str]:
        """GET /v1/models/{model}: Anthropic resolves aliases (claude-haiku-4-5) there too,
        so this is the check; a 404 means the model (or alias) does not exist for this key."""
        sdk = self.sdk().with_options(max_retries=0, timeout=15.0)
        try:
            await sdk.models.retrieve(self.model)
        except anthropic.NotFoundError:
            return (f"model '{self.model}' not found at anthropic ({self._where()}): "
                    f"`/model` lists the models it has")
        except (anthropic.APIConnectionError, anthropic.AuthenticationError) as exc:
            return self._describe(exc)
        except Exception:  # noqa: BLE001 - a gateway without the Models API: not judged
            return None
        return None

    def _where(self) -> str:
        return redact_url(self.base_url) or "its default address"

    def _kind(self, exc: BaseException) -> BackendErrorKind:
        return sdk_error_kind(anthropic, exc)

    def _describe(self, exc: BaseException) -> str:
        return describe_sdk_error(anthropic, exc, provider=self.provider, where=self._where(),
                                  key_env="ANTHROPIC_API_KEY", model=self.model)


_TAKES_TEMPERATURE: dict[type, bool] = {}


def _takes_temperature(sdk: Any) -> bool:
    cls = type(sdk.messages)
    if cls not in _TAKES_TEMPERATURE:
        params = inspect.signature(sdk.messages.create).parameters
        _TAKES_TEMPERATURE[cls] = "temperature" in params
    return _TAKES_TEMPERATURE[cls]
