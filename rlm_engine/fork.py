"""Forking a recorded run: go back to iteration N, rebuild the REPL as it was, and go on live.

A fork takes over its parent's iterations 1..N. It re-runs their code blocks, in order, in a
fresh worker, and every `llm_query` / `llm_query_batched` / `rlm_query` they make is answered
from the recording (no model is called for them; a child run of `rlm_query` is not re-run, its
recorded answer is handed back). The conversation is restored from the recording: each
iteration's reply, and the feedback the model got after it. Then the run goes on live from
iteration N+1, with the same or other models, optionally:

- `instruction`: a note from the user added to what the model is told before iteration N+1
  (forking at 0, it replaces the question);
- `code`: a block the user wrote, run first as iteration N+1 (its sub-calls are live), whose
  output is what the model sees next.

Re-running cannot always reproduce the state: code that read the clock, drew random numbers or
read files that changed since. So each re-run block's output (and whether it failed) is
compared with the recording, and so are its sub-call prompts and the context's size. The first
difference is reported as a ForkDiverged event (iteration, block, one line, a short diff), and
the fork stops there with reason "diverged", unless `keep_going` is set; then it is reported
and the fork goes on from the state it has.

The fork's trajectory is a complete run: the inherited iterations are in it (with zero tokens:
the fork spent none on them), then ForkRestored marks where the new part starts, and
run_started names the parent run, its file and the fork point (`forked_from`, `fork_file`,
`fork_at`). Files without those fields are ordinary runs.

The hook into the loop is `Run(..., fork=Fork(...))`: the loop calls `started_fields()` for
run_started, `restore()` before its first live iteration, and sends sub-calls to `serve()`
while `replaying`.
"""

from __future__ import annotations

import difflib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Sequence

from . import events as ev
from . import parsing, prompts
from .context import context_source
from .errors import ConfigError
from .replay import RecordedRun
from .repl.session import ContextSource
from .state import BlockRecord, SubCallRecord
from .trajectory import trajectories_dir

if TYPE_CHECKING:
    from .loop import Run
    from .rlm import RLM

EDIT_MODEL = "you (edited block)"  # the "model" of a block the user wrote for the fork
DIFF_LINES = 12


class ForkError(ConfigError):
    """A fork that cannot start (bad iteration, missing context); one line."""


@dataclass(frozen=True)
class ForkOptions:
    at: int  # the last iteration taken over (0: only the question and the context)
    instruction: str = ""
    code: str = ""
    keep_going: bool = False


@dataclass(frozen=True)
class Divergence:
    iteration: int
    index: int
    what: str
    diff: str = ""

    def message(self) -> str:
        return f"the rebuild diverged {where(self.iteration, self.index)}: {self.what}"


def where(iteration: int, index: int) -> str:
    """Where a divergence is, for people: a block, or before the run's own iterations (the
    context, or an earlier question's block in the same REPL)."""
    if iteration < 1 or index < 0:
        return "before the run's first iteration"
    return f"at iteration {iteration}, block {index + 1}"


def short_diff(recorded: str, now: str) -> str:
    lines = list(difflib.unified_diff(recorded.splitlines(), now.splitlines(), "recorded",
                                      "now", lineterm="", n=1))
    cut = [line[:200] for line in lines[:DIFF_LINES]]
    if len(lines) > DIFF_LINES:
        cut.append(f"… ({len(lines) - DIFF_LINES} more diff lines)")
    return "\n".join(cut)


class RecordedAnswers:
    """The recorded sub-calls of the replayed iterations, per (iteration, block), in the order
    they were made."""

    def __init__(self, blocks: dict[tuple[int, int], list[SubCallRecord]]) -> None:
        self._left = {k: list(v) for k, v in blocks.items()}

    def take(self, iteration: int, index: int, prompt: str) -> tuple[Optional[SubCallRecord],
                                                                     bool]:
        """(the recorded call for this prompt, whether its prompt matched). The first call
        with the same prompt; else the next one in order (a mismatch); else None."""
        left = self._left.get((iteration, index), [])
        for i, rec in enumerate(left):
            if rec.prompt_preview == prompt[:len(rec.prompt_preview)] and \
                    rec.prompt_chars in (len(prompt), len(rec.prompt_preview)):
                return left.pop(i), True
        return (left.pop(0), False) if left else (None, False)

    def left(self, iteration: int, index: int) -> int:
        return len(self._left.get((iteration, index), []))


