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
        self.warnings = list(warnings or [])
        self.path = path
        self.state = RunState()
        # only what the fold took is shown: the screens then never meet an event that names
        # an iteration out of sequence, or a second root run
        self.events = [e for e in events if self._take(e)]
        self.interrupted = self.state.close_interrupted()
        start = self.state.started
        if start is None:
            self.warnings.append("the file holds no run_started event")
        skipped = len(events) - len(self.events)
        if skipped:
            name = f"{path.name}: " if path else ""
            self.warnings.append(f"{name}{skipped} event(s) out of sequence (an iteration or "
                                 f"block that does not follow the ones before, or another "
                                 f"run's) were skipped")
        self.model = start.model if start else "?"
        self.recursive_model = start.recursive_model if start else "?"
        self.max_iterations = start.max_iterations if start else 0
        self.prompt = start.prompt if start else ""
        self.done = True
        self.trajectory_path = str(path) if path else None

    def _take(self, e: ev.Event) -> bool:
        if e.depth > 0:
            return True  # a child run's: shown as a tree, never folded into the root's state
        root = self.state.started
        if root is not None and e.run_id != root.run_id:
            return False  # a file holds one root run; its children have depth > 0
        return self.state.apply(e)

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
