"""Typed, immutable events: everything a run does, in order.

A run is an async stream of these. The UI renders them, the trajectory writer stores them one
JSON line each, and `RunState` folds them into a result, so a live run and a replayed file go
through the same code.

Every event carries:
  t       seconds since the run started (for replay at the original pace)
  run_id  the run it belongs to (child runs of `rlm_query` have their own)
  depth   0 for the root run, 1 for a child run, ...

Events are values: `Run.emit(ev.RunFailed(error=..., reason="backend"))` stamps the three
envelope fields (`stamped`) and publishes the event. Closed sets are `Literal` types
(`RunStatus`, `FailReason`, `AnswerSource`, `Stream`, `CallKind`, `BackendErrorKind`), so
mypy catches a misspelt one.

Serialised form: ``{"type": "<kind>", ...fields}`` with nested dataclasses as objects and
usage as the dicts it always was; files of older versions still load.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional, TypeVar

from .errors import BackendErrorKind
from .usage import ModelUsage, Usage, UsageSummary

# "interrupted": a recorded run whose file ends before RunFinished (state.py)
RunStatus = Literal["running", "completed", "failed", "cancelled", "interrupted"]
EndStatus = Literal["completed", "failed", "cancelled"]  # how a finished run ended
# why a run failed: "log" is a foreign log that ends without an answer
FailReason = Literal["backend", "empty_reply", "max_tokens", "max_timeout", "repl", "config",
                     "no_answer", "internal", "log", "diverged"]
AnswerSource = Literal["FINAL", "FINAL_VAR", "answer", "forced", "plain"]
Stream = Literal["stdout", "stderr"]
CallKind = Literal["llm", "rlm"]  # llm_query, or rlm_query (a child run)

EVENT_TYPES: dict[str, type["Event"]] = {}


@dataclass(frozen=True)
class VarInfo:
    """One REPL variable, as the variable inspector shows it."""

    name: str
    type: str
    size: Optional[int] = None  # len() where it has one
    nbytes: int = 0  # shallow sys.getsizeof
    preview: str = ""


@dataclass(frozen=True)
class ContextInfo:
    """What the root model is told about `context` (never the data itself)."""

    type: str = "NoneType"
    chars: int = 0
    lines: int = 0
    items: Optional[int] = None
    preview: str = ""
    name: str = ""  # file name, when loaded from a file
    kind: str = ""  # text / json / jsonl / csv / directory / string / object / none
    note: str = ""  # e.g. the special files a context directory held, skipped


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float = 0.0
    run_id: str = ""
    depth: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        EVENT_TYPES[cls.kind] = cls

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"type": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


E = TypeVar("E", bound=Event)


def stamped(event: E, *, t: float, run_id: str, depth: int) -> E:
    """The event with its envelope filled in (events are built without one, then emitted)."""
    return dataclasses.replace(event, t=t, run_id=run_id, depth=depth)


# --- run lifecycle -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    prompt: str
    model: str
    recursive_model: str
    max_iterations: int
    context: ContextInfo = field(default_factory=ContextInfo)
    system_prompt: str = ""
    started_at: float = 0.0  # Unix time
    parent_run_id: str = ""
    settings: dict = field(default_factory=dict)
    context_path: str = ""  # the file or directory loaded as context, when there was one
    # a fork (fork.py) names the run it was forked from, its file, and the last iteration
    # it took over; empty for a run started from scratch
    forked_from: str = ""
    fork_file: str = ""
    fork_at: int = 0
    # root runs that ran before this one in the same REPL worker (a session's earlier
    # questions): their variables were there when this run started
    earlier_runs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class IterationStarted(Event):
    kind: ClassVar[str] = "iteration_started"
    iteration: int  # 1-based


@dataclass(frozen=True, kw_only=True)
class ThinkingDelta(Event):
    kind: ClassVar[str] = "thinking_delta"
    iteration: int
    text: str


@dataclass(frozen=True, kw_only=True)
class TokenDelta(Event):
    kind: ClassVar[str] = "token_delta"
    iteration: int
    text: str


@dataclass(frozen=True, kw_only=True)
class ReplyFinished(Event):
    """The root model's reply for one iteration, complete (cut where it invented output)."""

    kind: ClassVar[str] = "reply_finished"
    iteration: int
    text: str
    thinking: str = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    cut: bool = False  # True when text past a code block was dropped as invented output


@dataclass(frozen=True, kw_only=True)
class CodeBlockStarted(Event):
    kind: ClassVar[str] = "code_block_started"
    iteration: int
    index: int  # 0-based within the iteration
    code: str


@dataclass(frozen=True, kw_only=True)
class CodeOutput(Event):
    """A chunk of stdout or stderr, live, while the block runs."""

    kind: ClassVar[str] = "code_output"
    iteration: int
    index: int
    stream: Stream
    text: str


