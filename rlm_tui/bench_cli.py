"""`rlm-tui bench`: the benchmark, live in the app or headless with a printed report (a table
per model and mode, accuracy by length, and a text chart of accuracy against length)."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
from pathlib import Path
from typing import Optional

from rlm_engine import RLMError
from rlm_engine.bench import BenchResults, BenchRunner, load_prices, load_results, select_models

from . import limits


# -- flags: validated when parsed, so a bad value is a one-line usage error ---------------------
def lengths_arg(text: str) -> list[int]:
    """"1000,10000,100000" (a "k" suffix is allowed: 10k) -> sorted distinct lengths."""
    out = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            n = int(float(part[:-1]) * 1000) if part.lower().endswith("k") else int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a number of lines") from None
        if not 10 <= n <= 10_000_000:
            raise argparse.ArgumentTypeError(f"{n} lines: choose 10 to 10,000,000")
        out.append(n)
    if not out:
        raise argparse.ArgumentTypeError("give at least one length, e.g. 1000,10000")
    return sorted(set(out))


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} must be more than 0")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def add_limit_args(p: argparse.ArgumentParser) -> None:
    """The run limits, applied to every trial (the same flags as `ask` and the app)."""
    p.add_argument("--max-timeout", type=limits.seconds, default=None, metavar="SECONDS",
                   help="each trial's time limit (default: none)")
    p.add_argument("--max-concurrent-subcalls", type=limits.count, default=None, metavar="N",
                   help="llm_query calls at once within a trial (4)")
    p.add_argument("--max-depth", type=limits.count, default=None, metavar="N",
                   help="rlm_query nesting depth (1: no child runs)")
    p.add_argument("--block-timeout", type=limits.seconds, default=None, metavar="SECONDS",
                   help="time limit of one code block (120)")
    p.add_argument("--memory-mb", type=limits.memory_mb, default=None, metavar="MB",
                   help="memory cap of the REPL worker (4096)")
    from .cli_args import add_sandbox_args  # here: cli_args imports this module
    add_sandbox_args(p)


def limit_options(args: argparse.Namespace) -> dict:
    """The RLM options the limit flags set (unset flags keep the library's defaults)."""
    from rlm_engine import SandboxConfig

    names = ("max_concurrent_subcalls", "max_depth", "block_timeout", "memory_mb")
    options = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    options["sandbox"] = SandboxConfig.from_env().with_flags(
        no_sandbox=getattr(args, "no_sandbox", False),
        network=getattr(args, "sandbox_network", False),
        binds=getattr(args, "sandbox_bind", None) or ())
    return options


def prices_file() -> Path:
    from rlm_engine.paths import config_dir

    return config_dir() / "prices.toml"


def make_runner(args: argparse.Namespace) -> BenchRunner:
    models = select_models(ollama=args.ollama, ollama_host=args.ollama_host,
                           no_local=args.no_local, cloud=args.cloud,
                           no_cloud_auto=args.no_cloud_auto)
    if not models:
        raise RLMError("no models to run: drop --no-local, or add --ollama MODEL or "
                       "--cloud PROVIDER:MODEL")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    prices, problem = load_prices(prices_file())
    if problem:
        print(f"rlm-tui: warning: {problem}", file=sys.stderr)
    modes = ("rlm", "direct") if args.mode == "both" else (args.mode,)
    return BenchRunner(models, task=args.task, lines=args.lines, trials=max(1, args.trials),
                       seed=seed, parallel=args.parallel, modes=modes, num_ctx=args.num_ctx,
                       max_timeout=args.max_timeout, prices=prices,
                       rlm_options={"max_iterations": args.max_iterations,
                                    **limit_options(args)})


SCREEN_LENGTHS = (1000, 10000)


def session_runner(settings) -> BenchRunner:
    """The benchmark the app's palette opens: the session's model (and its sub-model, if it
    has another), as an RLM and directly, at 1,000 and 10,000 lines; the screen can change
    the models, lengths and modes before it starts."""
    from rlm_engine.bench.models import model_for

    specs = [settings.model] + ([settings.recursive_model] if settings.recursive_model
                                and settings.recursive_model != settings.model else [])
    models = []
    for spec in specs:
        try:
            models.append(model_for(spec, settings.host))
        except RLMError:
            continue
    prices, _problem = load_prices(prices_file())
    return BenchRunner(models, lines=SCREEN_LENGTHS, trials=3,
                       seed=random.randrange(1_000_000), modes=("rlm", "direct"),
                       num_ctx=settings.num_ctx, max_timeout=settings.max_timeout,
                       prices=prices, rlm_options={"max_iterations": settings.max_iterations,
                                                   "sandbox": settings.sandbox})


def print_report(results: BenchResults, width: Optional[int] = None) -> None:
    from rich.console import Console

    from .bench_view import accuracy_by_length, bench_table, text_chart, verdicts

    width = width or max(120, shutil.get_terminal_size((120, 24)).columns)
    console = Console(width=width)
    console.print(bench_table(results.rows, width))
    if len(results.lengths) > 1 or len(results.modes) > 1:
        console.print(accuracy_by_length(results))
    console.print(text_chart(results, width=min(width, 110)), highlight=False, markup=False)
    console.print(results.describe() + f" · parallel {results.parallel} · "
                  f"{results.elapsed:.1f} s" + (" · stopped early" if results.stopped else ""),
                  highlight=False)
    console.print(results.totals(), highlight=False)
    for line in verdicts(results):
        console.print(line, highlight=False, style="bold")
    for line in cost_lines(results):
        console.print(line, highlight=False)
    for row in results.rows:
        if row.status == "failed":
            console.print(f"[red]{row.model.label} ({row.mode}): {row.reason}[/]", markup=True,
                          highlight=False)
        for cut in row.cuts:
            console.print(f"{row.model.label} (direct): {cut}", highlight=False)
    if results.path:
        console.print(f"saved {results.path}", highlight=False)


def cost_lines(results: BenchResults) -> list[str]:
    """Per model: its dollars in all (cloud, with a known price) or its time (local)."""
    out = []
    for label in dict.fromkeys(row.model.label for row in results.rows):
        rows = [r for r in results.rows if r.model.label == label]
        costs = {r.mode: r.cost for r in rows if r.cost is not None}
        if costs:
            parts = " · ".join(f"{mode} ${c:.4f}" for mode, c in costs.items())
            out.append(f"{label}: ${sum(costs.values()):.4f} in all ({parts})")
        elif rows[0].model.provider == "ollama" and any(r.done for r in rows):
            parts = " · ".join(f"{r.mode} {r.total_time:.1f} s" for r in rows)
            out.append(f"{label}: local, {sum(r.total_time for r in rows):.1f} s in all "
                       f"({parts})")
    return out


async def headless(runner: BenchRunner) -> BenchResults:
    reported: set = set()
    total = runner.results.total

    def progress(results: BenchResults) -> None:
        for row in results.rows:
            for t in row.trials:
                key = (row.key, t.lines, t.trial)
                if key in reported or not (t.finished or t.status == "skipped"):
                    continue
                reported.add(key)
                mark = {True: "correct", False: "wrong", None: "skipped"}[t.correct]
                note = f": {t.error}" if t.error else ""
                print(f"[{len(reported)}/{total}] {row.model.label} {row.mode} "
                      f"{t.lines:,} lines trial {t.trial}: {mark} ({t.seconds:.1f} s){note}",
                      file=sys.stderr, flush=True)

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
