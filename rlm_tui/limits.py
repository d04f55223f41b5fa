"""Numbers on the command line and in ``config.toml``, checked before anything runs.

Every numeric flag has an argparse ``type=`` from here, so a bad value stops the command at
once with one line that names the flag, what it takes and what it got (``--max-iterations 0``
used to become 1, ``--max-timeout 0`` "no limit", ``nan`` failed mid-run). Limits are never
0 or negative: leaving a flag out is how to say "the default" (or "no limit", where that is
the default). Text arguments (the question, model specs) must be valid Unicode: a question
that is not UTF-8 on the command line arrives with lone surrogates, which no backend accepts.

The run limits can also be set in ``<config dir>/config.toml`` (``$RLM_TUI_CONFIG_DIR``, else
platformdirs' user config dir for "rlm-tui"); a flag wins over the file::

    [run]
    max_iterations = 20
    memory_mb = 8192          # the REPL worker's address-space cap
    block_timeout = 300       # seconds one code block may run
    max_timeout = 1800        # seconds a whole run may take
    max_tokens = 200000
    max_concurrent_subcalls = 4
    max_depth = 2             # 2: model code may start child runs with rlm_query

A bad value in the file is one warning (on stderr, and in the app) and is left out (the
default holds).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable

from rlm_engine.paths import config_dir

MIN_MEMORY_MB = 256  # the worker's Python itself needs about this much address space



def _number(kind: type, low: float, what: str, unit: str = "") -> Callable[[str], Any]:
    """A type= for argparse: `kind` (int or float), finite, at least `low`."""
    def parse(text: str) -> Any:
        word = "a whole number" if kind is int else "a number"
        try:
            value = kind(text)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(
                f"takes {word} {what}, not {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"takes {word} {what}, not {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"takes {word} {what}, not {text}{unit}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


count = _number(int, 1, "of at least 1")  # iterations, tokens, parallel trials, depth...
seconds = _number(float, 0.001, "of seconds above 0 (leave the flag out for the default)", " s")
temperature = _number(float, 0.0, "of at least 0")
memory_mb = _number(int, MIN_MEMORY_MB, f"of megabytes, at least {MIN_MEMORY_MB}", " MB")
seed = _number(int, 0, "of at least 0")


def text(value: str) -> str:
    """Text that can be sent anywhere: no lone surrogates (bytes that were not UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start:exc.end].encode("utf-8", "surrogateescape")
        raise argparse.ArgumentTypeError(
            f"is not valid UTF-8 (byte {bad[:1].hex(' ') or '?'} at character {exc.start}): "
            f"check the terminal's encoding (LANG / LC_ALL) or the file it came from") from None
    return value


# name in config.toml and on Settings -> (flag, type=, help)
RUN_LIMITS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "memory_mb": ("--memory-mb", memory_mb,
                  "address-space cap of the REPL worker, in MB (default 4096)"),
    "block_timeout": ("--block-timeout", seconds,
                      "seconds one code block may run before it is stopped (default 120)"),
    "max_concurrent_subcalls": ("--max-concurrent-subcalls", count,
                                "llm_query calls at once from one block (default 4)"),
    "max_depth": ("--max-depth", count,
                  "run depth: 2 or more lets model code start child runs with rlm_query "
                  "(default 1)"),
}


def add_run_limit_args(p: argparse.ArgumentParser) -> None:
    """--memory-mb, --block-timeout, --max-concurrent-subcalls, --max-depth (default: None,
    meaning config.toml's value or the engine's default)."""
    for name, (flag, kind, help_text) in RUN_LIMITS.items():
        p.add_argument(flag, type=kind, default=None, dest=name,
                       metavar="MB" if name == "memory_mb" else "N" if kind is count
                       else "SECONDS", help=help_text)


# every number config.toml's [run] may hold, with its check
CONFIG_KEYS: dict[str, Callable[[str], Any]] = {
    "max_iterations": count, "max_tokens": count, "max_timeout": seconds,
    **{name: kind for name, (_flag, kind, _help) in RUN_LIMITS.items()},
}


def load_config(warn: Callable[[str], None] = lambda m: print(f"rlm-tui: {m}",
                                                              file=sys.stderr)) -> dict:
    """{name: value} from config.toml's [run], each value checked as its flag is; a bad one
    is said through `warn` (one line) and left out."""
    path = config_dir() / "config.toml"
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            warn(f"{path} was not read: reading TOML needs Python 3.11 or the tomli package")
            return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        warn(f"{path} was not read: {' '.join(str(exc).split())}")
        return {}
    run = data.get("run", {})
    if not isinstance(run, dict):
        warn(f"{path}: [run] should be a table of limits")
        return {}
    out = {}
    for key, value in run.items():
        check = CONFIG_KEYS.get(key)
        if check is None:
            warn(f"{path}: [run] {key} is not a setting (known: {', '.join(CONFIG_KEYS)})")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            warn(f"{path}: [run] {key} takes a number, not {value!r}")
            continue
        try:
            out[key] = check(repr(value) if isinstance(value, float) else str(value))
        except argparse.ArgumentTypeError as exc:
            warn(f"{path}: [run] {key} {exc}")
    return out


def apply_config(args: argparse.Namespace, config: dict) -> None:
    """config.toml's value for each setting the command has but no flag set (None)."""
    for name, value in config.items():
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, value)
