"""Ollama, local or remote, through the official `ollama` package (NDJSON /api/chat)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Optional

import httpx
import ollama

from ..errors import BackendError, BackendErrorKind
from ..specs import redact_url
from ..usage import Usage
from .base import (
    ChatClient, ClientOptions, StreamItem, TextChunk, ThinkingChunk, one_line, status_kind,
)


class OllamaClient(ChatClient):
    provider = "ollama"

    def __init__(
        self, model: str, host: str, label: Optional[str] = None,
        options: Optional[ClientOptions] = None,
    ) -> None:
        super().__init__(model, label or model, options)
        self.host = host

    def _make_sdk(self) -> Any:
        timeout = httpx.Timeout(self.options.timeout, connect=10.0)
        return ollama.AsyncClient(host=self.host, timeout=timeout)

    async def _raw_stream(self, messages: list[dict]) -> AsyncIterator[StreamItem]:
        opts: dict[str, Any] = {}
        if self.options.num_ctx:
            opts["num_ctx"] = self.options.num_ctx
        if self.options.temperature is not None:
            opts["temperature"] = self.options.temperature
        if self.options.max_tokens:
            opts["num_predict"] = self.options.max_tokens
        stream = await self.sdk().chat(
            model=self.model, messages=messages, stream=True,
            think=self.options.think, options=opts,
        )
        async for part in stream:
            msg = part.message
            if msg is not None:
                if msg.thinking:
                    yield ThinkingChunk(msg.thinking)
                if msg.content:
                    yield TextChunk(msg.content)
            if part.done:
                yield Usage(part.prompt_eval_count or 0, part.eval_count or 0)

    async def probe(self) -> Optional[str]:
        try:
            await self.sdk().show(self.model)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            return self._describe(exc)
        return None

    async def list_models(self) -> list[str]:
        """GET /api/tags: the models pulled into this Ollama."""
        try:
            listing = await self.sdk().list()
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise BackendError(self._describe(exc), model=self.label, kind=self._kind(exc)) from exc
        return sorted({m.model for m in listing.models if m.model})

    def _where(self) -> str:
        return redact_url(self.host)

    def _kind(self, exc: BaseException) -> BackendErrorKind:
        """The kinds _describe tells apart, in the same order."""
        if isinstance(exc, (ConnectionError, httpx.ConnectError)):
            return "unreachable"
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                return "not_found"
            return status_kind(exc.status_code) or "status"
        if isinstance(exc, httpx.TimeoutException):
            return "timeout"
        return "other"

    def _describe(self, exc: BaseException) -> str:
        where = self._where()
        if isinstance(exc, ConnectionError) or isinstance(exc, httpx.ConnectError):
            return (f"cannot reach Ollama at {where}: start it with `ollama serve`, "
                    f"or pick another model")
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                return (f"model '{self.model}' not found on Ollama at {where}: "
                        f"pull it with `ollama pull {self.model}`")
            return f"Ollama at {where} answered {exc.status_code}: {one_line(exc.error)}"
        if isinstance(exc, httpx.TimeoutException):
            return f"Ollama at {where} timed out"
        return f"Ollama at {where} failed: {type(exc).__name__}: {one_line(exc)}"
