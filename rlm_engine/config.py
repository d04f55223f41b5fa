"""`RunConfig`: every setting, limit and default of a run, written in this one place.

The library's `RLM(...)` keywords, the app's settings, the command line's flags and the model
clients' options all take their defaults from here (`RunConfig.max_iterations` is the default
value), so they cannot drift apart. Frozen: a change is a new config (`config.with_(...)`).

A leaf module: it imports nothing from the engine, so any module may import it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

DEFAULT_MODEL = "llama3.1:8b"


@dataclass(frozen=True)
class RunConfig:
    # models
    model: str = DEFAULT_MODEL
    recursive_model: Optional[str] = None  # None: the root model answers sub-calls too
    host: Optional[str] = None  # Ollama address for plain Ollama specs
    # generation (passed to the clients, see client_options)
    think: Optional[bool] = None  # None: the backend's default
    num_ctx: int = 131072  # Ollama's context window
    temperature: float = 0.6
    max_retries: int = 2  # cloud SDKs retry 429/5xx/connection errors this often
    reply_max_tokens: int = 8192  # per reply; Anthropic requires it, others use it as a cap
    thinking_budget: int = 4096  # Anthropic extended thinking
    request_timeout: Optional[float] = 600.0  # seconds per model request
    # run limits
    max_iterations: int = 15  # root-model turns
    max_tokens: Optional[int] = None  # the whole run tree's token budget
    max_timeout: Optional[float] = None  # seconds for the whole run
    max_output_chars: int = 20_000  # of a block's output, fed back to the model
    block_timeout: Optional[float] = 120.0  # seconds per code block
    memory_mb: int = 4096  # the REPL worker's address-space cap
    max_concurrent_subcalls: int = 4
    max_depth: int = 1  # > 1: rlm_query starts child runs
    # records
    save_trajectory: bool = True
    trajectory_dir: Optional[Path] = None  # None: the data dir's trajectories/
    system_prompt: Optional[str] = None  # None: the built-in RLM prompt
    # where model code runs: a repl.sandbox.SandboxConfig; None: from the environment
    # (RLM_TUI_SANDBOX...). Typed Any so this module stays a leaf.
    sandbox: Any = None

    def __post_init__(self) -> None:
        # the loop needs at least one turn and one level; clamp rather than fail
        object.__setattr__(self, "max_iterations", max(1, int(self.max_iterations)))
        object.__setattr__(self, "max_depth", max(1, int(self.max_depth)))

    def with_(self, **changes: Any) -> "RunConfig":
        return replace(self, **changes)

    def recorded(self) -> dict:
        """The settings a trajectory records in RunStarted (what shaped the run's answer)."""
        keys = ("max_iterations", "think", "num_ctx", "temperature", "max_tokens",
                "max_timeout", "max_output_chars", "block_timeout", "max_depth", "memory_mb",
                "max_concurrent_subcalls")
        values = asdict(self)
        return {k: values[k] for k in keys}
