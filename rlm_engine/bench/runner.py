"""Running a benchmark: every model on the same seeded tasks, up to `parallel` trials at once,
reporting each change as it happens (a UI redraws its table from `on_update`).

A model that cannot be used (unreachable backend, unknown model, missing or rejected API key)
fails its row with a one-line reason at its first trial, and its other trials are skipped;
the other rows go on. `stop()` cancels the running trials; what finished is kept.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional, Sequence

from ..errors import RLMError
from ..rlm import RLM
from ..trajectory import benchmarks_dir
from .models import BenchModel
from .results import BenchResults, ModelRow, TrialResult
from .tasks import make_task

UNUSABLE = ("cannot reach", "not found", "rejected the API key", "is not set")


class BenchRunner:
    def __init__(self, models: Sequence[BenchModel], *, task: str = "niah", lines: int = 10000,
                 trials: int = 3, seed: int = 0, parallel: int = 1,
                 rlm_options: Optional[dict] = None,
                 on_update: Optional[Callable[[BenchResults], None]] = None) -> None:
        self.results = BenchResults(task, lines, trials, seed, max(1, parallel))
        for m in models:
            self.results.rows.append(
                ModelRow(m, [TrialResult(trial=i + 1) for i in range(trials)]))
        # trials' runs are kept with the benchmark, not among the user's own runs
        self.rlm_options = {"trajectory_dir": benchmarks_dir() / "trials",
                            **(rlm_options or {})}
        self.on_update = on_update
        self._runs: set = set()
        self._stopping = False
        self._t0 = 0.0

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

    async def run(self, save: bool = True) -> BenchResults:
        """Run every trial once (a runner runs once). Results are saved however the run
        ends: finished, stopped, or cancelled because the app is closing."""
        if self._t0:
            raise RuntimeError("a BenchRunner runs once")
        self._t0 = time.monotonic()
        sem = asyncio.Semaphore(self.results.parallel)
        jobs = [asyncio.ensure_future(self._trial(row, trial, sem))
                for row in self.results.rows for trial in row.trials]
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
                    if trial.status == "waiting":  # never started: stopped before its turn
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
            task = make_task(r.task, r.lines, r.seed, trial.trial)
            trial.expected = task.expected
            try:
                rlm = RLM(model=row.model.spec, **self.rlm_options)
            except RLMError as exc:
                self._unusable(row, trial, str(exc))
                return
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
            trial.prompt_tokens = result.usage["total_prompt_tokens"]
            trial.completion_tokens = result.usage["total_completion_tokens"]
            trial.trajectory = result.trajectory_path
            trial.error = result.error
            # a cancelled trial is neither right nor wrong; a failed one counts as wrong
            trial.correct = task.score(result.answer) if result.ok else (
                False if result.status == "failed" else None)
            if result.status == "failed" and result.reason == "backend" and \
                    any(s in (result.error or "") for s in UNUSABLE):
                self._unusable(row, trial, result.error or "unusable")
                return
            if all(t.status not in ("waiting", "running") for t in row.trials):
                row.status = "stopped" if self._stopping else "done"
            self._changed()

    def _unusable(self, row: ModelRow, trial: TrialResult, reason: str) -> None:
        """The model itself cannot be used: not a wrong answer, so the trial is skipped."""
        trial.status, trial.error, trial.correct = "skipped", reason, None
        row.status, row.reason = "failed", reason
        self._changed()
