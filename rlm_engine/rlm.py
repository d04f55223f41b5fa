"""`RLM`: the library's front door, with the settings users of the Ollama RLM script know.

    rlm = RLM(model="qwen3:4b", recursive_model="qwen3:0.6b", max_iterations=10, think=False)
    result = rlm.completion("Summarise the key events.", context=open("doc.txt").read())

`context` may be a str, a dict/list (any picklable value), or a `pathlib.Path` to a file or
directory, which the REPL worker reads itself (the app never holds a copy). For live events,
iterate `rlm.start(prompt, context)` inside an event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Optional

from .clients import ChatClient, ClientOptions, make_client
from .context import context_source
from .loop import Run
from .repl.session import ReplSession
from .state import RLMResult

DEFAULT_MODEL = "llama3.1:8b"


class RLM:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        recursive_model: Optional[str] = None,
        max_iterations: int = 15,
        think: Optional[bool] = None,
        host: Optional[str] = None,
        num_ctx: int = 131072,
        temperature: float = 0.6,
        root_client: Optional[ChatClient] = None,
        recursive_client: Optional[ChatClient] = None,
        *,
        max_tokens: Optional[int] = None,
        max_timeout: Optional[float] = None,
        max_output_chars: int = 20_000,
        block_timeout: Optional[float] = 120.0,
        memory_mb: int = 4096,
        max_concurrent_subcalls: int = 4,
        max_depth: int = 1,
        max_retries: int = 2,
        save_trajectory: bool = True,
        trajectory_dir: Optional[Path] = None,
        system_prompt: Optional[str] = None,
    ) -> None:
        """Raises ConfigError (one line) for a bad model spec or a missing API key."""
        self.max_iterations = max(1, int(max_iterations))
        self.think = think
        self.host = host
        self.num_ctx = num_ctx
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_timeout = max_timeout
        self.max_output_chars = max_output_chars
        self.block_timeout = block_timeout
        self.memory_mb = memory_mb
        self.max_concurrent_subcalls = max_concurrent_subcalls
        self.max_depth = max(1, int(max_depth))
        self.save_trajectory = save_trajectory
        self.trajectory_dir = trajectory_dir
        self.system_prompt = system_prompt
        self.options = ClientOptions(temperature=temperature, think=think, num_ctx=num_ctx,
                                     max_retries=max_retries)
        self._extra_clients: dict[str, ChatClient] = {}
        self.root_client = root_client or make_client(model, host=host, options=self.options)
        if recursive_client is not None:
            self.recursive_client = recursive_client
        elif recursive_model:
            self.recursive_client = make_client(recursive_model, host=host, options=self.options)
        elif root_client is not None:
            self.recursive_client = root_client
        else:
            self.recursive_client = make_client(model, host=host, options=self.options)

    @property
    def model(self) -> str:
        return self.root_client.label

    @property
    def recursive_model(self) -> str:
        return self.recursive_client.label

    def client_for(self, spec: str) -> ChatClient:
        """A client for `llm_query(prompt, model=spec)` inside the REPL (cached)."""
        if spec in (self.root_client.label, self.recursive_client.label):
            return self.root_client if spec == self.root_client.label else self.recursive_client
        if spec not in self._extra_clients:
            self._extra_clients[spec] = make_client(spec, host=self.host, options=self.options)
        return self._extra_clients[spec]

    def secrets(self) -> list[str]:
        keys = []
        for c in (self.root_client, self.recursive_client, *self._extra_clients.values()):
            key = getattr(c, "_api_key", None)
            if key:
                keys.append(key)
        return keys

    def settings(self) -> dict:
        return {
            "max_iterations": self.max_iterations, "think": self.think, "num_ctx": self.num_ctx,
            "temperature": self.temperature, "max_tokens": self.max_tokens,
            "max_timeout": self.max_timeout, "max_output_chars": self.max_output_chars,
            "block_timeout": self.block_timeout, "max_depth": self.max_depth,
            "memory_mb": self.memory_mb, "max_concurrent_subcalls": self.max_concurrent_subcalls,
        }

    # -- running ---------------------------------------------------------------------------
    def start(self, prompt: str, context: Any = None, *,
              repl: Optional[ReplSession] = None) -> Run:
        """Start a run in the running event loop; iterate it for events, `await run.wait()`
        for the result, `run.cancel()` to stop it. With `repl`, the run uses (and keeps) that
        worker; `context=None` then keeps the context it already holds."""
        source = None if (repl is not None and context is None) else context_source(context)
        return Run(self, prompt, source, repl=repl).start()

    async def acompletion(self, prompt: str, context: Any = None) -> RLMResult:
        return await self.start(prompt, context).wait()

    def completion(self, prompt: str, context: Any = None) -> RLMResult:
        """Run to the end and return the result (never raises for backend or code errors:
        see `result.status` and `result.error`)."""

        async def go() -> RLMResult:
            try:
                return await self.acompletion(prompt, context)
            finally:
                await self.aclose()

        return asyncio.run(go())

    async def aclose(self) -> None:
        for c in {id(c): c for c in (self.root_client, self.recursive_client,
                                     *self._extra_clients.values())}.values():
            await c.aclose()
