"""Trajectories: a run's events as JSONL, appended as they happen, and read back.

File layout: the first line is a header ``{"type": "trajectory", "format": "rlm-tui",
"version": 1, "created": <unix time>}``; every other line is one event (see events.py).
Each line is flushed as it is written, so a crash loses at most the line being written.
Nothing repeats the message history: a run's prompts are rebuilt from its events.

Files live in ``<data dir>/trajectories/rlm_<YYYYmmdd-HHMMSS>_<run id>.jsonl``, the data dir
being ``$RLM_TUI_DATA_DIR`` when set, else platformdirs' user data dir for "rlm-tui".

API keys never reach a file: every line is scrubbed of the values of environment variables
whose names look like secrets (``*_API_KEY``, ``*TOKEN*``, ...) and of the keys the clients use.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Optional

from .events import Event
from .paths import benchmarks_dir, data_dir, saved_benchmarks, trajectories_dir
from .schema import BAD, BadEvent, decode_event, json_lines

__all__ = ["BENCH_FORMAT", "FORMAT", "VERSION", "Trajectory", "TrajectoryWriter",
           "load_trajectory", "env_secrets",
           # where files live is paths.py's; re-exported for the modules that import it here
           "benchmarks_dir", "data_dir", "saved_benchmarks", "trajectories_dir"]

FORMAT = "rlm-tui"
VERSION = 1
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.IGNORECASE)
REDACTED = "[redacted]"


BENCH_FORMAT = "rlm-tui-bench"  # the "format" field of a saved benchmark's JSON


def env_secrets() -> set[str]:
    return {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}


class TrajectoryWriter:
    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets = sorted({s for s in (*env_secrets(), *secrets) if s and len(s) >= 8},
                               key=len, reverse=True)
        self.error: Optional[str] = None  # set when the disk refused a line (then it stops)
        self._file: Optional[IO[str]] = None
        try:  # a data directory that cannot be written costs the file, never the run
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            self.error = (f"the trajectory could not be written to {self.path.parent}: "
                          f"{exc.strerror or exc} (set RLM_TUI_DATA_DIR to a writable "
                          f"directory)")
        self._line({"type": "trajectory", "format": FORMAT, "version": VERSION,
                    "created": time.time()})

    @classmethod
    def for_run(cls, run_id: str, directory: "Optional[str | Path]" = None,
                secrets: Iterable[str] = ()) -> "TrajectoryWriter":
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return cls(Path(directory or trajectories_dir()) / f"rlm_{stamp}_{run_id}.jsonl", secrets)

    def _line(self, data: dict) -> None:
        self._write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    def _write(self, line: str) -> None:
        if self._file is None:
            return
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:  # disk full, removed...: the run goes on without its file
            self.error = f"the trajectory could not be written: {exc.strerror or exc}"
            self.close()

    def write(self, event: Event) -> None:
        self._write(event.to_json())

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass


@dataclass
class Trajectory:
    path: Path
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    version: int = VERSION


def load_trajectory(path: "str | Path") -> Trajectory:
    """Read a trajectory. A truncated or corrupt file gives what it has plus a warning; a file
    from a newer version is read as far as it can be, with a warning saying so. Every line
    is checked before it becomes an event (schema.py): a damaged one is skipped and counted."""
    path = Path(path)
    out = Trajectory(path)
    bad = unknown = invalid = 0
    first_problem = ""
    for data in json_lines(path):
        if data is BAD or not isinstance(data, dict):
            bad += 1
            continue
        if data.get("type") == "trajectory":
            version = data.get("version", VERSION)
            out.version = version if type(version) is int and version >= 0 else VERSION
            if out.version > VERSION:
                out.warnings.append(
                    f"{path.name} was written by a newer rlm-tui (format {out.version}, "
                    f"this one reads {VERSION}): update rlm-tui to see everything")
            continue
        try:
            out.events.append(decode_event(data))
        except BadEvent as exc:
            if exc.unknown:
                unknown += 1
            else:
                invalid += 1
                first_problem = first_problem or str(exc)
    if bad:
        out.warnings.append(f"{path.name}: {bad} line(s) were incomplete or corrupt and were "
                            f"skipped (the run may have been cut off)")
    if invalid:
        out.warnings.append(f"{path.name}: {invalid} damaged event(s) were skipped "
                            f"(first: {first_problem})")
    if unknown:
        out.warnings.append(f"{path.name}: {unknown} event(s) of an unknown kind were skipped")
    if out.events and out.events[-1].kind != "run_finished":
        out.warnings.append(f"{path.name} ends before the run finished")
    return out
