"""`rlm-tui fork FILE --at N`: fork a recorded run at an iteration and go on live, headless.

The models default to the parent's (its root and sub models as recorded), so only what
changes needs saying. The context is found again where the parent loaded it from (or, for an
rlms log, taken from the log); `--context` gives another. `--max-iterations` counts the new
turns after the fork point. Output and exit codes are those of `ask` (0 answered, 1 the run
failed — also when the rebuild diverged —, 2 bad arguments, 130 interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path


def add_fork_args(sub) -> None:
    from .cli_args import add_model_args
    from rlm_engine.config import RunConfig

    f = sub.add_parser(
        "fork", help="fork a recorded run at an iteration and go on live",
        description="Rebuild a recorded run's REPL up to iteration N (its code re-run, its "
                    "sub-calls answered from the recording: no model is called for that part), "
                    "then go on live, with the same or other models.")
    f.add_argument("file", help="a .jsonl trajectory or rlms log")
    f.add_argument("--at", type=int, required=True, metavar="N",
                   help="the last iteration to take over (0: start again from the question)")
    add_model_args(f)
    helps = {"model": "root model spec for the new part (default: the parent's)",
             "recursive_model": "sub-call model (default: the parent's)",
             "context": "the context to load (default: the parent's, found again)",
             "max_iterations": f"root-model turns after the fork point (default "
                               f"{RunConfig.max_iterations})"}
    for action in f._actions:
        action.help = helps.get(action.dest, action.help)
    f.add_argument("--question", "-q", default="", metavar="TEXT",
                   help="a note added to what the model is told next (at 0: a new question)")
    f.add_argument("--code", default=None, metavar="FILE",
                   help="a code block to run first, as the fork's first new iteration "
                        "('-' reads it from stdin)")
    f.add_argument("--keep-going", action="store_true",
                   help="go on past a divergence (a block whose output differs from the "
                        "recording) instead of stopping there")
    f.add_argument("--json", action="store_true", help="print the whole result as JSON")
    f.add_argument("--verbose", "-v", action="store_true",
                   help="show the new part's replies, code and output on stderr")


def run_fork(args: argparse.Namespace) -> int:
    from rlm_engine import RLMError
    from rlm_engine.fork import ForkOptions
    from rlm_engine.rlms_log import is_rlms_log

    from rlm_engine import RLM

    from .cli import _fail, load_recorded
    from .session import settings_from_args

    try:
        parent = load_recorded(args.file)
        start = parent.state.started
        rlms = is_rlms_log(args.file)
        if rlms and not args.model:
            return _fail("an rlms log names its models without their backend: say which model "
                         "goes on with -m MODEL (and -r MODEL for sub-calls)")
        model = args.model or start.model
        # the sub model stays the parent's, unless the parent used its root model for both
        sub = args.recursive_model or (
            start.recursive_model if start.recursive_model != start.model and not rlms
            else None)
        code = ""
        if args.code == "-":
            code = sys.stdin.read()
        elif args.code:
            code = Path(args.code).expanduser().read_text(encoding="utf-8")
        context = None
        if args.context:
            from rlm_engine import check_context_path
            context = check_context_path(args.context)
        args.model, args.recursive_model = model, sub
        rlm = RLM.from_config(settings_from_args(args))
        options = ForkOptions(at=args.at, instruction=args.question, code=code,
                              keep_going=args.keep_going)
    except (RLMError, OSError, ValueError) as exc:
        return _fail(str(exc) if not isinstance(exc, OSError) else
                     f"cannot read {exc.filename or args.code}: {exc.strerror or exc}")
    return asyncio.run(_fork(rlm, parent, options, context, args))


async def _fork(rlm, parent, options, context, args) -> int:
    from rlm_engine import RLMError
    from rlm_engine import events as ev
    from rlm_engine.fork import start_fork, where

    from .cli import _fail, _show

    try:
        run = start_fork(rlm, parent, options, context)
    except RLMError as exc:
        await rlm.aclose()
        return _fail(str(exc))
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, run.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    restored = False
    try:
        async for e in run:
            if isinstance(e, ev.ForkDiverged):
                print(f"rlm-tui: {'warning: ' if options.keep_going else ''}diverged "
                      f"{where(e.iteration, e.index)}: {e.what}", file=sys.stderr)
                if e.diff:
                    print(e.diff, file=sys.stderr)
            elif isinstance(e, ev.ForkRestored):
                restored = True
                print(f"rlm-tui: rebuilt {e.iteration} iteration(s) ({e.blocks} block(s) re-run, "
                      f"{e.served_calls} sub-call(s) from the recording); going on live",
                      file=sys.stderr)
            elif args.verbose and restored:
                _show(e, ev)
    finally:
        await rlm.aclose()
    result = run.result
    if args.json:
        data = result.to_dict()
        data.update(forked_from=parent.state.run_id, fork_file=str(parent.path),
                    fork_at=options.at)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif result.answer:
        print(result.answer)
    if run.trajectory_path:
        print(f"rlm-tui: the fork is saved as {run.trajectory_path}", file=sys.stderr)
    if result.status == "cancelled":
        return 130
    if result.status != "completed":
        print(f"rlm-tui: {result.error}", file=sys.stderr)
        return 1
    return 0
