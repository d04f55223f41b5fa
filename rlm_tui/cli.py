"""The `rlm-tui` command.

    rlm-tui [flags]                      the full-screen app
    rlm-tui ask "PROMPT" [flags]         one question, answer on stdout (for scripts)
    rlm-tui bench [flags]                compare models on long-context tasks (--no-tui: a report)
    rlm-tui replay FILE                  step through a recorded run (ours, or an rlms log)
    rlm-tui export FILE --format md|json a recorded run as a Markdown report or JSON
    rlm-tui history                      past runs and benchmarks
    rlm-tui fork FILE --at N [-m MODEL]  fork a recorded run at iteration N, go on live
    rlm-tui export FILE --format rlms    a run as the official rlms package's JSONL log
    rlm-tui demo [flags]                 find a hidden number in 10,000 lines, live (--no-tui)
    rlm-tui --version

The model flags (-m, -r, -c, ...) mean the same before or after `ask`; commands that take
none refuse them. A closed output pipe (`ask ... | head`) ends quietly with status 141.

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

from . import limits
from .cli_args import UsageError, build_parser, resolve_model_args
from .session import settings_from_args


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
    if run.trajectory_error:  # the run went on without its file: say so, once
        print(f"rlm-tui: warning: {run.trajectory_error}", file=sys.stderr)
    if args.json:
        print(json.dumps({**result.to_dict(), "sandbox": rlm.sandbox_state().to_dict()},
                         ensure_ascii=False, indent=2))
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
        rlm = RLM.from_config(settings_from_args(args))
    except RLMError as exc:
        return _fail(str(exc))
    return asyncio.run(_ask(rlm, args, context))


def run_demo(args: argparse.Namespace) -> int:
    """`rlm-tui demo`: the app with the live demo started, or --no-tui: headless, exit 0 when
    the model found the number, 1 when not (or the run failed)."""
    if args.context:
        return _fail("demo loads its own context (a generated haystack): drop --context")
    if not args.no_tui:
        return run_app(args)
    from rlm_engine.demo import make_demo

    try:
        rlm = RLM.from_config(settings_from_args(args))
        demo = make_demo(args.seed)
    except RLMError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"could not write the haystack: {exc.strerror or exc}")
    print(f"rlm-tui: {demo.lines:,} lines in {demo.path}; asking {rlm.model}: {demo.prompt}",
          file=sys.stderr)
    args.prompt, args.json, args.verbose = demo.prompt, False, True

    async def go() -> int:
        from rlm_engine import events as ev

        run = rlm.start(demo.prompt, demo.path)
        try:
            async for e in run:
                _show(e, ev)
        finally:
            await rlm.aclose()
        found, line = demo.verdict(run.result.answer)
        if run.result.status != "completed":
            print(f"rlm-tui: {run.result.error}", file=sys.stderr)
        print(line)
        return 0 if found else 1

    return asyncio.run(go())


def run_bench(args: argparse.Namespace) -> int:
    from .bench_cli import bench_main

    return bench_main(args)


def load_recorded(path: str):
    from rlm_engine.replay import RecordedRun

    p = Path(path).expanduser()
    if not p.exists():
        raise RLMError(f"no such file: {p}")
    if not p.is_file():  # a directory, a FIFO, /dev/zero: never read as a run
        raise RLMError(f"{p} is not a regular file")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    problems: list[str] = []
    config = limits.load_config(problems.append)  # config.toml's [run], under any flag given
    for problem in problems:
        print(f"rlm-tui: {problem}", file=sys.stderr)
    try:
        args = resolve_model_args(args, config)
    except UsageError as exc:
        return _fail(str(exc))
    limits.apply_config(args, config)  # e.g. bench's limit flags
    args.config_problems = problems  # the app shows them too (stderr is hidden behind it)
    try:
        if args.command == "ask":
            return run_ask(args)
        if args.command == "bench":
            return run_bench(args)
        if args.command == "demo":
            return run_demo(args)
        if args.command == "fork":
            from .fork_cli import run_fork
            return run_fork(args)
        if args.command in ("replay", "export", "history"):
            return {"replay": run_replay, "export": run_export,
                    "history": run_history}[args.command](args)
        return run_app(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader went away (`rlm-tui ask … | head`): stop quietly, as other tools do, with
    the status of a process ended by SIGPIPE (128 + 13). stdout is pointed at /dev/null so
    the interpreter's last flush does not complain either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
