"""Benchmark results: a row per (model, mode) with its trials, each at one haystack length, and
running aggregates; saved as JSON (every trial with its mode and length) or CSV (one line per
trial), and read back.

Accuracy counts every finished trial (a trial that failed counts as wrong); trials skipped
because the model was unreachable or the run was stopped are not finished. Accuracy comes with
a 95% Wilson score interval, so two models are not ranked on noise: with 3 trials, 3/3 right
is "100% (44-100%)".
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..schema import MAX_LINE_BYTES, check_fields, parse_json
from ..trajectory import BENCH_FORMAT, benchmarks_dir
from .models import BenchModel

FORMAT_VERSION = 2
MODES = ("rlm", "direct")


def wilson(correct: int, n: int, z: float = 1.96) -> Optional[tuple[float, float]]:
    """The 95% Wilson score interval of a proportion (None with no trials)."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class TrialResult:
    trial: int
    mode: str = "rlm"  # rlm | direct
    lines: int = 0  # the haystack's length
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
    cut: str = ""  # direct mode: what of the haystack the model was shown
    shown: Optional[float] = None  # direct mode: the share of the haystack's lines shown
    cost: Optional[float] = None  # dollars, for a cloud model with a known price

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass
class ModelRow:
    model: BenchModel
    mode: str = "rlm"
    trials: list[TrialResult] = field(default_factory=list)
    status: str = "waiting"  # waiting | running | done | failed | stopped
    reason: str = ""

    @property
    def key(self) -> str:
        """Names the row in tables: the model spec and the mode."""
        return f"{self.model.spec} · {self.mode}"

    @property
    def finished(self) -> list[TrialResult]:
        return [t for t in self.trials if t.finished]

    @property
    def correct(self) -> int:
        return sum(1 for t in self.finished if t.correct)

    @property
    def interval(self) -> Optional[tuple[float, float]]:
        return wilson(self.correct, self.done)

    def at(self, lines: int) -> list[TrialResult]:
        return [t for t in self.trials if t.lines == lines]

    def accuracy_at(self, lines: int) -> Optional[float]:
        done = [t for t in self.at(lines) if t.finished]
        return sum(1 for t in done if t.correct) / len(done) if done else None

    @property
    def cost(self) -> Optional[float]:
        costs = [t.cost for t in self.trials if t.cost is not None]
        return sum(costs) if costs else None

    @property
    def total_time(self) -> float:
        return sum(t.seconds for t in self.trials)

    @property
    def cuts(self) -> list[str]:
        """The direct mode's cut statements, one per length that was cut."""
        seen: dict[int, str] = {}
        for t in self.trials:
            if t.cut and t.cut.startswith("cut"):
                seen.setdefault(t.lines, t.cut)
        return [seen[k] for k in sorted(seen)]

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
        """Trials that ended on an error: failed ones, and the one that found the model
        unusable (its row's other trials are skipped without trying)."""
        return sum(1 for t in self.trials if t.status == "failed" or t.error)

    def summary(self) -> dict:
        ci = self.interval
        return {
            "model": self.model.label, "spec": self.model.spec, "provider": self.model.provider,
            "mode": self.mode, "status": self.status, "reason": self.reason,
            "accuracy": self.accuracy, "ci_low": ci[0] if ci else None,
            "ci_high": ci[1] if ci else None, "correct": self.correct,
            "done": self.done, "total": len(self.trials), "mean_time": self.mean_time,
            "median_time": self.median_time, "mean_iterations": self.mean_iterations,
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "errors": self.errors,
            "cost": self.cost, "total_time": round(self.total_time, 3),
        }