class Fork:
    """What a forked run starts from; see the module docstring."""

    def __init__(self, parent: RecordedRun, options: ForkOptions,
                 earlier: Sequence[RecordedRun] = ()) -> None:
        st = parent.state
        if st.started is None:
            raise ForkError("the recorded file holds no run to fork")
        done = len(st.iterations)
        if not 0 <= options.at <= done:
            raise ForkError(f"cannot fork at iteration {options.at}: the run has {done} "
                            f"iteration(s) (use 0 to {done})")
        for it in st.iterations[:options.at]:
            if any(_unfinished(b) for b in it.blocks):
                raise ForkError(f"iteration {it.iteration} did not finish in the recording: "
                                f"fork at {it.iteration - 1} or earlier")
        if "```" in options.code:
            raise ForkError("the code to run first cannot hold ``` (it is sent as a fenced "
                            "block)")
        self.parent = parent
        self.options = options
        self.at = options.at
        self.extra = options.at + (1 if options.code.strip() else 0)
        self.replaying = False
        self.served = 0
        self.divergence: Optional[Divergence] = None
        self._ids = itertools.count(1)
        self._pending: Optional[Divergence] = None  # found inside a block, reported after it
        self._from_rlms = st.started.settings.get("source") == "rlms log"
        self.iterations = st.iterations[:options.at]
        self.answers = RecordedAnswers({(it.iteration, b.index): b.sub_calls
                                        for it in self.iterations for b in it.blocks})
        self._streams = _root_streams(parent)
        # the session's earlier questions that ran in the parent's REPL before it
        self.earlier = list(earlier)
        self.earlier_ids: tuple[str, ...] = tuple(st.started.earlier_runs)

    # -- what the loop asks ------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        if self.at == 0 and self.options.instruction.strip():
            return self.options.instruction.strip()
        return self.parent.prompt

    def started_fields(self) -> dict[str, Any]:
        return {"forked_from": self.parent.state.run_id or "?",
                "fork_file": str(self.parent.path or ""), "fork_at": self.at}

    def serve(self, run: "Run", iteration: int, index: int, request: dict) -> list:
        """Answer a replayed block's sub-calls from the recording."""
        results = []
        for prompt in [str(p) for p in request.get("prompts", [])]:
            rec, matched = self.answers.take(iteration, index, prompt)
            if rec is None:
                self._note(iteration, index, "it made a sub-call the recording does not hold: "
                                             f"{' '.join(prompt.split())[:80]!r}")
                results.append({"error": "fork: this sub-call is not in the recording"})
                continue
            if not matched:
                self._note(iteration, index, "a sub-call's prompt differs from the recording",
                           short_diff(rec.prompt_preview, prompt[:500]))
            call_id = f"{run.run_id}.r{next(self._ids)}"
            run.emit(ev.SubCallStarted(call_id=call_id, iteration=iteration, index=index,
                     model=rec.model, prompt_preview=prompt[:500], prompt_chars=len(prompt)))
            run.emit(ev.SubCallFinished(call_id=call_id, model=rec.model, answer=rec.answer,
                     error=rec.error))
            self.served += 1
            results.append({"error": rec.error} if rec.error else {"text": rec.answer})
        return results

    async def restore(self, run: "Run", messages: list[dict]) -> Optional[int]:
        """Re-run the inherited iterations into `run` and `messages`. Returns the first
        iteration the model writes, or None when the run is already over (the user's block
        gave the answer)."""
        runner = run.runner
        assert runner is not None  # the loop made it before calling restore
        self.replaying = True
        blocks = 0
        try:
            self._check_context(run)
            blocks += await self._prelude(run)
            for it in self.iterations:
                run.emit(ev.IterationStarted(iteration=it.iteration))
                run.emit(ev.ReplyFinished(iteration=it.iteration, text=it.response,
                         thinking=it.thinking, model=self.parent.model, cut=it.cut))
                messages.append({"role": "assistant", "content": it.response})
                parts, variables = [], []
                for b in it.blocks:
                    res, output = await runner.run_block(it.iteration, b.index, b.code)
                    blocks += 1
                    parts.append(prompts.block_feedback(b.index, len(it.blocks), b.code, output,
                                                        res.error, res.duration))
                    variables = [v["name"] for v in res.variables]
                    self._compare(run, it.iteration, b, res.error)
                    if self._pending is not None:
                        self._diverge(run, self._pending)
                        self._pending = None
                text = it.feedback if it.feedback and it.feedback != prompts.LAST_CHANCE \
                    else prompts.feedback(parts, variables)
                if it.iteration == self.at and not self.options.code.strip():
                    text = self._with_instruction(text)
                messages.append({"role": "user", "content": text})
                run.emit(ev.FeedbackSent(iteration=it.iteration, text=text))
        finally:
            self.replaying = False
        run.emit(ev.ForkRestored(iteration=self.at, blocks=blocks, served_calls=self.served,
                 diverged=self.divergence is not None, edited=bool(self.options.code.strip())))
        if not self.options.code.strip():
            return self.at + 1
        return await self._run_edit(run, messages)

    # -- inside ------------------------------------------------------------------------------
    def _with_instruction(self, text: str) -> str:
        note = self.options.instruction.strip()
        if not note or self.at == 0:
            return text
        return f"{text}\n\nA note from the user: {note}"

    async def _run_edit(self, run: "Run", messages: list[dict]) -> Optional[int]:
        """The user's block, as iteration N+1: run live, its output fed back."""
        n = self.at + 1
        code = self.options.code.strip("\n")
        reply = f"```repl\n{code}\n```"
        run.emit(ev.IterationStarted(iteration=n))
        run.emit(ev.ReplyFinished(iteration=n, text=reply, model=EDIT_MODEL))
        messages.append({"role": "assistant", "content": reply})
        assert run.runner is not None
        outcome = await run.runner.run(n, parsing.code_blocks(reply), None)
        if outcome.answer is not None:
            return None
        text = self._with_instruction(outcome.feedback)
        messages.append({"role": "user", "content": text})
        run.emit(ev.FeedbackSent(iteration=n, text=text))
        return n + 1

    async def _prelude(self, run: "Run") -> int:
        """Re-run the earlier questions' blocks (no events: they are not this run's), their
        sub-calls answered from their own recordings. Returns how many blocks ran."""
        count = 0
        repl = run._repl
        assert repl is not None
        for prev in self.earlier:
            answers = RecordedAnswers({(it.iteration, b.index): b.sub_calls
                                       for it in prev.state.iterations for b in it.blocks})
            for it in prev.state.iterations:
                for b in it.blocks:
                    out: list[str] = []
                    serve = _quiet_server(answers, it.iteration, b.index)
                    res = await repl.execute(b.code, on_output=_collect(out), on_query=serve)
                    count += 1
                    now = "".join(out)
                    if (b.error or None) != (res.error or None) or not _same_output(b, now):
                        self._diverge(run, Divergence(0, -1, (
                            f"an earlier question in the same REPL (run {prev.state.run_id}, "
                            f"iteration {it.iteration}, block {b.index + 1}) "
                            + (f"failed now ({res.error})" if res.error and not b.error else
                               "gave another result")), short_diff(b.output, now)))
        return count

    def _check_context(self, run: "Run") -> None:
        start = self.parent.state.started
        now = run.state.started
        if self._from_rlms or start is None or now is None:
            return  # an rlms log does not describe its context
        was, new = start.context, now.context
        if (was.type, was.chars, was.items) != (new.type, new.chars, new.items):
            self._diverge(run, Divergence(
                0, -1, f"the context is not the one the run had (recorded: {_ctx(was)}; "
                       f"now: {_ctx(new)})"))

    def _compare(self, run: "Run", iteration: int, recorded: BlockRecord,
                 error: Optional[str]) -> None:
        now = run.state.block(iteration, recorded.index)
        if self._pending is not None:
            return
        if self._from_rlms:  # no error field: a failed block's error ends its stderr
            stdout, stderr = self._streams.get((iteration, recorded.index), ("", ""))
            last = (stderr.strip().splitlines() or [""])[-1]
            if error and last != error:
                self._pending = Divergence(iteration, recorded.index, f"it failed now ({error})"
                                           if not last else f"its error differs ({last} → "
                                                            f"{error})")
            elif not error and (stdout + stderr).rstrip() != now.output.rstrip():
                self._pending = Divergence(iteration, recorded.index, "its output differs from "
                                           "the recording", short_diff(stdout + stderr,
                                                                       now.output))
            return
        if (recorded.error or None) != (error or None):
            self._pending = Divergence(
                iteration, recorded.index,
                f"it failed now ({error})" if error and not recorded.error else
                "it failed in the recording but not now" if not error else
                f"its error differs ({recorded.error} → {error})")
        elif recorded.output != now.output:
            self._pending = Divergence(iteration, recorded.index,
                                       "its output differs from the recording",
                                       short_diff(recorded.output, now.output))
        elif self.answers.left(iteration, recorded.index):
            self._pending = Divergence(
                iteration, recorded.index, f"it made {self.answers.left(iteration, recorded.index)}"
                                           f" sub-call(s) fewer than the recording")

    def _note(self, iteration: int, index: int, what: str, diff: str = "") -> None:
        if self._pending is None:
            self._pending = Divergence(iteration, index, what, diff)

    def _diverge(self, run: "Run", d: Divergence) -> None:
        first = self.divergence is None
        if first:
            self.divergence = d
            run.emit(ev.ForkDiverged(iteration=d.iteration, index=d.index, what=d.what,
                     diff=d.diff))
        if not self.options.keep_going:
            from .loop import _Stop  # the loop's way to end a run with a reason

            raise _Stop("diverged", d.message() + " (to go on anyway, fork again with "
                                                  "--keep-going, or tick “go on past a "
                                                  "divergence”)")


