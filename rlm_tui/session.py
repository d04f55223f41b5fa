"""A chat session's state, apart from any widget: settings, the REPL worker, and its runs.

One REPL worker lives for the whole session, so variables survive from one question to the
next and the context is loaded once; `/clear` starts a new session (new worker, no runs).
Each question is a fresh RLM run (the root model does not see earlier questions' turns,
only what the REPL still holds).
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rich.filesize import pick_unit_and_suffix

from rlm_engine import RLM, ContextSource, ReplSession, SandboxConfig, check_context_path
from rlm_engine.config import RunConfig
from rlm_engine.events import ContextInfo
from rlm_engine.loop import Run
from rlm_engine.repl.session import WorkerDied

from .limits import RUN_LIMITS

# The app's settings are the engine's run config: its defaults are written only there.
Settings = RunConfig


def settings_from_args(args: Namespace) -> RunConfig:
    """From the command line's model flags (cli.add_model_args) and run limits
    (limits.RUN_LIMITS; one not given keeps RunConfig's default)."""
    limits = {name: getattr(args, name) for name in RUN_LIMITS
              if getattr(args, name, None) is not None}
    return RunConfig(model=args.model, recursive_model=args.recursive_model, host=args.host,
                     max_iterations=args.max_iterations, num_ctx=args.num_ctx,
                     temperature=args.temperature, think=args.think,
                     max_tokens=args.max_tokens, max_timeout=args.max_timeout, **limits,
                     sandbox=sandbox_from_args(args))


def sandbox_from_args(args: Namespace) -> Optional[SandboxConfig]:
    """The sandbox flags on top of the environment's settings; None (the environment's, read
    when a worker starts) when no flag was given."""
    flags = {"no_sandbox": getattr(args, "no_sandbox", False),
             "network": getattr(args, "sandbox_network", False),
             "binds": getattr(args, "sandbox_bind", None) or ()}
    if not any(flags.values()):
        return None
    return SandboxConfig.from_env().with_flags(**flags)


def human_size(n: float) -> str:
    """A file or object size in binary units ("1.5 KB"); rich picks the unit. (Not
    rich.filesize.decimal: that counts in 1000s and writes "1,500 bytes" below 1 kB.)"""
    unit, suffix = pick_unit_and_suffix(int(n), ["B", "KB", "MB", "GB"], 1024)
    return f"{n:.0f} B" if unit == 1 else f"{n / unit:.1f} {suffix}"


@dataclass
class Session:
    settings: RunConfig
    rlm: RLM
    repl: ReplSession = field(default_factory=ReplSession)
    runs: list[Run] = field(default_factory=list)
    context_path: Optional[Path] = None
    context_info: Optional[ContextInfo] = None

    @classmethod
    def create(cls, settings: RunConfig) -> "Session":
        """Raises ConfigError (one line) for a bad spec or a missing API key."""
        return cls(settings, RLM.from_config(settings),
                   ReplSession(memory_mb=settings.memory_mb, block_timeout=settings.block_timeout,
                               sandbox=settings.sandbox))

    @property
    def current(self) -> Optional[Run]:
        return self.runs[-1] if self.runs else None

    @property
    def busy(self) -> bool:
        run = self.current
        return run is not None and not run.done

    def context_label(self) -> str:
        info = self.context_info
        if self.context_path is None or info is None:
            return "no context"
        size = human_size(self.context_path.stat().st_size) if self.context_path.is_file() \
            else f"{info.items or 0} files"
        return f"{self.context_path.name} ({size}, {info.kind})"

    async def load_context(self, path: "str | Path") -> ContextInfo:
        """Check and load a file into the worker. On any error the previous context stays
        (raises ContextError or ReplError with a one-line message)."""
        p = check_context_path(path)
        # on failure the REPL session itself restarts with the previous context
        raw = await self._set_context(ContextSource(path=str(p.resolve()), name=p.name))
        self.context_path, self.context_info = p, ContextInfo(**raw)
        return self.context_info

    async def _set_context(self, source: ContextSource) -> dict:
        """Into the worker; a worker that died while idle (killed, out of memory) is replaced
        by a fresh one first, so `/context` works again (its variables were lost already)."""
        try:
            return await self.repl.set_context(source)
        except WorkerDied:
            await self.repl.close()
            return await self.repl.set_context(source)

    def change(self, **changes) -> None:
        """New settings (e.g. another model); raises ConfigError and keeps the old ones."""
        settings = self.settings.with_(**changes)
        rlm = RLM.from_config(settings)
        self.settings, self.rlm = settings, rlm

    def ask(self, prompt: str) -> Run:
        run = self.rlm.start(prompt, None, repl=self.repl)
        self.runs.append(run)
        return run

    async def close(self) -> None:
        run = self.current
        if run is not None and not run.done:
            run.cancel()
            try:
                await run.wait()
            except BaseException:  # noqa: BLE001 - closing is best effort
                pass
        await self.repl.close()
        await self.rlm.aclose()
