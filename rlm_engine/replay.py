"""A run read back from its trajectory, offering what a view of a live `Run` uses (`state`,
`model`, `recursive_model`, `max_iterations`, `done`, `elapsed`), plus its events in order."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import events as ev
from .state import RunState
from .rlms_log import is_rlms_log, load_rlms_log
from .trajectory import load_trajectory


class RecordedRun:
    def __init__(self, events: list[ev.Event], warnings: Optional[list[str]] = None,
                 path: Optional[Path] = None) -> None:
        self.events = events
        self.warnings = list(warnings or [])
        self.path = path
        self.state = RunState()
        for e in events:
            self.state.apply(e)
        self.interrupted = self.state.close_interrupted()
        start = self.state.started
        if start is None:
            self.warnings.append("the file holds no run_started event")
        self.model = start.model if start else "?"
        self.recursive_model = start.recursive_model if start else "?"
        self.max_iterations = start.max_iterations if start else 0
        self.prompt = start.prompt if start else ""
        self.done = True
        self.trajectory_path = str(path) if path else None

    @property
    def elapsed(self) -> float:
        return self.state.total_time or self.state.last_t

    @classmethod
    def load(cls, path: "str | Path") -> "RecordedRun":
        """An rlm-tui trajectory, or a log of the official `rlms` package. Raises OSError
        for a file that cannot be read, ValueError (one line) for one that cannot be used."""
        try:
            if is_rlms_log(path):
                events, warnings = load_rlms_log(path)
                return cls(events, warnings, Path(path))
            t = load_trajectory(path)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - a foreign file must not crash the viewer
            raise ValueError(f"cannot read {Path(path).name}: {type(exc).__name__}: {exc}") \
                from exc
        return cls(t.events, t.warnings, Path(path))
