"""Benchmark results: a row per model with its trials and running aggregates, saved as JSON
(and CSV), and read back.

Accuracy counts every finished trial (a trial that failed counts as wrong); trials skipped
because the model was unreachable or the run was stopped are not finished.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..trajectory import BENCH_FORMAT, benchmarks_dir
from .models import BenchModel

FORMAT_VERSION = 1


@dataclass
class TrialResult:
    trial: int
    status: str = "waiting"  # waiting | running | completed | failed | cancelled | skipped
    correct: Optional[bool] = None
    answer: str = ""
    expected: str = ""
    seconds: float = 0.0
    iterations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: Optional[str] = None
    trajectory: Optional[str] = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass
class ModelRow:
    model: BenchModel
    trials: list[TrialResult] = field(default_factory=list)
    status: str = "waiting"  # waiting | running | done | failed | stopped
    reason: str = ""

    @property
    def finished(self) -> list[TrialResult]:
        return [t for t in self.trials if t.finished]

    @property
    def done(self) -> int:
        return len(self.finished)

    @property
    def accuracy(self) -> Optional[float]:
        done = self.finished
        return sum(1 for t in done if t.correct) / len(done) if done else None

    def _times(self) -> list[float]:
        return [t.seconds for t in self.finished]

    @property
    def mean_time(self) -> Optional[float]:
        times = self._times()
        return statistics.mean(times) if times else None

    @property
    def median_time(self) -> Optional[float]:
        times = self._times()
        return statistics.median(times) if times else None

    @property
    def mean_iterations(self) -> Optional[float]:
        done = self.finished
        return statistics.mean(t.iterations for t in done) if done else None

    @property
    def tokens_in(self) -> int:
        return sum(t.prompt_tokens for t in self.trials)

    @property
    def tokens_out(self) -> int:
        return sum(t.completion_tokens for t in self.trials)

    @property
    def errors(self) -> int:
        return sum(1 for t in self.trials if t.status == "failed")

    def summary(self) -> dict:
        return {
            "model": self.model.label, "spec": self.model.spec, "provider": self.model.provider,
            "status": self.status, "reason": self.reason, "accuracy": self.accuracy,
            "done": self.done, "total": len(self.trials), "mean_time": self.mean_time,
            "median_time": self.median_time, "mean_iterations": self.mean_iterations,
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "errors": self.errors,
        }


@dataclass
class BenchResults:
    task: str
    lines: int
    trials: int
    seed: int
    parallel: int
    rows: list[ModelRow] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    elapsed: float = 0.0
    stopped: bool = False
    path: Optional[Path] = None

    @property
    def total(self) -> int:
        return sum(len(r.trials) for r in self.rows)

    @property
    def completed(self) -> int:
        return sum(1 for r in self.rows for t in r.trials if t.finished or t.status == "skipped")

    def to_dict(self) -> dict:
        return {
            "format": BENCH_FORMAT, "version": FORMAT_VERSION, "task": self.task,
            "lines": self.lines, "trials": self.trials, "seed": self.seed,
            "parallel": self.parallel, "started_at": self.started_at,
            "elapsed": round(self.elapsed, 3), "stopped": self.stopped,
            "models": [{**r.summary(), "trials": [asdict(t) for t in r.trials]}
                       for r in self.rows],
        }

    def save(self, path: Optional[Path] = None) -> Path:
        """JSON (CSV when the name ends in .csv). Without a path: the data directory."""
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started_at))
            path = benchmarks_dir() / f"bench_{stamp}_{self.task}.json"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            with open(path, "w", newline="", encoding="utf-8") as fh:
                rows = [r.summary() for r in self.rows]
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["model"])
                writer.writeheader()
                writer.writerows(rows)
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            self.path = path
        return path


def load_results(path: "str | Path") -> BenchResults:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != BENCH_FORMAT:
        raise ValueError(f"{Path(path).name} is not an rlm-tui benchmark file")
    res = BenchResults(data["task"], data["lines"], data["trials"], data["seed"],
                       data["parallel"], started_at=data.get("started_at", 0.0),
                       elapsed=data.get("elapsed", 0.0), stopped=data.get("stopped", False),
                       path=Path(path))
    for m in data["models"]:
        row = ModelRow(BenchModel(m["spec"], m["model"], m["provider"]),
                       status=m["status"], reason=m.get("reason", ""))
        names = set(TrialResult.__dataclass_fields__)
        row.trials = [TrialResult(**{k: v for k, v in t.items() if k in names})
                      for t in m["trials"]]
        res.rows.append(row)
    return res
