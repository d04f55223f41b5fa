"""The `rlm-tui` command.

    rlm-tui [flags]                      the full-screen app
    rlm-tui ask "PROMPT" [flags]         one question, answer on stdout (for scripts)
    rlm-tui bench [flags]                compare models on long-context tasks (--no-tui: a report)
    rlm-tui replay FILE                  step through a recorded run (ours, or an rlms log)
    rlm-tui export FILE --format md|json a recorded run as a Markdown report or JSON
    rlm-tui history                      past runs and benchmarks
    rlm-tui fork FILE --at N [-m MODEL]  fork a recorded run at iteration N, go on live
    rlm-tui export FILE --format rlms    a run as the official rlms package's JSONL log

Exit codes of `ask`: 0 answered, 1 the run failed (backend, limits), 2 bad arguments or
settings, 130 interrupted (Ctrl+C). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

from rlm_engine import RLM, RLMError
from rlm_engine.rlm import DEFAULT_MODEL

from .session import Settings


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", default=DEFAULT_MODEL,
                   help=f"root model spec (default {DEFAULT_MODEL}); e.g. qwen3:4b, "
                        "openai:gpt-4o-mini, anthropic:claude-haiku-4-5, http://host:11434/qwen3:72b")
    p.add_argument("--recursive-model", "-r", default=None,
                   help="model for llm_query() sub-calls (default: same as --model)")
    p.add_argument("--context", "-c", default=None, metavar="FILE",
                   help="file or directory loaded as `context` (text, .json, .jsonl, .csv)")
    p.add_argument("--host", default=None,
                   help="Ollama address (default: $OLLAMA_HOST, else localhost:11434)")
    p.add_argument("--max-iterations", type=int, default=Settings.max_iterations,
                   help=f"root-model turns (default {Settings.max_iterations})")
    p.add_argument("--num-ctx", type=int, default=Settings.num_ctx,
                   help=f"context window passed to Ollama (default {Settings.num_ctx})")
    p.add_argument("--temperature", type=float, default=Settings.temperature,
                   help=f"sampling temperature ({Settings.temperature})")
    p.add_argument("--think", action=argparse.BooleanOptionalAction, default=None,
                   help="thinking mode on/off (default: the model's own)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="stop the run after this many tokens in all (default: no limit)")
    p.add_argument("--max-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop the run after this many seconds (default: no limit)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rlm-tui",
        description="Recursive Language Models in your terminal: a model answers by writing "
                    "Python that explores your data, and you watch every step.",
    )
    add_model_args(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    ask = sub.add_parser("ask", help="answer one question and print the answer",
                         description="Answer one question with an RLM run; print the answer.")
    ask.add_argument("prompt", help="the question")
    add_model_args(ask)
    ask.add_argument("--json", action="store_true",
                     help="print the whole result (answer, usage, iterations) as one JSON object")
    ask.add_argument("--verbose", "-v", action="store_true",
                     help="show the model's replies, code and output on stderr as they come")
    add_bench_args(sub)
    replay = sub.add_parser("replay", help="step through a recorded run, read-only",
                            description="Open a run's trajectory (rlm-tui's JSONL, or a log of "
                                        "the official rlms package) in the step-through view.")
    replay.add_argument("file", help="a .jsonl trajectory or rlms log")
    export = sub.add_parser("export", help="a recorded run as Markdown, JSON or an rlms log",
                            description="Write a recorded run as a readable Markdown report, "
                                        "as JSON, or as the official rlms package's JSONL log "
                                        "(opens in their visualizer), to stdout or -o FILE.")
    export.add_argument("file", help="a .jsonl trajectory or rlms log")
    export.add_argument("--format", choices=("md", "json", "rlms"), default="md")
    export.add_argument("--output", "-o", default=None, metavar="FILE")
    sub.add_parser("history", help="past runs and benchmarks",
                   description="Browse past runs and benchmarks from the data directory.")
    from .fork_cli import add_fork_args
    add_fork_args(sub)
    return p


def add_bench_args(sub) -> None:
    from rlm_engine.bench import TASK_KINDS

    from .bench_cli import _positive, add_limit_args, lengths_arg

    b = sub.add_parser("bench", help="compare models on long-context tasks, live",
                       description="Run every model on the same seeded tasks, as an RLM and "
                                   "called directly, at one or more haystack lengths; the "
                                   "results table and accuracy chart fill in as trials finish.")
    b.add_argument("--lines", type=lengths_arg, default=[10000], metavar="N[,N...]",
                   help="haystack sizes in lines, e.g. 1000,10000,100000 (10000)")
    b.add_argument("--mode", choices=("rlm", "direct", "both"), default="both",
                   help="rlm: the model as an RLM; direct: the whole haystack in one prompt, "
                        "cut to --num-ctx; both (default): the comparison")
    b.add_argument("--num-ctx", type=_positive(int), default=Settings.num_ctx, metavar="TOKENS",
                   help=f"the model's context window: Ollama's num_ctx, and where the direct "
                        f"mode cuts the haystack ({Settings.num_ctx})")
    b.add_argument("--trials", type=int, default=3, help="trials per model, mode and length (3)")
    b.add_argument("--seed", type=int, default=None,
                   help="seed for the tasks (default: a random one, shown and saved)")
    b.add_argument("--task", choices=TASK_KINDS, default="niah",
                   help="niah: one needle; multi-niah: three; aggregate: sum over records; "
                        "pairs: count pairs of records (grows quadratically)")
    b.add_argument("--ollama", nargs="+", default=[], metavar="MODEL",
                   help="more Ollama models (MODEL or http://host:11434/MODEL)")
    b.add_argument("--ollama-host", default=None, metavar="URL",
                   help="Ollama address for every Ollama model without one of its own")
    b.add_argument("--no-local", action="store_true",
                   help="skip the default local models (qwen3:0.6b, qwen3:1.7b)")
    b.add_argument("--cloud", nargs="+", default=[], metavar="PROVIDER:MODEL",
                   help="cloud models to add, e.g. openai:gpt-4o anthropic:claude-haiku-4-5")
    b.add_argument("--no-cloud-auto", action="store_true",
                   help="do not add a model for each provider whose API key is set")
    b.add_argument("--parallel", type=int, default=1, help="trials at once (1)")
    b.add_argument("--max-iterations", type=int, default=15, help="root turns per trial (15)")
    add_limit_args(b)
    b.add_argument("--no-tui", action="store_true", help="run headless and print the table")
    b.add_argument("--out", default=None, metavar="FILE",
                   help="also write the results here (JSON, or CSV for a .csv name)")
    b.add_argument("--open", default=None, metavar="FILE",
                   help="show saved results (a JSON file from the data directory)")


def _fail(message: str, code: int = 2) -> int:
    print(f"rlm-tui: {message}", file=sys.stderr)
    return code


async def _ask(rlm: RLM, args: argparse.Namespace, context: Optional[Path]) -> int:
    from rlm_engine import events as ev

    run = rlm.start(args.prompt, context)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, run.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        async for e in run:
            if args.verbose:
                _show(e, ev)
    finally:
        await rlm.aclose()
    result = run.result
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif result.answer:
        print(result.answer)
    if result.status == "cancelled":
        print("rlm-tui: cancelled", file=sys.stderr)
        return 130
    if result.status != "completed":
        print(f"rlm-tui: {result.error}", file=sys.stderr)
        return 1
    return 0


def _show(e, ev) -> None:
    err = sys.stderr
    if isinstance(e, ev.IterationStarted):
        print(f"\n── iteration {e.iteration} ──", file=err)
    elif isinstance(e, (ev.TokenDelta, ev.ThinkingDelta)):
        err.write(e.text)
    elif isinstance(e, ev.ReplyFinished):
        err.write("\n")
    elif isinstance(e, ev.CodeBlockStarted):
        print(f"\n▶ running block {e.index + 1}", file=err)
    elif isinstance(e, ev.CodeOutput):
        err.write(e.text)
    elif isinstance(e, ev.CodeBlockFinished):
        status = f"error: {e.error}" if e.error else "ok"
        print(f"◀ block {e.index + 1} {status} ({e.duration:.2f} s)", file=err)
    elif isinstance(e, ev.SubCallFinished):
        print(f"  ↳ llm_query → {e.model}: {e.error or e.answer[:80]!r}", file=err)
    err.flush()


def run_ask(args: argparse.Namespace) -> int:
    context: Optional[Path] = None
    try:
        if args.context:
            from rlm_engine import check_context_path
            context = check_context_path(args.context)
        rlm = Settings.from_args(args).make_rlm()
    except RLMError as exc:
        return _fail(str(exc))
    return asyncio.run(_ask(rlm, args, context))


def run_bench(args: argparse.Namespace) -> int:
    from .bench_cli import bench_main

    return bench_main(args)


def load_recorded(path: str):
    from rlm_engine.replay import RecordedRun

    p = Path(path).expanduser()
    if not p.is_file():
        raise RLMError(f"no such file: {p}")
    run = RecordedRun.load(p)
    if run.state.started is None:
        raise RLMError(f"{p.name} holds no run (is it an rlm-tui trajectory or an rlms log?)")
    return run


def run_replay(args: argparse.Namespace) -> int:
    try:
        recorded = load_recorded(args.file)
    except (RLMError, OSError, ValueError) as exc:
        return _fail(str(exc))
    from .app import RLMApp
    from .screens.replay import ReplayScreen
    from .session import Session, Settings

    RLMApp(Session.create(Settings()),
           first_screen=ReplayScreen(recorded, exit_on_close=True)).run()
    return 0


def run_export(args: argparse.Namespace) -> int:
    from rlm_engine.export import to_json, to_markdown

    try:
        recorded = load_recorded(args.file)
    except (RLMError, OSError, ValueError) as exc:
        return _fail(str(exc))
    if args.format == "rlms":
        from rlm_engine.rlms_writer import to_rlms
        text = to_rlms(recorded)
    else:
        text = to_markdown(recorded) if args.format == "md" else to_json(recorded)
    for warning in recorded.warnings:
        print(f"rlm-tui: warning: {warning}", file=sys.stderr)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 1)
    else:
        sys.stdout.write(text)
    return 0


def run_history(args: argparse.Namespace) -> int:
    from .app import RLMApp
    from .screens.history import HistoryScreen
    from .session import Session, Settings

    RLMApp(Session.create(Settings()), first_screen=HistoryScreen(exit_on_close=True)).run()
    return 0


def run_app(args: argparse.Namespace) -> int:
    try:
        from .app import main as app_main  # noqa: PLC0415 - textual loads only for the app
    except ImportError:
        print("rlm-tui: the full-screen app is not part of this build yet; "
              "use `rlm-tui ask \"QUESTION\" --context FILE`", file=sys.stderr)
        return 2
    return app_main(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ask":
            return run_ask(args)
        if args.command == "bench":
            return run_bench(args)
        if args.command == "fork":
            from .fork_cli import run_fork
            return run_fork(args)
        if args.command in ("replay", "export", "history"):
            return {"replay": run_replay, "export": run_export,
                    "history": run_history}[args.command](args)
        return run_app(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
