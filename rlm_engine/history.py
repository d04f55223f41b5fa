"""The history: past runs and benchmarks in the data directory, one line each.

A run's line is read from the head of its trajectory (run_started) and its tail (run_failed,
run_finished), never the whole file, so a long history lists fast.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from . import events as ev
from .schema import MAX_LINE_BYTES, BadEvent, decode_event, parse_json
from .trajectory import BENCH_FORMAT, data_dir, saved_benchmarks

TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # run | bench
    path: Path
    when: float
    models: str
    prompt: str
    context: str
    iterations: Optional[int]
    tokens: Optional[int]
    outcome: str  # the answer, or what went wrong
    run_id: str = ""
    forked_from: str = ""  # a fork's parent run id (fork.py)
    fork_at: int = 0
    depth: int = 0  # how deep under its parent the list shows it (forks of forks: 2, ...)

    def matches(self, text: str) -> bool:
        text = text.lower()
        return not text or any(text in str(v).lower() for v in (
            self.kind, self.models, self.prompt, self.context, self.outcome, self.path.name))


def _event(raw: bytes, kind: str) -> Optional[ev.Event]:
    """The line as an event of `kind`, if it is one and passes the checks (schema.py)."""
    if kind.encode() not in raw:  # most lines: not worth parsing
        return None
    try:
        e = decode_event(parse_json(raw))
    except BadEvent:
        return None
    return e if e.kind == kind else None


def _head(path: Path) -> Optional[ev.RunStarted]:
    """The root run's run_started line (among the first lines, each up to MAX_LINE_BYTES)."""
    with open(path, "rb") as fh:
        for _ in range(5):
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw or len(raw) > MAX_LINE_BYTES:
                return None
            e = _event(raw, "run_started")
            if isinstance(e, ev.RunStarted) and not e.depth:
                return e
    return None


def _tail(path: Path, root: str) -> tuple[Optional[ev.RunFinished], Optional[ev.RunFailed]]:
    """The root run's run_finished and run_failed lines, reading back from the end in growing
    windows until run_finished parses (a long answer makes a long line), at most
    MAX_LINE_BYTES back."""
    size = os.path.getsize(path)
    window = TAIL_BYTES
    while True:
        with open(path, "rb") as fh:
            fh.seek(max(0, size - window))
            data = fh.read(window)
        finished = failed = None
        for raw in reversed(data.splitlines()):
            if root.encode() not in raw:
                continue
            if finished is None:
                e = _event(raw, "run_finished")
                if isinstance(e, ev.RunFinished) and e.run_id == root:
                    finished = e
                    continue
            if failed is None:
                e = _event(raw, "run_failed")
                if isinstance(e, ev.RunFailed) and e.run_id == root:
                    failed = e
            if finished is not None and failed is not None:
                break
        if finished is not None or window >= size or window >= MAX_LINE_BYTES:
            return finished, failed
        window *= 4


def _run_entry(path: Path) -> Optional[HistoryEntry]:
    start = _head(path)
    if start is None:
        return None
    finished, failed = _tail(path, start.run_id)
    models = start.model
    if start.recursive_model != models:
        models += f" → {start.recursive_model}"
    if finished is None:
        outcome, iterations, tokens = "(did not finish: the app stopped mid-run)", None, None
    else:
        tokens = finished.usage.total_tokens
        iterations = finished.iterations
        if finished.status == "completed":
            outcome = finished.answer
        elif finished.status == "cancelled":
            outcome = "cancelled"
        else:
            outcome = f"failed: {failed.error if failed else ''}"
    return HistoryEntry("run", path, start.started_at or path.stat().st_mtime,
                        models, start.prompt, start.context.name or start.context.kind,
                        iterations, tokens, " ".join(outcome.split()),
                        run_id=start.run_id, forked_from=start.forked_from,
                        fork_at=start.fork_at if isinstance(start.fork_at, int) else 0)


def _bench_entry(path: Path) -> Optional[HistoryEntry]:
    if path.stat().st_size > MAX_LINE_BYTES:  # not one of ours: never read a huge file whole
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != BENCH_FORMAT:
        return None
    models = [m for m in data.get("models", []) if isinstance(m, dict) and "model" in m]
    names = [f"{m['model']} ({m['mode']})" if m.get("mode") else str(m["model"])
             for m in models]
    scores = ", ".join(f"{name} {float(m['accuracy']):.0%}"
                       if m.get("accuracy") is not None else f"{name} —"
                       for name, m in zip(names, models))
    lengths = data.get("lengths") or [data.get("lines")]
    lines = ", ".join(f"{int(n or 0):,}" for n in lengths if not isinstance(n, (dict, list)))
    tokens = sum(int(m.get("tokens_in") or 0) + int(m.get("tokens_out") or 0) for m in models)
    return HistoryEntry("bench", path, float(data.get("started_at") or 0.0),
                        ", ".join(dict.fromkeys(str(m["model"]) for m in models)),
                        f"benchmark {data.get('task')} · {lines} lines · "
                        f"{data.get('trials')} trials · seed {data.get('seed')}", "",
                        None, tokens, scores + (" (stopped)" if data.get("stopped") else ""))


def list_history(directory: Optional[Path] = None) -> list[HistoryEntry]:
    """Newest first."""
    root = Path(directory or data_dir())
    entries: list[HistoryEntry] = []
    files = [(p, _run_entry) for p in (root / "trajectories").glob("*.jsonl")] + \
        [(p, _bench_entry) for p in saved_benchmarks(root)]
    for path, read in files:
        try:  # a FIFO or a device named *.jsonl would block the scan or never end
            entry = read(path) if path.is_file() else None
        except Exception:  # noqa: BLE001 - a foreign or broken file is skipped, not fatal
            entry = None
        if entry is not None:
            entries.append(entry)
    return nest_forks(sorted(entries, key=lambda e: e.when, reverse=True))


def nest_forks(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Each fork right under its parent (newest fork first), with its depth; a fork whose
    parent is not in the list stays where its time puts it."""
    ids = {e.run_id for e in entries if e.run_id}
    forks: dict[str, list[HistoryEntry]] = {}
    for e in entries:
        if e.forked_from and e.forked_from in ids and e.forked_from != e.run_id:
            forks.setdefault(e.forked_from, []).append(e)
    out: list[HistoryEntry] = []
    seen: set[int] = set()

    def place(e: HistoryEntry, depth: int) -> None:
        if id(e) in seen:
            return
        seen.add(id(e))
        out.append(replace(e, depth=depth))
        for child in forks.get(e.run_id, []) if e.run_id else []:
            place(child, depth + 1)

    for e in entries:
        if not (e.forked_from and e.forked_from in ids and e.forked_from != e.run_id):
            place(e, 0)
    for e in entries:  # a cycle of forks (a hand-edited file) still shows every entry
        place(e, 0)
    return out
