"""Running a benchmark: every model, in each mode (RLM and/or direct), at each haystack length,
on the same seeded tasks, up to `parallel` trials at once, reporting each change as it happens
(a UI redraws its table and chart from `on_update`).

Trials run length by length, and within a length trial by trial across every row, so the
accuracy-against-length chart fills in for all models and modes together instead of one row
at a time. The same (task, length, seed, trial) gives the same haystack in both modes.

A model that cannot be used (unreachable backend, unknown model, missing or rejected API key)
fails its row with a one-line reason at its first trial, and its other trials are skipped;
the other rows go on. `stop()` cancels the running trials; what finished is kept.

Limits: ``max_timeout`` is each trial's time limit (an RLM run stops itself; a direct call is
cancelled), and ``rlm_options`` carries the run limits (max_depth, block_timeout, memory_mb,
max_concurrent_subcalls ...) to every RLM trial.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional, Sequence

from ..clients import ClientOptions, make_client
from ..config import RunConfig
from ..errors import BackendError, RLMError
from ..rlm import RLM
from ..trajectory import benchmarks_dir
from .direct import direct_prompt
from .models import BenchModel
from .prices import Price
from .results import MODES, BenchResults, ModelRow, TrialResult
from .tasks import Task, make_task

# backend failures that say the model itself cannot be used (not that it answered wrong)
UNUSABLE = frozenset({"unreachable", "not_found", "auth"})
DEFAULT_NUM_CTX = RunConfig.num_ctx


class BenchRunner:
    def __init__(self, models: Sequence[BenchModel], *, task: str = "niah",
                 lines: "int | Sequence[int]" = 10000, trials: int = 3, seed: int = 0,
                 parallel: int = 1, modes: Sequence[str] = ("rlm",),
                 num_ctx: int = DEFAULT_NUM_CTX, max_timeout: Optional[float] = None,
                 rlm_options: Optional[dict] = None,
                 prices: Optional[dict[str, Price]] = None,
                 on_update: Optional[Callable[[BenchResults], None]] = None) -> None:
        lengths = [lines] if isinstance(lines, int) else list(lines)
        bad = [m for m in modes if m not in MODES]
        if bad or not modes:
            raise ValueError(f"unknown mode {bad[0] if bad else ''!r}: choose rlm, direct or both")
        if not lengths or any(n < 1 for n in lengths):
            raise ValueError("lengths must be positive numbers of lines")
        self.results = BenchResults(task, sorted(set(lengths)), max(1, trials), seed,
                                    max(1, parallel), modes=tuple(modes), num_ctx=num_ctx)
        self.max_timeout = max_timeout
        self.prices = prices or {}
        self._t0 = 0.0
        self.models: list[BenchModel] = []
        for m in models:
            self.add_model(m)
        # trials' runs are kept with the benchmark, not among the user's own runs
        self.rlm_options = {"trajectory_dir": benchmarks_dir() / "trials", "num_ctx": num_ctx,
                            "max_timeout": max_timeout, **(rlm_options or {})}
        self.on_update = on_update
        self._runs: set = set()
        self._direct: set = set()
        self._stopping = False

    # -- before it starts: the models can change -------------------------------------------
    @property
    def started(self) -> bool:
        return bool(self._t0)

    def add_model(self, model: BenchModel) -> bool:
        """Add a model's rows (one per mode); False if it is already there or the run began."""
        if self.started or any(m.spec == model.spec for m in self.models):
            return False
        self.models.append(model)
        r = self.results
        for mode in r.modes:
            r.rows.append(ModelRow(model, mode, [
                TrialResult(trial=i + 1, mode=mode, lines=n)
                for n in r.lengths for i in range(r.trials)]))
        return True

    def configure(self, *, lengths: Optional[Sequence[int]] = None,
                  modes: Optional[Sequence[str]] = None) -> None:
        """Change the lengths or modes before the run starts (the rows are rebuilt)."""
        if self.started:
            raise RuntimeError("the benchmark has started")
        r = self.results
        if modes is not None:
            if not modes or any(m not in MODES for m in modes):
                raise ValueError("modes are rlm and/or direct")
            r.modes = tuple(modes)
        if lengths is not None:
            if not lengths or any(n < 1 for n in lengths):
                raise ValueError("lengths must be positive numbers of lines")
            r.lengths = sorted(set(lengths))
        models, self.models, r.rows = self.models, [], []
        for m in models:
            self.add_model(m)

    def remove_model(self, spec: str) -> bool:
        if self.started or not any(m.spec == spec for m in self.models):
            return False
        self.models = [m for m in self.models if m.spec != spec]
        self.results.rows = [row for row in self.results.rows if row.model.spec != spec]
        return True

    # -- progress --------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0 if self._t0 else 0.0

    def eta(self) -> Optional[float]:
        done, total = self.results.completed, self.results.total
        if not done or done >= total:
            return None
        return self.elapsed / done * (total - done)

    def _changed(self) -> None:
        self.results.elapsed = self.elapsed
        if self.on_update is not None:
            self.on_update(self.results)

    def stop(self) -> None:
        self._stopping = True
        self.results.stopped = True
        for run in list(self._runs):
            run.cancel()
        for job in list(self._direct):
            job.cancel()

    def _order(self) -> list[tuple[ModelRow, TrialResult]]:
        """Length by length, trial by trial, across all rows (see the module docstring)."""
        jobs = [(row, t) for row in self.results.rows for t in row.trials]
        lengths = self.results.lengths
        rows = {id(row): i for i, row in enumerate(self.results.rows)}
        return sorted(jobs, key=lambda j: (lengths.index(j[1].lines), j[1].trial, rows[id(j[0])]))

    async def run(self, save: bool = True) -> BenchResults:
        """Run every trial once (a runner runs once). Results are saved however the run
        ends: finished, stopped, or cancelled because the app is closing."""
        if self._t0:
            raise RuntimeError("a BenchRunner runs once")
        self._t0 = time.monotonic()
        self.results.started_at = time.time()
        sem = asyncio.Semaphore(self.results.parallel)
        jobs = [asyncio.ensure_future(self._trial(row, trial, sem))
                for row, trial in self._order()]
        try:
            await asyncio.gather(*jobs)
        except BaseException:
            # gather gives up at the first cancelled (or failed) trial and leaves the others
            # going (a cancelled trial still stops its run): stop them all and wait, so no
            # run outlives the runner
            self.stop()
            await asyncio.wait(jobs, timeout=10.0)
            raise
        finally:
            for row in self.results.rows:
                for trial in row.trials:
                    if trial.status in ("waiting", "running"):  # stopped before its turn
                        trial.status = "skipped"
                if row.status in ("running", "waiting", "done") and self._stopping:
                    row.status = "stopped"
                elif row.status in ("running", "waiting"):
                    row.status = "done"
            self._changed()
            if save:
                self.results.save()
        return self.results

    async def _trial(self, row: ModelRow, trial: TrialResult, sem: asyncio.Semaphore) -> None:
        async with sem:
            if row.status == "failed" or self._stopping:
                trial.status = "skipped"
                self._changed()
                return
            row.status = trial.status = "running"
            self._changed()
            r = self.results
            task = make_task(r.task, trial.lines, r.seed, trial.trial)
            trial.expected = task.expected
            if row.mode == "direct":
                unusable = await self._direct_trial(row, trial, task)
            else:
                unusable = await self._rlm_trial(row, trial, task)
            price = self.prices.get(row.model.label) or self.prices.get(row.model.spec)
            if price is not None and row.model.provider != "ollama":
                trial.cost = price.cost(trial.prompt_tokens, trial.completion_tokens)
            if unusable:
                self._unusable(row, trial, unusable)
                return
            if all(t.status not in ("waiting", "running") for t in row.trials):
                row.status = "stopped" if self._stopping else "done"
            self._changed()

    async def _rlm_trial(self, row: ModelRow, trial: TrialResult, task: Task) -> Optional[str]:
        """Runs the trial; returns why the model cannot be used at all, when the settings or
        the backend say so (a missing key, an unreachable backend, an unknown model)."""
        try:
            rlm = RLM(model=row.model.spec, **self.rlm_options)
        except RLMError as exc:
            trial.status, trial.error = "failed", str(exc)
            return str(exc)
        run = rlm.start(task.prompt, task.context)
        self._runs.add(run)
        try:
            result = await run.wait()
        except asyncio.CancelledError:
            # wait() is shielded: the run must be stopped and its worker closed, not
            # left behind to outlive the runner (and its event loop)
            run.cancel()
            await run.settle(5.0)
            trial.status = "cancelled"
            raise
        finally:
            self._runs.discard(run)
            await rlm.aclose()
        trial.status = result.status
        trial.answer = result.answer
        trial.seconds = result.total_time
        trial.iterations = result.iterations
        trial.prompt_tokens = result.usage.total_prompt_tokens
        trial.completion_tokens = result.usage.total_completion_tokens
        trial.trajectory = result.trajectory_path
        trial.error = result.error
        # a cancelled trial is neither right nor wrong; a failed one counts as wrong
        trial.correct = task.score(result.answer) if result.ok else (
            False if result.status == "failed" else None)
        return result.error if result.status == "failed" and result.error_kind in UNUSABLE \
            else None

    async def _direct_trial(self, row: ModelRow, trial: TrialResult, task: Task) -> Optional[str]:
        """One call with the haystack in the prompt, cut to num_ctx (the cut is recorded).
        Returns why the model cannot be used at all, as _rlm_trial does."""
        opts = self.rlm_options
        num_ctx = self.results.num_ctx
        prompt = direct_prompt(task, num_ctx)
        trial.cut = prompt.statement(num_ctx)
        trial.shown = round(prompt.kept_lines / max(1, prompt.total_lines), 4)
        trial.iterations = 1
        try:
            client = make_client(row.model.spec, host=opts.get("host"), options=ClientOptions(
                temperature=opts.get("temperature", RunConfig.temperature), think=opts.get("think"),
                num_ctx=num_ctx))
        except RLMError as exc:
            trial.status, trial.error = "failed", str(exc)
            return str(exc)
        start = time.monotonic()
        job = asyncio.ensure_future(
            client.complete([{"role": "user", "content": prompt.text}]))
        self._direct.add(job)
        try:
            done = await asyncio.wait_for(job, self.max_timeout)
        except asyncio.TimeoutError:
            trial.status, trial.correct = "failed", False
            trial.error = f"time limit of {self.max_timeout:g} s reached"
            return None
        except asyncio.CancelledError:
            trial.status = "cancelled"
            if self._stopping and not _cancelling():
                return None  # stop() cancelled the call, not the runner's own task
            raise
        except BackendError as exc:
            trial.status, trial.correct, trial.error = "failed", False, str(exc)
            return str(exc) if exc.kind in UNUSABLE else None
        finally:
            self._direct.discard(job)
            trial.seconds = round(time.monotonic() - start, 3)
            await client.aclose()
        trial.status = "completed"
        trial.answer = done.text.strip()
        trial.prompt_tokens = done.usage.prompt_tokens
        trial.completion_tokens = done.usage.completion_tokens
        trial.correct = task.score(trial.answer)
        return None

    def _unusable(self, row: ModelRow, trial: TrialResult, reason: str) -> None:
        """The model itself cannot be used: not a wrong answer, so the trial is skipped."""
        trial.status, trial.error, trial.correct = "skipped", reason, None
        row.status, row.reason = "failed", reason
        self._changed()


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (not just an awaited job)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling and cancelling())