def _unfinished(b: BlockRecord) -> bool:
    """A block the recording does not hold the end of: still open, or closed by the reader
    as 'interrupted' (RunState.close_interrupted: the file stops before it finished)."""
    return not b.done or b.error == "interrupted" or \
        any(c.error == "interrupted" for c in b.sub_calls)


def _collect(out: list[str]) -> Callable[[str, str], None]:
    """An output sink that keeps the text (both streams) in `out`."""
    return lambda _stream, text: out.append(text)


def _same_output(recorded: BlockRecord, now: str) -> bool:
    """Whether a re-run block printed what the recording holds (as far as it kept it)."""
    if recorded.output_chars > len(recorded.output):  # kept only in part
        return now.startswith(recorded.output[:max(0, len(recorded.output) - 200)])
    return now == recorded.output


def _quiet_server(answers: RecordedAnswers, iteration: int,
                  index: int) -> Callable[[dict], Awaitable[list]]:
    async def serve(request: dict) -> list:
        results = []
        for prompt in [str(p) for p in request.get("prompts", [])]:
            rec, _matched = answers.take(iteration, index, prompt)
            results.append({"error": "fork: this sub-call is not in the recording"}
                           if rec is None else
                           {"error": rec.error} if rec.error else {"text": rec.answer})
        return results
    return serve