@dataclass(frozen=True, kw_only=True)
class CodeBlockFinished(Event):
    kind: ClassVar[str] = "code_block_finished"
    iteration: int
    index: int
    duration: float
    error: Optional[str] = None  # one line, e.g. "NameError: name 'x' is not defined"
    output_chars: int = 0  # all stdout+stderr the block wrote
    variables: tuple[VarInfo, ...] = ()
    final: Optional[str] = None  # set when the block called FINAL/FINAL_VAR or set answer
    restarted: bool = False  # the worker had to be restarted (state lost)
    output_file: Optional[str] = None  # the whole output, when it was too big for events


@dataclass(frozen=True, kw_only=True)
class FeedbackSent(Event):
    """The next user message the root model gets: code output, a nudge, or an error."""

    kind: ClassVar[str] = "feedback_sent"
    iteration: int
    text: str


@dataclass(frozen=True, kw_only=True)
class SubCallStarted(Event):
    kind: ClassVar[str] = "subcall_started"
    call_id: str
    iteration: int
    index: int
    model: str
    prompt_preview: str
    prompt_chars: int
    call_kind: CallKind = "llm"
    child_run_id: str = ""


@dataclass(frozen=True, kw_only=True)
class SubCallFinished(Event):
    kind: ClassVar[str] = "subcall_finished"
    call_id: str
    model: str
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    error: Optional[str] = None


@dataclass(frozen=True, kw_only=True)
class UsageUpdated(Event):
    """Running totals after a call, per model (stored as {model: {prompt_tokens, ...}})."""

    kind: ClassVar[str] = "usage_updated"
    by_model: dict[str, ModelUsage]
    total_tokens: int


@dataclass(frozen=True, kw_only=True)
class FinalAnswer(Event):
    kind: ClassVar[str] = "final_answer"
    answer: str
    iteration: int
    source: AnswerSource


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    kind: ClassVar[str] = "run_failed"
    error: str  # one line, for people
    reason: FailReason
    partial_answer: str = ""
    error_kind: Optional[BackendErrorKind] = None  # with reason "backend": what went wrong


@dataclass(frozen=True, kw_only=True)
class RunCancelled(Event):
    kind: ClassVar[str] = "run_cancelled"
    partial_answer: str = ""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """Always the last event of a run, whatever happened."""

    kind: ClassVar[str] = "run_finished"
    status: EndStatus
    answer: str
    iterations: int
    total_time: float
    usage: UsageSummary = field(default_factory=UsageSummary)


@dataclass(frozen=True, kw_only=True)
class ForkRestored(Event):
    """A fork has rebuilt its parent's iterations 1..`iteration` (no model was called for
    them); what follows is new."""

    kind: ClassVar[str] = "fork_restored"
    iteration: int
    blocks: int = 0  # code blocks re-run
    served_calls: int = 0  # sub-calls answered from the recording
    diverged: bool = False
    edited: bool = False  # iteration + 1 is a block the user wrote, not a model's reply


@dataclass(frozen=True, kw_only=True)
class ForkDiverged(Event):
    """Re-running a recorded block did not give what the recording holds (clock, random
    numbers, changed files or context): the first place where the rebuilt REPL differs."""

    kind: ClassVar[str] = "fork_diverged"
    iteration: int
    index: int  # the block (0-based); -1 for the context itself
    what: str  # one line
    diff: str = ""  # a short unified diff, recorded → now


# --- (de)serialisation ----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, (UsageSummary, ModelUsage)):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_NESTED = {"Usage": Usage, "ContextInfo": ContextInfo, "UsageSummary": UsageSummary,
           "ModelUsage": ModelUsage, "BackendErrorKind": BackendErrorKind}


def _revive(hint: Any, value: Any) -> Any:
    """Turn a JSON value back into the field's declared type (nested dataclasses only)."""
    if value is None:
        return None
    if hint is UsageSummary:
        return UsageSummary.from_dict(value)
    origin = typing.get_origin(hint)
    if origin is dict and typing.get_args(hint)[1:] == (ModelUsage,):
        items = value.items() if isinstance(value, dict) else ()
        return {str(k): ModelUsage.from_dict(str(k), v) for k, v in items}
    if origin is tuple:
        (inner, *_rest) = typing.get_args(hint)
        return tuple(_revive(inner, v) for v in value)
    if origin is typing.Union:
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _revive(arg, value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        names = {f.name for f in dataclasses.fields(hint)}
        return hint(**{k: v for k, v in value.items() if k in names})
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def event_from_dict(data: dict) -> Event:
    """Rebuild an event; raises KeyError for an unknown type (e.g. from a newer version)."""
    cls = EVENT_TYPES[data["type"]]
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(
            cls, {**globals(), "VarInfo": VarInfo, **_NESTED}
        )
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _revive(hints[f.name], data[f.name])
    return cls(**kwargs)


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))
