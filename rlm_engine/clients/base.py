"""What every model client offers the loop: a stream of text, thinking and usage.

Clients wrap the official SDKs. An SDK client holds an HTTP connection pool bound to the event
loop that created it, and the sync `RLM.completion()` runs a fresh loop per call, so each
client builds its SDK object lazily, once per running loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Optional, Union

from ..config import RunConfig
from ..errors import BackendError, BackendErrorKind
from ..usage import Usage


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class ThinkingChunk:
    text: str


StreamItem = Union[TextChunk, ThinkingChunk, Usage]


@dataclass
class Completion:
    text: str = ""
    thinking: str = ""
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0


@dataclass
class ClientOptions:
    """Generation settings shared by the client families (each uses what it understands).
    The defaults, and what each one means, are RunConfig's (config.py)."""

    temperature: Optional[float] = RunConfig.temperature
    think: Optional[bool] = RunConfig.think
    num_ctx: Optional[int] = RunConfig.num_ctx  # Ollama only
    max_tokens: int = RunConfig.reply_max_tokens  # per reply
    thinking_budget: int = RunConfig.thinking_budget  # Anthropic only
    timeout: Optional[float] = RunConfig.request_timeout  # seconds per request
    max_retries: int = RunConfig.max_retries

    @classmethod
    def from_config(cls, config: RunConfig) -> "ClientOptions":
        return cls(temperature=config.temperature, think=config.think, num_ctx=config.num_ctx,
                   max_tokens=config.reply_max_tokens, thinking_budget=config.thinking_budget,
                   timeout=config.request_timeout, max_retries=config.max_retries)