def _ctx(info: ev.ContextInfo) -> str:
    size = f"{info.chars:,} characters" if info.chars else \
        (f"{info.items:,} items" if info.items is not None else "empty")
    return f"{info.type}, {size}"


def _root_streams(parent: RecordedRun) -> dict[tuple[int, int], tuple[str, str]]:
    """stdout and stderr of each root-run block, as recorded."""
    root = parent.state.run_id
    out: dict[tuple[int, int], list[str]] = {}
    for e in parent.events:
        if isinstance(e, ev.CodeOutput) and e.run_id == root:
            pair = out.setdefault((e.iteration, e.index), ["", ""])
            pair[0 if e.stream == "stdout" else 1] += e.text
    return {k: (v[0], v[1]) for k, v in out.items()}


# -- starting one ---------------------------------------------------------------------------


def rlms_context(path: "str | Path") -> Any:
    """The context an rlms log holds in its run_context line (their `prompt`), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh):
                if n > 5:
                    break
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("type") == "run_context":
                    value = entry.get("prompt")
                    return value if isinstance(value, (str, list, dict)) else None
    except OSError:
        return None
    return None


def parent_context(parent: RecordedRun) -> Optional[ContextSource]:
    """The parent's context, found again: the file or directory it was loaded from (when it
    is still there), or the data an rlms log holds. None when it had none. Raises ForkError
    when it had one that cannot be found."""
    start = parent.state.started
    assert start is not None
    if start.settings.get("source") == "rlms log":
        value = rlms_context(parent.path) if parent.path else None
        return None if value is None else context_source(value)
    info = start.context
    if info.kind in ("", "none") and info.type == "NoneType":
        return None
    if start.context_path and Path(start.context_path).exists():
        return context_source(Path(start.context_path))
    name = info.name or info.kind or info.type
    raise ForkError(f"the run had a context ({name}, {_ctx(info)}) that cannot be found "
                    f"again: give it with --context FILE")


def earlier_runs(parent: RecordedRun) -> list[RecordedRun]:
    """The recorded runs that ran before `parent` in its REPL, read from beside its file.
    Raises ForkError when one of them cannot be found."""
    start = parent.state.started
    ids = list(start.earlier_runs) if start is not None else []
    if not ids:
        return []
    folder = parent.path.parent if parent.path else trajectories_dir()
    out = []
    for rid in ids:
        found = sorted(folder.glob(f"*_{rid}.jsonl")) if rid.isalnum() else []
        if not found:
            raise ForkError(f"this run followed {len(ids)} earlier question(s) in the same "
                            f"REPL, and run {rid}'s file is not in {folder}: their variables "
                            f"cannot be rebuilt")
        try:
            out.append(RecordedRun.load(found[0]))
        except (OSError, ValueError) as exc:
            raise ForkError(f"cannot read {found[0].name}: {exc}") from exc
    return out


def start_fork(rlm: "RLM", parent: RecordedRun, options: ForkOptions,
               context: Any = None) -> "Run":
    """Start a fork of `parent` in the running event loop (a `Run`, iterated for events).
    `context` (a Path or a value) replaces the parent's; by default it is found again."""
    from .loop import Run

    fork = Fork(parent, options, earlier_runs(parent))
    source = context_source(context) if context is not None else parent_context(parent)
    return Run(rlm.config, rlm.clients, fork.prompt, source, fork=fork).start()