@dataclass
class BenchResults:
    task: str
    lengths: list[int]
    trials: int
    seed: int
    parallel: int
    modes: tuple = ("rlm",)
    num_ctx: int = 0
    rows: list[ModelRow] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    elapsed: float = 0.0
    stopped: bool = False
    path: Optional[Path] = None

    def __post_init__(self) -> None:
        if isinstance(self.lengths, int):  # one length, as version 1 had
            self.lengths = [self.lengths]

    @property
    def total(self) -> int:
        return sum(len(r.trials) for r in self.rows)

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.rows for t in r.trials if t.status in statuses)

    @property
    def completed(self) -> int:
        """Trials that will not run again: finished (right, wrong or failed) or skipped."""
        return self.count("completed", "failed", "skipped", "cancelled")

    def totals(self) -> str:
        """Honest totals: "8/12 trials · 5 right · 1 failed · 2 skipped"."""
        right = sum(r.correct for r in self.rows)
        parts = [f"{self.completed}/{self.total} trials", f"{right} right"]
        for status in ("failed", "skipped", "cancelled"):
            n = self.count(status)
            if n:
                parts.append(f"{n} {status}")
        return " · ".join(parts)

    def describe(self) -> str:
        lengths = ", ".join(f"{n:,}" for n in self.lengths)
        text = (f"task {self.task} · {lengths} lines · {' vs '.join(self.modes)} · "
                f"{self.trials} trials per length · seed {self.seed}")
        if "direct" in self.modes and self.num_ctx:
            text += f" · num_ctx {self.num_ctx:,}"
        return text

    def to_dict(self) -> dict:
        return {
            "format": BENCH_FORMAT, "version": FORMAT_VERSION, "task": self.task,
            "lengths": self.lengths, "modes": list(self.modes), "num_ctx": self.num_ctx,
            "trials": self.trials, "seed": self.seed,
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
                # one line per trial: each keeps its model, mode and length
                names = ["model", "spec", "provider", *TrialResult.__dataclass_fields__]
                writer = csv.DictWriter(fh, fieldnames=names)
                writer.writeheader()
                for r in self.rows:
                    for t in r.trials:
                        writer.writerow({"model": r.model.label, "spec": r.model.spec,
                                         "provider": r.model.provider, **asdict(t)})
        else:
            path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            self.path = path
        return path


@dataclass(frozen=True)
class _SavedModel:
    """What load_results reads of a model in a saved benchmark, checked before it is used
    (schema.py): a damaged file is one line, not a crash of the screen showing it."""

    spec: str
    model: str
    provider: str
    status: str
    trials: list[TrialResult]
    reason: str = ""
    mode: str = "rlm"


@dataclass(frozen=True)
class _SavedBench:
    task: str
    trials: int
    seed: int
    parallel: int
    models: list[_SavedModel]
    lengths: Optional[list[int]] = None  # version 2; version 1 had one `lines`
    lines: Optional[int] = None
    modes: Optional[list[str]] = None
    num_ctx: Optional[int] = None
    started_at: float = 0.0
    elapsed: float = 0.0
    stopped: bool = False


def load_results(path: "str | Path") -> BenchResults:
    """Raises OSError, or ValueError (one line) for a file that is not a sound benchmark."""
    name = Path(path).name
    if not Path(path).is_file() or Path(path).stat().st_size > MAX_LINE_BYTES:
        raise ValueError(f"{name} is not an rlm-tui benchmark file")
    data = parse_json(Path(path).read_bytes())
    if not isinstance(data, dict) or data.get("format") != BENCH_FORMAT:
        raise ValueError(f"{name} is not an rlm-tui benchmark file")
    problem = check_fields(_SavedBench, data)
    if problem:
        raise ValueError(f"{name} is damaged: {problem}")
    # version 1 files ran one length, in RLM mode only
    lengths = data.get("lengths") or ([data["lines"]] if data.get("lines") else [])
    if not lengths:
        raise ValueError(f"{name} is damaged: it names no haystack length")
    res = BenchResults(data["task"], [int(n) for n in lengths], data["trials"], data["seed"],
                       data["parallel"], modes=tuple(data.get("modes") or ("rlm",)),
                       num_ctx=int(data.get("num_ctx") or 0),
                       started_at=data.get("started_at", 0.0),
                       elapsed=data.get("elapsed", 0.0), stopped=data.get("stopped", False),
                       path=Path(path))
    names = set(TrialResult.__dataclass_fields__)
    for m in data["models"]:
        mode = m.get("mode", "rlm")
        row = ModelRow(BenchModel(m["spec"], m["model"], m["provider"]), mode=mode,
                       status=m["status"], reason=m.get("reason", ""))
        row.trials = [TrialResult(**{"mode": mode, "lines": lengths[0],
                                     **{k: v for k, v in t.items() if k in names}})
                      for t in m["trials"]]
        res.rows.append(row)
    return res
