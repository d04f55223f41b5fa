"""Folding events into a run's state, and the result the library returns.

`RunState.apply(event)` is the single place that knows what events mean for a run's history:
the loop uses it to build `RLMResult`, and a trajectory file replays through it to the same
state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import events as ev
from .errors import BackendErrorKind
from .usage import ModelUsage, Usage, UsageSummary

KEEP_OUTPUT_CHARS = 1_000_000  # per block, in memory; the model saw less, the trajectory more


class OutOfRange(ValueError):
    """An event named an iteration or block that does not follow those seen so far."""


@dataclass
class SubCallRecord:
    call_id: str
    model: str
    prompt_preview: str
    prompt_chars: int
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    error: Optional[str] = None
    done: bool = False


@dataclass
class BlockRecord:
    index: int
    code: str
    output: str = ""
    output_chars: int = 0
    error: Optional[str] = None
    duration: float = 0.0
    variables: tuple = ()
    final: Optional[str] = None
    restarted: bool = False
    output_file: Optional[str] = None
    done: bool = False
    started_t: float = 0.0
    sub_calls: list[SubCallRecord] = field(default_factory=list)


@dataclass
class IterationRecord:
    iteration: int
    response: str = ""
    thinking: str = ""
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    cut: bool = False
    blocks: list[BlockRecord] = field(default_factory=list)
    feedback: str = ""
    started_t: float = 0.0
    model: str = ""  # the model that replied (set when the reply finished)
    replied: bool = False


@dataclass
class RLMResult:
    answer: str
    iterations: int
    total_time: float
    usage: UsageSummary
    status: ev.RunStatus = "completed"
    error: Optional[str] = None
    reason: Optional[str] = None  # ev.FailReason, or "cancelled"
    answer_source: Optional[ev.AnswerSource] = None
    error_kind: Optional[BackendErrorKind] = None  # with reason "backend"
    run_id: str = ""
    trajectory_path: Optional[str] = None
    iteration_log: list[IterationRecord] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict:
        return {
            "answer": self.answer, "status": self.status, "error": self.error,
            "reason": self.reason, "error_kind": self.error_kind,
            "answer_source": self.answer_source,
            "iterations": self.iterations, "total_time": round(self.total_time, 3),
            "usage": self.usage.to_dict(), "run_id": self.run_id, "trajectory": self.trajectory_path,
            "iteration_log": [
                {
                    "iteration": it.iteration, "response": it.response, "thinking": it.thinking,
                    "duration": round(it.duration, 3),
                    "usage": {"prompt_tokens": it.usage.prompt_tokens,
                              "completion_tokens": it.usage.completion_tokens},
                    "code_blocks": [
                        {"code": b.code, "output": b.output, "error": b.error,
                         "duration": round(b.duration, 4),
                         "sub_calls": [{"model": s.model, "prompt": s.prompt_preview,
                                        "answer": s.answer, "error": s.error,
                                        "prompt_tokens": s.usage.prompt_tokens,
                                        "completion_tokens": s.usage.completion_tokens}
                                       for s in b.sub_calls]}
                        for b in it.blocks
                    ],
                }
                for it in self.iteration_log
            ],
        }


class RunState:
    """The state of one run, rebuilt from its events (the first RunStarted names the run)."""

    def __init__(self) -> None:
        self.started: Optional[ev.RunStarted] = None
        self.iterations: list[IterationRecord] = []
        self.by_model: dict[str, ModelUsage] = {}
        self.sub_calls: dict[str, SubCallRecord] = {}
        self.answer = ""
        self.answer_source: Optional[ev.AnswerSource] = None
        self.status: ev.RunStatus = "running"
        self.error: Optional[str] = None
        self.reason: Optional[str] = None
        self.error_kind: Optional[BackendErrorKind] = None
        self.total_time = 0.0
        self.last_t = 0.0
        self.finished = False  # RunFinished seen
        self.rejected = 0  # events refused as out of sequence (only a damaged file has them)
        self.inherited = 0  # a fork's iterations taken over from its parent (1..inherited)
        self.divergence: Optional[ev.ForkDiverged] = None
        self._served: set[str] = set()  # a fork's sub-calls served from the recording
        self._edited = False

    # -- queries ---------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.started.run_id if self.started else ""

    @property
    def total_tokens(self) -> int:
        return sum(m.prompt_tokens + m.completion_tokens for m in self.by_model.values())

    def iteration(self, n: int) -> IterationRecord:
        """Iteration `n`, made when it is the next one; any other new number raises
        OutOfRange (a file that names iteration 10**9 must not make 10**9 records)."""
        if n == len(self.iterations) + 1:
            self.iterations.append(IterationRecord(n))
        elif not 1 <= n <= len(self.iterations):
            raise OutOfRange(f"iteration {n} after {len(self.iterations)}")
        return self.iterations[n - 1]

    def block(self, iteration: int, index: int) -> BlockRecord:
        """As `iteration`: a block is made only as the next one of its iteration."""
        it = self.iteration(iteration)
        if index == len(it.blocks):
            it.blocks.append(BlockRecord(index, ""))
        elif not 0 <= index < len(it.blocks):
            raise OutOfRange(f"block {index} of iteration {iteration} after {len(it.blocks)}")
        return it.blocks[index]

    def usage(self) -> UsageSummary:
        return UsageSummary.of(self.by_model)

    def result(self, trajectory_path: Optional[str] = None) -> RLMResult:
        return RLMResult(
            answer=self.answer, iterations=len(self.iterations), total_time=self.total_time,
            usage=self.usage(), status=self.status, error=self.error, reason=self.reason,
            answer_source=self.answer_source, error_kind=self.error_kind, run_id=self.run_id,
            trajectory_path=trajectory_path, iteration_log=self.iterations,
        )

    def close_interrupted(self) -> bool:
        """For events that stop before the run's closing RunFinished (its app was killed,
        or the file was cut): the run is 'interrupted' (unless it had already answered or
        failed), and each block or sub-call still open ends there, with the time it ran up to
        the last event. Returns whether the run was interrupted."""
        if self.finished or self.started is None:
            return False
        if self.status == "running":
            self.status, self.reason = "interrupted", "interrupted"
        for it in self.iterations:
            for b in it.blocks:
                if b.code and not b.done:
                    b.done, b.error = True, "interrupted"
                    b.duration = max(0.0, self.last_t - b.started_t)
                for call in b.sub_calls:
                    if not call.done:
                        call.done, call.error = True, "interrupted"
        self.total_time = self.last_t
        return True

    def usage_through(self, iteration: Optional[int] = None) -> dict[str, ModelUsage]:
        """Tokens per model up to and including `iteration` (None: the whole run so far),
        by the fold's one rule: a reply counts once it finished, a sub-call once it ended, and
        neither counts when this run did not make it (a fork's inherited iterations up to
        fork_at, its edited block, its sub-calls served from the recording)."""
        if iteration is None:
            return dict(self.by_model)
        out: dict[str, ModelUsage] = {}
        for it in self.iterations[:iteration]:
            spent = [(it.model, it.usage, it.duration)] \
                if it.replied and self._reply_counted(it.iteration) else []
            spent += [(c.model, c.usage, c.duration) for b in it.blocks for c in b.sub_calls
                      if c.done and c.call_id not in self._served]
            for model, usage, seconds in spent:
                out[model] = (out.get(model) or ModelUsage(model)).add(usage, seconds)
        return out

    def _reply_counted(self, iteration: int) -> bool:
        """A reply is a call this run made: not inherited, not the fork's edited block."""
        by_user = self._edited and iteration == self.inherited + 1
        return iteration > self.fork_at and not by_user

    @property
    def fork_at(self) -> int:
        """A fork's last inherited iteration (0 for a run started from scratch): its replies
        and sub-calls were not made by this run, so they are not counted as calls."""
        st = self.started
        return st.fork_at if st is not None and st.forked_from and \
            isinstance(st.fork_at, int) else 0

    def _count(self, model: str, usage: Usage, seconds: float) -> None:
        current = self.by_model.get(model) or ModelUsage(model)
        self.by_model[model] = current.add(usage, seconds)

    # -- the fold --------------------------------------------------------------------------
    def apply(self, e: ev.Event) -> bool:
        """Fold one event. Events of other runs (children started by rlm_query, which share
        the root's stream) are left to states of their own. False (and counted in `rejected`)
        for an event that names an iteration or block out of sequence: it changes nothing."""
        if self.started is not None and e.run_id != self.started.run_id:
            return True
        handler = getattr(self, "_on_" + e.kind, None)
        if handler is not None:
            try:
                handler(e)
            except OutOfRange:
                self.rejected += 1
                return False
        self.last_t = max(self.last_t, e.t)
        return True

    def _on_run_started(self, e: ev.RunStarted) -> None:
        self.started = e

    def _on_iteration_started(self, e: ev.IterationStarted) -> None:
        self.iteration(e.iteration).started_t = e.t

    def _on_reply_finished(self, e: ev.ReplyFinished) -> None:
        it = self.iteration(e.iteration)
        it.response, it.thinking, it.usage = e.text, e.thinking, e.usage
        it.duration, it.cut = e.duration, e.cut
        it.model, it.replied = e.model, True
        if self._reply_counted(e.iteration):
            self._count(e.model, e.usage, e.duration)

    def _on_code_block_started(self, e: ev.CodeBlockStarted) -> None:
        b = self.block(e.iteration, e.index)
        b.code, b.started_t = e.code, e.t

    def _on_code_output(self, e: ev.CodeOutput) -> None:
        b = self.block(e.iteration, e.index)
        b.output_chars += len(e.text)
        room = KEEP_OUTPUT_CHARS - len(b.output)
        if room > 0:
            b.output += e.text[:room]

    def _on_code_block_finished(self, e: ev.CodeBlockFinished) -> None:
        b = self.block(e.iteration, e.index)
        b.duration, b.error, b.variables = e.duration, e.error, e.variables
        b.final, b.restarted, b.done = e.final, e.restarted, True
        b.output_file = e.output_file
        b.output_chars = max(b.output_chars, e.output_chars)

    def _on_feedback_sent(self, e: ev.FeedbackSent) -> None:
        self.iteration(e.iteration).feedback = e.text

    def _on_subcall_started(self, e: ev.SubCallStarted) -> None:
        block = self.block(e.iteration, e.index)  # first: out of sequence, nothing changes
        if e.iteration <= self.fork_at:  # answered from the parent's recording
            self._served.add(e.call_id)
        rec = SubCallRecord(e.call_id, e.model, e.prompt_preview, e.prompt_chars)
        self.sub_calls[e.call_id] = rec
        block.sub_calls.append(rec)

    def _on_subcall_finished(self, e: ev.SubCallFinished) -> None:
        rec = self.sub_calls.get(e.call_id)
        if rec is not None:
            rec.answer, rec.usage, rec.duration = e.answer, e.usage, e.duration
            rec.error, rec.done = e.error, True
        if e.call_id not in self._served:
            self._count(e.model, e.usage, e.duration)

    def _on_fork_restored(self, e: ev.ForkRestored) -> None:
        self.inherited = e.iteration
        self._edited = e.edited

    def _on_fork_diverged(self, e: ev.ForkDiverged) -> None:
        if self.divergence is None:
            self.divergence = e

    def _on_final_answer(self, e: ev.FinalAnswer) -> None:
        self.answer, self.answer_source, self.status = e.answer, e.source, "completed"

    def _on_run_failed(self, e: ev.RunFailed) -> None:
        self.answer, self.status = e.partial_answer, "failed"
        self.error, self.reason, self.error_kind = e.error, e.reason, e.error_kind

    def _on_run_cancelled(self, e: ev.RunCancelled) -> None:
        self.answer, self.status, self.reason = e.partial_answer, "cancelled", "cancelled"

    def _on_run_finished(self, e: ev.RunFinished) -> None:
        self.total_time = e.total_time
        self.status = e.status
        self.finished = True
