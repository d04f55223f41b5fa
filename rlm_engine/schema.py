"""Checking what we read back before trusting it: one JSON line at a time, one event at a time.

Trajectories, `rlms` logs and the history scan all read files that may be cut off, damaged, or
written by someone hostile. Everything they decode passes through here first:

- `json_lines(path)` yields each non-blank line's JSON value, never holding more than
  `MAX_LINE_BYTES` of one line in memory; a longer line, a line that is not JSON (or nests
  too deep to parse) comes out as `BAD`, so the caller counts it and goes on.
- `decode_event(data)` checks a line against the event class its ``"type"`` names, field by
  field, from the dataclass annotations (so it follows events.py as fields are added or
  retyped): each value has the declared type (an int is not a bool, a float is finite),
  numbers are in range (never negative, never above `MAX_NUMBER`; an iteration is 1-based),
  lists hold at most `MAX_ITEMS`, nested dataclasses (usage, context, variables) are checked
  the same way (one with its own ``from_dict`` may leave fields out, as its serialised form
  does; those it has are checked), ``Literal`` fields hold one of their values. It raises `BadEvent` (a
  ValueError with a one-line reason) instead of building an event from a bad line.

What a number in a valid line may mean relative to the rest of the run (an iteration past
the last one seen) is the fold's business: `RunState` refuses such events (state.py).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from .events import EVENT_TYPES, Event, event_from_dict

MAX_LINE_BYTES = 64 * 1024 * 1024  # a longer line is skipped unread (an event is far smaller)
MAX_NUMBER = 2 ** 53  # counts, indexes, seconds, tokens: beyond this a file is lying
MAX_ITEMS = 100_000  # entries of one list (e.g. a block's variables)
MINIMUM = {"iteration": 1}  # fields whose lower bound is not 0

# The keys other code indexes into, for fields annotated as a plain dict, by (event kind, field).
DICT_SHAPES: dict[tuple[str, str], dict[str, type]] = {
    ("run_finished", "usage"): {"total_prompt_tokens": int, "total_completion_tokens": int},
}


class _Bad:
    def __repr__(self) -> str:
        return "BAD"


BAD: Any = _Bad()  # a line that was not usable JSON


class BadEvent(ValueError):
    """A line that is not a valid event; `unknown` when only its type is unknown (a newer
    version's event), not damage."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        message = " ".join(message.split())  # one line, however odd the names in the file
        super().__init__(message if len(message) <= 200 else message[:197] + "...")
        self.unknown = unknown


def json_lines(path: "str | Path") -> Iterator[Any]:
    """Each non-blank line of `path` parsed as JSON, or `BAD`. Memory stays under
    `MAX_LINE_BYTES` per line whatever the file holds."""
    with open(path, "rb") as fh:
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = fh.readline(1 << 20)
                yield BAD
                continue
            if not raw.strip():
                continue
            yield parse_json(raw)


def parse_json(raw: "bytes | str") -> Any:
    """One JSON value, or `BAD` (undecodable, malformed, or nested too deep). A lone
    surrogate escaped in the JSON (``"\\ud800"``) comes back escaped as text, so what was
    read can be written anywhere again (files, terminals, HTTP)."""
    try:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        value = json.loads(text)
        if "\\ud" in text or "\\uD" in text:  # rare: only then walk the value
            value = _no_surrogates(value)
        return value
    except (ValueError, RecursionError):
        return BAD


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    return value


def decode_event(data: Any) -> Event:
    """The event a parsed line describes, once it has passed the checks above; raises
    `BadEvent` with a one-line reason otherwise."""
    if not isinstance(data, dict):
        raise BadEvent(f"not an object but {_kind(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadEvent(f"'type' is {_kind(kind)}, not a name")
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise BadEvent(f"unknown event type {kind[:40]!r}", unknown=True)
    problem = _check_dataclass(cls, data, kind)
    if problem:
        raise BadEvent(f"{kind}: {problem}")
    try:
        return event_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:  # a check this module lacks: still a skip
        raise BadEvent(f"{kind}: {type(exc).__name__}: {exc}") from exc


def check_fields(cls: type, data: Any) -> Optional[str]:
    """None when the parsed JSON `data` fits dataclass `cls` (as `decode_event` checks an
    event), else a one-line reason. For other files of ours, e.g. saved benchmarks."""
    if not isinstance(data, dict):
        return f"not an object but {_kind(data)}"
    return _check_dataclass(cls, data)


# -- the checks ------------------------------------------------------------------------------

_PLANS: dict[type, list[tuple[str, bool, Any, bool]]] = {}
_SEQUENCES = (tuple, list, collections.abc.Sequence)  # the origins of tuple[...], Sequence[...]
_MAPPINGS = (dict, collections.abc.Mapping)


def _plan(cls: type) -> list[tuple[str, bool, Any, bool]]:
    """(field, required, annotation, is a plain mapping) for each field, worked out once."""
    plan = _PLANS.get(cls)
    if plan is None:
        module = sys.modules.get(cls.__module__)
        hints = typing.get_type_hints(cls, vars(module) if module else None)
        # a type with its own `from_dict` fills in what its serialised form leaves out
        # (e.g. a per-model usage keyed by its model's name): only what is there is checked
        own_reader = callable(getattr(cls, "from_dict", None))
        plan = _PLANS[cls] = [
            (f.name,
             not own_reader and f.default is dataclasses.MISSING
             and f.default_factory is dataclasses.MISSING,
             hints.get(f.name, Any),
             hints.get(f.name) is dict or typing.get_origin(hints.get(f.name)) in _MAPPINGS)
            for f in dataclasses.fields(cls)]
    return plan


def _check_dataclass(cls: type, data: dict, kind: str = "", prefix: str = "") -> Optional[str]:
    for field_name, required, hint, mapping in _plan(cls):
        if field_name not in data:
            if required:
                return f"'{prefix}{field_name}' is missing"
            continue
        value = data[field_name]
        problem = _check(hint, value, prefix + field_name)
        if problem is None and mapping:
            problem = _check_shape(DICT_SHAPES.get((kind, field_name)), value,
                                   prefix + field_name)
        if problem:
            return problem
    return None


def _check_shape(shape: Optional[dict[str, type]], value: dict, name: str) -> Optional[str]:
    for key, hint in (shape or {}).items():
        if key not in value:
            return f"'{name}' has no '{key}'"
        problem = _check(hint, value[key], f"{name}.{key}")
        if problem:
            return problem
    return None


def _check(hint: Any, value: Any, name: str) -> Optional[str]:
    """None when `value` (parsed JSON) fits `hint`, else a short reason."""
    if hint is str:  # the common cases first, before any typing introspection
        return None if isinstance(value, str) else f"'{name}' is {_kind(value)}, not text"
    if hint is int or hint is float:
        return _check_number(hint, value, name)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return None
    if origin is typing.Literal:
        ok = any(type(value) is type(a) and value == a for a in args)
        return None if ok else f"'{name}' is {_show(value)}, not one of {list(args)}"
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = [_check(a, value, name) for a in args if a is not type(None)]
        return None if any(p is None for p in problems) else problems[0]
    if origin in _SEQUENCES or hint in (tuple, list):
        if not isinstance(value, list):
            return f"'{name}' is {_kind(value)}, not a list"
        if len(value) > MAX_ITEMS:
            return f"'{name}' holds {len(value):,} items (at most {MAX_ITEMS:,})"
        inner = args[0] if args and (origin is not tuple or (len(args) == 2 and args[1] is ...)) \
            else None
        if origin is tuple and args and inner is None:  # a fixed-length tuple
            if len(value) != len(args):
                return f"'{name}' holds {len(value)} items, not {len(args)}"
            checks = list(zip(args, value, strict=True))
        else:
            checks = [(inner, v) for v in value] if inner is not None else []
        for i, (h, v) in enumerate(checks):
            problem = _check(h, v, f"{name}[{i}]")
            if problem:
                return problem
        return None
    if origin in _MAPPINGS or hint is dict:
        if not isinstance(value, dict):
            return f"'{name}' is {_kind(value)}, not an object"
        if len(value) > MAX_ITEMS:
            return f"'{name}' holds {len(value):,} entries (at most {MAX_ITEMS:,})"
        if len(args) == 2:
            for k, v in value.items():
                problem = _check(args[1], v, f"{name}.{k}")
                if problem:
                    return problem
        return None
    if hint is bool:
        return None if isinstance(value, bool) else f"'{name}' is {_kind(value)}, not true/false"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return f"'{name}' is {_kind(value)}, not an object"
        return _check_dataclass(hint, value, prefix=name + ".")
    return None  # a type this check does not know: trusted as events.py rebuilds it


def _check_number(hint: type, value: Any, name: str) -> Optional[str]:
    wanted = "an integer" if hint is int else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (hint is int and not isinstance(value, int)):
        return f"'{name}' is {_kind(value)}, not {wanted}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"'{name}' is {value}, not {wanted}"
    low = MINIMUM.get(name, 0)
    if value < low:
        return f"'{name}' is {_show(value)}, below {low}"
    if value > MAX_NUMBER:
        return f"'{name}' is {_show(value)}, too large to be true"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {_show(value)}"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