def one_line(text: object, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChatClient(ABC):
    """A chat model behind one backend. `label` names it in usage tables and events."""

    provider: str = ""

    def __init__(self, model: str, label: str, options: Optional[ClientOptions] = None) -> None:
        self.model = model
        self.label = label
        self.options = options or ClientOptions()
        self._sdk: Any = None
        self._sdk_loop: Optional[asyncio.AbstractEventLoop] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    # -- SDK object per event loop ---------------------------------------------------------
    def sdk(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            self._sdk = self._make_sdk()
            self._sdk_loop = loop
        return self._sdk

    @abstractmethod
    def _make_sdk(self) -> Any: ...

    def secrets(self) -> tuple[str, ...]:
        """Strings this client holds that must never be written anywhere (its API key)."""
        return ()

    # -- streaming -------------------------------------------------------------------------
    @abstractmethod
    def _raw_stream(self, messages: list[dict]) -> AsyncIterator[StreamItem]:
        """Yield chunks from the SDK; library exceptions pass through."""

    @abstractmethod
    def _describe(self, exc: BaseException) -> str:
        """One line for a library exception raised before anything streamed."""

    @abstractmethod
    def _where(self) -> str:
        """The backend's address, for messages (no credentials)."""

    def _kind(self, exc: BaseException) -> BackendErrorKind:
        """What kind of failure a library exception is (families refine this)."""
        return status_kind(getattr(exc, "status_code", None)) or "other"

    def _describe_midway(self, exc: BaseException) -> str:
        """One line for a failure after part of the reply arrived: whatever the library calls
        it (a protocol error, a connection error), the backend dropped the stream."""
        status = getattr(exc, "status_code", None)
        if status:
            return self._describe(exc)
        return f"{self.provider} at {self._where()} closed the connection mid-reply"

    async def stream(self, messages: list[dict]) -> AsyncGenerator[StreamItem, None]:
        """Stream a reply. `messages` are {"role", "content"}; a system message may lead.

        Raises BackendError (with the text streamed so far in ``partial``) on any failure.
        """
        partial: list[str] = []
        received = False
        try:
            async for item in self._raw_stream(messages):
                received = True
                if isinstance(item, TextChunk):
                    partial.append(item.text)
                yield item
        except (BackendError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:  # noqa: BLE001 - every library error becomes one line
            message = self._describe_midway(exc) if received else self._describe(exc)
            kind = self._kind(exc)
            if received and getattr(exc, "status_code", None) is None:
                kind = "dropped"
            if partial:
                message += f" (after {len(''.join(partial))} characters of reply)"
            raise BackendError(message, partial="".join(partial), model=self.label,
                               kind=kind) from exc

    async def complete(self, messages: list[dict]) -> Completion:
        """The whole reply at once (sub-calls use this)."""
        start = time.perf_counter()
        out = Completion()
        text: list[str] = []
        thinking: list[str] = []
        async for item in self.stream(messages):
            if isinstance(item, TextChunk):
                text.append(item.text)
            elif isinstance(item, ThinkingChunk):
                thinking.append(item.text)
            else:
                out.usage = item
        out.text = "".join(text)
        out.thinking = "".join(thinking)
        out.seconds = time.perf_counter() - start
        return out

    async def probe(self) -> Optional[str]:
        """Check the backend and model cheaply, before a run. None when fine (or when the
        family has no cheap check), else one line saying what is wrong and what to do."""
        return None

    async def list_models(self) -> list[str]:
        """The names of the models this backend offers (what `/model` lists), sorted.
        Raises BackendError with one line when the backend cannot say."""
        raise BackendError(f"{self.provider} does not list its models here", model=self.label)

    @property
    def spec_prefix(self) -> str:
        """What goes before a listed model name to make a spec for this same backend
        ("openai:", "http://gpu:11434/", or "" for the local Ollama)."""
        return self.label[: -len(self.model)] if self.label.endswith(self.model) else ""

    async def aclose(self) -> None:
        sdk, self._sdk = self._sdk, None
        if sdk is None:
            return
        closer = getattr(sdk, "close", None) or getattr(sdk, "aclose", None)
        if closer is not None:
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def split_system(messages: list[dict]) -> tuple[str, list[dict]]:
    """Pull system messages out (Anthropic takes them apart from the turns)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    return system, [m for m in messages if m["role"] != "system"]


def api_error_message(exc: Any) -> str:
    """The human message inside an OpenAI/Anthropic SDK status error's JSON body."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", exc))


def status_kind(status: Any) -> Optional[BackendErrorKind]:
    """The kind of an HTTP error status (None when there is no status)."""
    if not isinstance(status, int):
        return None
    kinds: dict[int, BackendErrorKind] = {401: "auth", 404: "not_found", 429: "rate_limit"}
    return kinds.get(status, "status")


def sdk_error_kind(sdk: Any, exc: BaseException) -> BackendErrorKind:
    """The kind of an error from the `openai` or `anthropic` package (see describe_sdk_error)."""
    if isinstance(exc, sdk.APITimeoutError):
        return "timeout"
    if isinstance(exc, sdk.APIConnectionError):
        return "unreachable"
    return status_kind(getattr(exc, "status_code", None)) or "other"


def describe_sdk_error(sdk: Any, exc: BaseException, *, provider: str, where: str,
                       key_env: str, model: str) -> str:
    """One line for an error from the `openai` or `anthropic` package: both are generated
    from one template and share these exception classes, so one ladder serves both."""
    if isinstance(exc, sdk.APITimeoutError):
        return f"{provider} at {where} timed out"
    if isinstance(exc, sdk.APIConnectionError):
        return (f"cannot reach {provider} at {where}: check the network or "
                f"{provider.upper()}_BASE_URL")
    if isinstance(exc, sdk.AuthenticationError):
        return f"{provider} rejected the API key: check {key_env}"
    detail = one_line(api_error_message(exc))
    if isinstance(exc, sdk.NotFoundError):
        return f"model '{model}' not found at {provider}: {detail}"
    if isinstance(exc, sdk.RateLimitError):
        return f"{provider} rate limit hit: {detail}"
    if isinstance(exc, sdk.APIStatusError):
        return f"{provider} answered {exc.status_code}: {detail}"
    return f"{provider} failed: {type(exc).__name__}: {one_line(exc)}"
