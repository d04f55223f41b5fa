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

from .clients import ChatClient
from .clients.client_set import ClientSet
from .config import DEFAULT_MODEL, RunConfig
from .context import context_source
from .loop import Run
from .repl.sandbox import SandboxConfig, SandboxState, SandboxUnavailable, state_for
from .repl.session import ReplSession
from .state import RLMResult

__all__ = ["RLM", "DEFAULT_MODEL"]

_D = RunConfig  # the defaults below are RunConfig's, read, never written here


class RLM:
    """The front door: a `RunConfig` (`rlm.config`) and the clients it names (`rlm.clients`)."""

    def __init__(
        self,
        model: str = _D.model,
        recursive_model: Optional[str] = _D.recursive_model,
        max_iterations: int = _D.max_iterations,
        think: Optional[bool] = _D.think,
        host: Optional[str] = _D.host,
        num_ctx: int = _D.num_ctx,
        temperature: float = _D.temperature,
        root_client: Optional[ChatClient] = None,
        recursive_client: Optional[ChatClient] = None,
        *,
        max_tokens: Optional[int] = _D.max_tokens,
        max_timeout: Optional[float] = _D.max_timeout,
        max_output_chars: int = _D.max_output_chars,
        block_timeout: Optional[float] = _D.block_timeout,
        memory_mb: int = _D.memory_mb,
        max_concurrent_subcalls: int = _D.max_concurrent_subcalls,
        max_depth: int = _D.max_depth,
        max_retries: int = _D.max_retries,
        save_trajectory: bool = _D.save_trajectory,
        trajectory_dir: Optional[Path] = _D.trajectory_dir,
        system_prompt: Optional[str] = _D.system_prompt,
        config: Optional[RunConfig] = None,
        sandbox: Optional[SandboxConfig] = None,
    ) -> None:
        """Raises ConfigError (one line) for a bad model spec or a missing API key. With
        `config`, that config is used as it is and the other settings are ignored."""
        self.config = config or RunConfig(
            model=model, recursive_model=recursive_model, max_iterations=max_iterations,
            think=think, host=host, num_ctx=num_ctx, temperature=temperature,
            max_tokens=max_tokens, max_timeout=max_timeout, max_output_chars=max_output_chars,
            block_timeout=block_timeout, memory_mb=memory_mb,
            max_concurrent_subcalls=max_concurrent_subcalls, max_depth=max_depth,
            max_retries=max_retries, save_trajectory=save_trajectory,
            trajectory_dir=trajectory_dir, system_prompt=system_prompt, sandbox=sandbox)
        self.clients = ClientSet(self.config, root_client, recursive_client)

    @classmethod
    def from_config(cls, config: RunConfig) -> "RLM":
        return cls(config=config)

    @property
    def root_client(self) -> ChatClient:
        return self.clients.root

    @property
    def recursive_client(self) -> ChatClient:
        return self.clients.recursive

    @property
    def sandbox(self) -> SandboxConfig:
        """Where this RLM's model code runs (the config's, else from the environment)."""
        return self.config.sandbox if self.config.sandbox is not None \
            else SandboxConfig.from_env()

    def sandbox_state(self) -> SandboxState:
        """What this RLM's model code runs in (bwrap probed once per process, cached)."""
        try:
            return state_for(self.sandbox)
        except SandboxUnavailable as exc:
            return SandboxState(False, str(exc))

    @property
    def model(self) -> str:
        return self.clients.root.label

    @property
    def recursive_model(self) -> str:
        return self.clients.recursive.label

    # -- running ---------------------------------------------------------------------------
    def start(self, prompt: str, context: Any = None, *,
              repl: Optional[ReplSession] = None) -> Run:
        """Start a run in the running event loop; iterate it for events, `await run.wait()`
        for the result, `run.cancel()` to stop it. With `repl`, the run uses (and keeps) that
        worker; `context=None` then keeps the context it already holds."""
        source = None if (repl is not None and context is None) else context_source(context)
        return Run(self.config, self.clients, prompt, source, repl=repl).start()

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
        await self.clients.aclose()
