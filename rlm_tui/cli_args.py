"""The `rlm-tui` command line's flags: the parser of every subcommand, and the one meaning
of the model flags wherever they stand (`resolve_model_args`). `cli.py` runs the commands.
"""

from __future__ import annotations

import argparse
from typing import Optional

from rlm_engine.config import DEFAULT_MODEL, RunConfig

from . import limits


MODEL_DESTS = ("model", "recursive_model", "context", "host", "max_iterations", "num_ctx",
               "temperature", "think", "max_tokens", "max_timeout", *limits.RUN_LIMITS)
MODEL_DEFAULTS = {"model": DEFAULT_MODEL, "recursive_model": None, "context": None,
                  "host": None, "max_iterations": RunConfig.max_iterations,
                  "num_ctx": RunConfig.num_ctx, "temperature": RunConfig.temperature,
                  "think": None, "max_tokens": None, "max_timeout": None,
                  **{name: None for name in limits.RUN_LIMITS}}  # None: the engine's default
ROOT = "root_"  # the root parser's model flags land under root_<dest>; see resolve_model_args


def add_model_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The model flags. Defaults are filled in by resolve_model_args, not here: a subcommand's
    default must not overwrite what was given before the subcommand."""
    def arg(*flags: str, dest: str, **kw) -> None:
        if "action" not in kw:
            kw.setdefault("metavar", dest.upper())  # not ROOT_MODEL in --help
        p.add_argument(*flags, dest=prefix + dest, default=argparse.SUPPRESS, **kw)

    arg("--model", "-m", dest="model", type=limits.text,
        help=f"root model spec (default {DEFAULT_MODEL}); e.g. qwen3:4b, "
             "openai:gpt-4o-mini, anthropic:claude-haiku-4-5, http://host:11434/qwen3:72b")
    arg("--recursive-model", "-r", dest="recursive_model", type=limits.text,
        help="model for llm_query() sub-calls (default: same as --model)")
    arg("--context", "-c", dest="context", metavar="FILE",
        help="file or directory loaded as `context` (text, .json, .jsonl, .csv)")
    arg("--host", dest="host",
        help="Ollama address (default: $OLLAMA_HOST, else localhost:11434)")
    arg("--max-iterations", dest="max_iterations", type=limits.count,
        help=f"root-model turns (default {RunConfig.max_iterations})")
    arg("--num-ctx", dest="num_ctx", type=limits.count,
        help=f"context window passed to Ollama (default {RunConfig.num_ctx})")
    arg("--temperature", dest="temperature", type=limits.temperature,
        help=f"sampling temperature ({RunConfig.temperature})")
    arg("--think", dest="think", action=argparse.BooleanOptionalAction,
        help="thinking mode on/off (default: the model's own)")
    arg("--max-tokens", dest="max_tokens", type=limits.count,
        help="stop the run after this many tokens in all (default: no limit)")
    arg("--max-timeout", dest="max_timeout", type=limits.seconds, metavar="SECONDS",
        help="stop the run after this many seconds (default: no limit)")
    for name, (flag, kind, help_text) in limits.RUN_LIMITS.items():
        arg(flag, dest=name, type=kind, help=help_text,
            metavar="MB" if name == "memory_mb" else "N" if kind is limits.count else "SECONDS")
    add_sandbox_args(p)


def add_sandbox_args(p: argparse.ArgumentParser) -> None:
    """Where model code runs (rlm_engine/repl/sandbox.py; README: The REPL sandbox). Not
    prefixed: given before or after the subcommand, they mean the same."""
    p.add_argument("--no-sandbox", action="store_true", default=argparse.SUPPRESS,
                   help="run model code without the bubblewrap sandbox (also RLM_TUI_SANDBOX=off)")
    p.add_argument("--sandbox-network", action="store_true", default=argparse.SUPPRESS,
                   help="let sandboxed model code use the network")
    p.add_argument("--sandbox-bind", action="append", default=argparse.SUPPRESS,
                   metavar="PATH", help="show PATH to sandboxed model code, read-only (repeatable)")


class UsageError(Exception):
    """A flag given where it has no meaning (exit 2 with one line)."""


def resolve_model_args(args: argparse.Namespace,
                       config: Optional[dict] = None) -> argparse.Namespace:
    """One meaning per flag wherever it stands: `rlm-tui -m X ask q` and `rlm-tui ask q -m X`
    are the same run (after the subcommand wins when both are given). Commands that take no
    model flags (bench, replay, export, history) refuse them instead of ignoring them.
    A flag given nowhere takes config.toml's value (`config`), else its default."""
    given_root = {d: getattr(args, ROOT + d) for d in MODEL_DESTS if hasattr(args, ROOT + d)}
    for d in MODEL_DESTS:
        if hasattr(args, ROOT + d):
            delattr(args, ROOT + d)
    if args.command in (None, "ask", "demo", "fork"):
        # a fork's models default to its parent's (fork_cli), not to config.toml's
        parents = ("model", "recursive_model") if args.command == "fork" else ()
        for d in MODEL_DESTS:
            if not hasattr(args, d):
                setattr(args, d, given_root.get(d, None if d in parents else
                                                (config or {}).get(d, MODEL_DEFAULTS[d])))
        return args
    if given_root:
        flags = ", ".join("--" + d.replace("_", "-") for d in given_root)
        hint = {"bench": " (bench picks its models with --ollama and --cloud, and takes "
                         "--max-iterations after `bench`)"}.get(args.command, "")
        raise UsageError(f"{flags} does not apply to `{args.command}`{hint}")
    return args


