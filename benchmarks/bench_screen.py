"""The benchmark screen's redraw cost with a big benchmark: how long one tick's refresh (the
table, totals, chart and the selected row's trials) takes while trials finish, so the screen
keeps pace with the 0.25 s tick and keys stay responsive.

Builds results for M models × 2 modes × L lengths × T trials (no backend), mounts the screen
in a headless app at 160×48, then finishes the trials one by one, timing refresh_table() after
each (the chart is redrawn only when an accuracy changes). Prints median, p95 and max.

Usage: python benchmarks/bench_screen.py [--models 8] [--lengths 3] [--trials 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RLM_TUI_DATA_DIR", tempfile.mkdtemp(prefix="rlm-bench-screen-"))

from rlm_engine.bench import BenchModel, BenchResults, ModelRow, TrialResult  # noqa: E402
from rlm_tui.app import RLMApp  # noqa: E402
from rlm_tui.screens.bench import BenchScreen  # noqa: E402
from rlm_tui.session import Session, Settings  # noqa: E402


def build(models: int, lengths: list[int], trials: int) -> BenchResults:
    rows = []
    for m in range(models):
        model = BenchModel(f"model-{m}:7b", f"model-{m}:7b", "ollama")
        for mode in ("rlm", "direct"):
            rows.append(ModelRow(model, mode, [TrialResult(trial=i + 1, mode=mode, lines=n)
                                               for n in lengths for i in range(trials)]))
    return BenchResults("niah", lengths, trials, 1, 1, modes=("rlm", "direct"), rows=rows)


async def main(args: argparse.Namespace) -> None:
    lengths = [1000 * 10 ** i for i in range(args.lengths)]
    results = build(args.models, lengths, args.trials)
    screen = BenchScreen(results=results)
    app = RLMApp(Session.create(Settings(model="x")), first_screen=screen)
    times = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        n = 0
        for row in results.rows:
            row.status = "running"
        for trial_index in range(len(results.rows[0].trials)):
            for r, row in enumerate(results.rows):
                t = row.trials[trial_index]
                t.status, t.correct, t.seconds = "completed", (n + r) % 3 != 0, 1.0 + n % 7
                t.prompt_tokens, t.completion_tokens = 2000 + n, 40
                n += 1
                start = time.perf_counter()
                screen.refresh_table()
                times.append(time.perf_counter() - start)
            await pilot.pause(0)
    times.sort()
    total = sum(len(r.trials) for r in results.rows)
    print(f"{len(results.rows)} rows × {len(results.rows[0].trials)} trials = {total} trials; "
          f"refresh_table per finished trial: median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms, max {times[-1] * 1000:.2f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--lengths", type=int, default=3)
    ap.add_argument("--trials", type=int, default=50)
    asyncio.run(main(ap.parse_args()))
