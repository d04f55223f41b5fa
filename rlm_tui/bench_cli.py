"""`rlm-tui bench`: the benchmark, live in the app or headless with a printed report."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
from pathlib import Path

from rlm_engine import RLMError
from rlm_engine.bench import BenchResults, BenchRunner, load_results, select_models


def make_runner(args: argparse.Namespace) -> BenchRunner:
    models = select_models(ollama=args.ollama, ollama_host=args.ollama_host,
                           no_local=args.no_local, cloud=args.cloud,
                           no_cloud_auto=args.no_cloud_auto)
    if not models:
        raise RLMError("no models to run: drop --no-local, or add --ollama MODEL or "
                       "--cloud PROVIDER:MODEL")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    return BenchRunner(models, task=args.task, lines=args.lines, trials=max(1, args.trials),
                       seed=seed, parallel=args.parallel,
                       rlm_options={"max_iterations": args.max_iterations})


def print_report(results: BenchResults) -> None:
    from rich.console import Console

    from .bench_view import bench_table

    console = Console(width=max(120, shutil.get_terminal_size((120, 24)).columns))
    console.print(bench_table(results.rows))
    console.print(f"task {results.task} · {results.lines:,} lines · {results.trials} trials · "
                  f"seed {results.seed} · parallel {results.parallel} · "
                  f"{results.elapsed:.1f} s" + (" · stopped early" if results.stopped else ""))
    for row in results.rows:
        if row.status == "failed":
            console.print(f"[red]{row.model.label}: {row.reason}[/]", markup=True,
                          highlight=False)
    if results.path:
        console.print(f"saved {results.path}", highlight=False)


async def headless(runner: BenchRunner) -> BenchResults:
    reported: set = set()
    total = runner.results.total

    def progress(results: BenchResults) -> None:
        for row in results.rows:
            for t in row.trials:
                key = (row.model.spec, t.trial)
                if key in reported or not (t.finished or t.status == "skipped"):
                    continue
                reported.add(key)
                mark = {True: "correct", False: "wrong", None: "skipped"}[t.correct]
                note = f": {t.error}" if t.error else ""
                print(f"[{len(reported)}/{total}] {row.model.label} trial {t.trial}: {mark} "
                      f"({t.seconds:.1f} s){note}", file=sys.stderr, flush=True)

    runner.on_update = progress
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, runner.stop)
    except (NotImplementedError, RuntimeError):
        pass
    return await runner.run()


def bench_main(args: argparse.Namespace) -> int:
    try:
        if args.open:
            results = load_results(args.open)
            runner = None
        else:
            runner = make_runner(args)
            results = runner.results
    except (RLMError, OSError, ValueError, KeyError) as exc:
        print(f"rlm-tui: {exc}", file=sys.stderr)
        return 2
    if args.no_tui:
        if runner is not None:
            results = asyncio.run(headless(runner))
        print_report(results)
        if args.out:
            print(f"wrote {results.save(Path(args.out))}", file=sys.stderr)
        return 130 if results.stopped else 0
    from .app import RLMApp
    from .screens.bench import BenchScreen
    from .session import Session, Settings

    app = RLMApp(Session.create(Settings()),
                 first_screen=BenchScreen(runner, results, exit_on_close=True))
    app.run()
    if args.out:
        results.save(Path(args.out))
    return 0