def package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version("rlm-tui")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="rlm-tui",
        description="Recursive Language Models in your terminal: a model answers by writing "
                    "Python that explores your data, and you watch every step.",
    )
    p.add_argument("--version", action="version", version=f"rlm-tui {package_version()}")
    add_model_args(p, ROOT)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    ask = sub.add_parser("ask", help="answer one question and print the answer",
                         description="Answer one question with an RLM run; print the answer.")
    ask.add_argument("prompt", type=limits.text, help="the question")
    add_model_args(ask)
    ask.add_argument("--json", action="store_true",
                     help="print the whole result (answer, usage, iterations) as one JSON object")
    ask.add_argument("--verbose", "-v", action="store_true",
                     help="show the model's replies, code and output on stderr as they come")
    demo = sub.add_parser("demo", help="find a hidden number in 10,000 lines, live on your model",
                          description="Generate a 10,000-line haystack with a random 7-digit "
                                      "number, load it as context, ask your model for the "
                                      "number and say whether it found it (in the app, or "
                                      "with --no-tui on the terminal).")
    add_model_args(demo)
    demo.add_argument("--no-tui", action="store_true",
                      help="run headless: the run on stderr, the verdict on stdout")
    demo.add_argument("--seed", type=int, default=None, help="with --no-tui: the haystack's seed (default random)")
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

    from .bench_cli import add_limit_args, lengths_arg

    b = sub.add_parser("bench", help="compare models on long-context tasks, live",
                       description="Run every model on the same seeded tasks, as an RLM and "
                                   "called directly, at one or more haystack lengths; the "
                                   "results table and accuracy chart fill in as trials finish.")
    b.add_argument("--lines", type=lengths_arg, default=[10000], metavar="N[,N...]",
                   help="haystack sizes in lines, e.g. 1000,10000,100000 (10000)")
    b.add_argument("--mode", choices=("rlm", "direct", "both"), default="both",
                   help="rlm: the model as an RLM; direct: the whole haystack in one prompt, "
                        "cut to --num-ctx; both (default): the comparison")
    b.add_argument("--num-ctx", type=limits.count, default=RunConfig.num_ctx, metavar="TOKENS",
                   help=f"the model's context window: Ollama's num_ctx, and where the direct "
                        f"mode cuts the haystack ({RunConfig.num_ctx})")
    b.add_argument("--trials", type=limits.count, default=3,
                   help="trials per model, mode and length (3)")
    b.add_argument("--seed", type=limits.seed, default=None,
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
    b.add_argument("--parallel", type=limits.count, default=1, help="trials at once (1)")
    b.add_argument("--max-iterations", type=limits.count, default=RunConfig.max_iterations,
                   help=f"root turns per trial ({RunConfig.max_iterations})")
    add_limit_args(b)
    b.add_argument("--no-tui", action="store_true", help="run headless and print the table")
    b.add_argument("--out", default=None, metavar="FILE",
                   help="also write the results here (JSON, or CSV for a .csv name)")
    b.add_argument("--open", default=None, metavar="FILE",
                   help="show saved results (a JSON file from the data directory)")


class Parser(argparse.ArgumentParser):
    """Bad arguments are one line (what is wrong and where to look), not a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")
