"""One RLM run: stream the root model, run its code, feed back the output, until FINAL.

A `Run` is an async iterable of events. The work happens in a task of its own, so a consumer
that stops reading does not stall the worker, and `cancel()` can stop it at any await: the
stream is closed and running code is interrupted (killed if it ignores that) within a second.
Every run ends with exactly one of FinalAnswer / RunFailed / RunCancelled, then RunFinished.

Recursion: with `max_depth` > 1, `rlm_query(prompt, context)` in model code starts a child
run (depth + 1) whose root model is the parent's recursive model, with its own worker. Its
events go into the parent's stream and trajectory (they carry their own run_id and depth, and
RunStarted names the parent), and its answer comes back as the call's result. At the maximum
depth, `rlm_query` is a plain `llm_query`.

A run holds two helpers with small interfaces: a `BlockRunner` (blocks.py) runs each reply's
code and reads its FINAL, `SubCalls` (subcalls.py) serves the code's sub-calls and child runs.
Settings come from a frozen `RunConfig` (config.py), models from a `ClientSet`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Literal, Optional, Protocol

from . import events as ev
from . import parsing, prompts
from .blocks import BlockRunner
from .clients.base import ChatClient, TextChunk, ThinkingChunk
from .clients.client_set import ClientSet
from .config import RunConfig
from .errors import BackendError, RLMError
from .repl.session import ContextSource, ReplSession
from .state import RLMResult, RunState
from .subcalls import SubCalls
from .trajectory import TrajectoryWriter
from .usage import Usage


class ForkHook(Protocol):
    """What the loop needs of a fork of a recorded run (fork.Fork is one; a Protocol here
    keeps the engine's imports acyclic: fork.py imports the loop, not the other way)."""

    extra: int  # the inherited iterations (and the user's block) on top of max_iterations
    replaying: bool  # while True, sub-calls go to serve()
    earlier_ids: tuple[str, ...]

    def started_fields(self) -> dict[str, Any]: ...

    async def restore(self, run: "Run", messages: list[dict]) -> Optional[int]: ...

    def serve(self, run: "Run", iteration: int, index: int, request: dict) -> list: ...


class _Stop(Exception):
    """A run limit or a fatal reply ended the run (reason, message)."""

    def __init__(self, reason: ev.FailReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Run:
    """One run: the loop of replies, with a `BlockRunner` for the code and `SubCalls` for
    the code's calls to other models."""

    def __init__(self, config: RunConfig, clients: ClientSet, prompt: str,
                 context: Optional[ContextSource], repl: Optional[ReplSession] = None, *,
                 parent: Optional["Run"] = None, fork: Optional[ForkHook] = None) -> None:
        self.config = config
        self.clients = clients
        self.fork = fork  # a fork of a recorded run: rebuilt up to its fork point (fork.py)
        self.prompt = prompt
        self.run_id = uuid.uuid4().hex[:12]
        self.parent = parent
        self.depth: int = parent.depth + 1 if parent is not None else 0
        # a child run is driven by the recursive model
        self.root_client: ChatClient = clients.recursive if parent is not None else clients.root
        self.state = RunState()
        self._context = context
        self._repl = repl
        self._own_repl = repl is None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: Optional[asyncio.Task] = None
        self._t0 = time.monotonic()
        self._stop_reason: Optional[Literal["cancelled", "max_timeout"]] = None
        self._limit: Optional[_Stop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._last_reply = ""
        self._writer: Optional[TrajectoryWriter] = None
        if config.save_trajectory and parent is None:  # a child's events go to the root's file
            self._writer = TrajectoryWriter.for_run(
                self.run_id, config.trajectory_dir, secrets=clients.secrets())
        recursion = self.depth + 1 < config.max_depth
        self.subcalls = SubCalls(
            run_id=self.run_id, clients=clients, emit=self.emit,
            limit=lambda: str(self._limit) if self._limit is not None else None,
            usage_updated=self._usage_updated, max_concurrent=config.max_concurrent_subcalls,
            spawn_child=self._spawn_child if recursion else None,
            serve_recorded=self._serve_recorded if fork is not None else None)
        self.runner: Optional[BlockRunner] = None  # set when the body starts

    # -- public ----------------------------------------------------------------------------
    @property
    def trajectory_path(self) -> Optional[str]:
        return str(self._writer.path) if self._writer else None

    @property
    def trajectory_error(self) -> Optional[str]:
        """One line when the trajectory could not be written (the run goes on without it)."""
        return self._writer.error if self._writer else None

    @property
    def result(self) -> RLMResult:
        return self.state.result(self.trajectory_path)

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    # what a view of a run needs (a RecordedRun offers the same)
    @property
    def model(self) -> str:
        return self.root_client.label

    @property
    def recursive_model(self) -> str:
        return self.clients.recursive.label

    @property
    def max_iterations(self) -> int:  # a fork's inherited turns come on top
        return self.config.max_iterations + (self.fork.extra if self.fork else 0)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started; once it has ended, its total time (stopped)."""
        if self._task is None:
            return 0.0
        if self._task.done():
            return self.state.total_time or self.state.last_t
        return time.monotonic() - self._t0

    def start(self) -> "Run":
        if self._task is None:
            self._t0 = time.monotonic()
            self._task = asyncio.create_task(self._main(), name=f"rlm-run-{self.run_id}")
            if self.config.max_timeout:
                self._timer = asyncio.get_running_loop().call_later(
                    self.config.max_timeout, self._stop, "max_timeout")
        return self

    def cancel(self) -> None:
        """Stop the run; it ends with RunCancelled and keeps what it had."""
        self._stop("cancelled")

    def __aiter__(self) -> AsyncIterator[ev.Event]:
        self.start()
        return self._events()

    async def _events(self) -> AsyncIterator[ev.Event]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def wait(self) -> RLMResult:
        self.start()
        assert self._task is not None
        await asyncio.shield(self._task)
        return self.result

    async def settle(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for the run to end (after `cancel()`, that is
        it closing its worker); never raises."""
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=timeout)

    # -- plumbing --------------------------------------------------------------------------
    def _stop(self, reason: Literal["cancelled", "max_timeout"]) -> None:
        if self._stop_reason is None and self._task is not None and not self._task.done():
            self._stop_reason = reason
            self._task.cancel()

    def emit(self, event: ev.E) -> ev.E:
        """Stamp an event with this run's clock and ids, fold it, and publish it."""
        e = ev.stamped(event, t=round(time.monotonic() - self._t0, 4), run_id=self.run_id,
                       depth=self.depth)
        self.state.apply(e)
        self._publish(e)
        return e

    def _publish(self, e: ev.Event) -> None:
        """Into this run's stream and file; a child's events go up to its root's."""
        if self.parent is not None:
            self.parent._publish(e)
            return
        if self._writer is not None:
            self._writer.write(e)
        self._queue.put_nowait(e)

    def tokens_in_flight(self) -> int:
        """Tokens spent by this run and the child runs still going under it."""
        return self.state.total_tokens + self.subcalls.tokens_in_flight()

    def _spawn_child(self, prompt: str, context: ContextSource) -> "Run":
        """rlm_query's child run (not started): the recursive model at depth + 1."""
        return Run(self.config, self.clients, prompt, context, parent=self)

    def _serve_recorded(self, iteration: int, index: int, request: dict) -> Optional[list]:
        """A fork's sub-calls while it rebuilds are answered from the recording."""
        if self.fork is not None and self.fork.replaying:
            return self.fork.serve(self, iteration, index, request)
        return None

    def _usage_updated(self) -> None:
        self.emit(ev.UsageUpdated(by_model=dict(self.state.by_model),
                                  total_tokens=self.state.total_tokens))
        budget = self.config.max_tokens
        root = self
        while root.parent is not None:  # the budget is the whole tree's
            root = root.parent
        used = root.tokens_in_flight()
        if budget and used >= budget and self._limit is None:
            self._limit = _Stop("max_tokens", f"token budget of {budget:,} reached "
                                              f"({used:,} tokens used)")

    def _check_limit(self) -> None:
        if self._limit is not None:
            raise self._limit

    def _outputs_dir(self) -> Path:
        """Where big block outputs go: beside the trajectory (or a temp dir without one)."""
        if self.parent is not None:
            return self.parent._outputs_dir() / self.run_id
        if self._writer is not None:
            return self._writer.path.with_suffix(".outputs")
        return Path(tempfile.gettempdir()) / f"rlm-outputs-{self.run_id}"

    def _partial(self) -> str:
        return parsing.prose_of(self._last_reply)

    # -- the run ---------------------------------------------------------------------------
    async def _main(self) -> None:
        try:
            await self._opened_body()
        except asyncio.CancelledError:
            if self._stop_reason == "max_timeout":
                self.emit(ev.RunFailed(reason="max_timeout", partial_answer=self._partial(),
                          error=f"time limit of {self.config.max_timeout:g} s reached"))
            else:
                self.emit(ev.RunCancelled(partial_answer=self._partial()))
        except _Stop as stop:
            self.emit(ev.RunFailed(reason=stop.reason, error=str(stop),
                      partial_answer=self._partial()))
        except BackendError as exc:
            self.emit(ev.RunFailed(reason="backend", error=str(exc), error_kind=exc.kind,
                      partial_answer=self._partial()))
        except RLMError as exc:
            self.emit(ev.RunFailed(reason="repl", error=str(exc), partial_answer=self._partial()))
        except Exception as exc:  # noqa: BLE001 - a run never raises into the UI
            self.emit(ev.RunFailed(reason="internal", partial_answer=self._partial(),
                      error=f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            if self._timer is not None:
                self._timer.cancel()
            await self._finish()

    async def _opened_body(self) -> None:
        """The body; a run that fails before it begins (e.g. its context does not load)
        still opens with run_started, so the history lists it with its error."""
        try:
            await self._body()
        except BaseException:
            if self.state.started is None:
                self._emit_started(ev.ContextInfo(name=self._context.name if self._context
                                                  else ""), "", ())
            raise

    async def _finish(self) -> None:
        try:
            if self._own_repl and self._repl is not None:
                await asyncio.shield(self._repl.close())
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - closing is best effort
            pass
        st = self.state
        try:
            # a live run always ended one of three ways by now (else it failed)
            status: ev.EndStatus = "completed" if st.status == "completed" else \
                "cancelled" if st.status == "cancelled" else "failed"
            self.emit(ev.RunFinished(status=status, answer=st.answer,
                      iterations=len(st.iterations),
                      total_time=round(time.monotonic() - self._t0, 4), usage=st.usage()))
        finally:  # whatever happened, the stream ends and consumers stop waiting
            if self._writer is not None:
                self._writer.close()
            self._queue.put_nowait(None)

    async def _body(self) -> None:
        cfg = self.config
        if self._repl is None:
            self._repl = ReplSession(memory_mb=cfg.memory_mb, block_timeout=cfg.block_timeout,
                                     sandbox=cfg.sandbox)
        repl = self._repl
        if self._context is None:  # set_context starts the worker (a file is mounted first)
            await repl.start()
        info = ev.ContextInfo()
        if self._context is not None:
            info = ev.ContextInfo(**await repl.set_context(self._context))
        elif repl.context_info:
            info = ev.ContextInfo(**repl.context_info)
        runner = BlockRunner(repl, self.emit, check_limit=self._check_limit,
                             on_query=self.subcalls.handle,
                             max_output_chars=cfg.max_output_chars,
                             outputs_dir=self._outputs_dir())
        self.runner = runner
        system = cfg.system_prompt or prompts.system_prompt(
            info, self.clients.recursive.label, cfg.num_ctx,
            recursion=self.depth + 1 < cfg.max_depth)
        earlier = () if self.parent is not None else \
            self.fork.earlier_ids if self.fork else tuple(repl.run_ids)
        if self.parent is None:
            repl.run_ids.append(self.run_id)
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": prompts.first_message(self.prompt)}]
        self._emit_started(info, system, earlier)
        first = 1
        if self.fork is not None:  # replay the parent's iterations, then go on from there
            restored = await self.fork.restore(self, messages)
            if restored is None:
                return
            first = restored
        nudged = False
        for iteration in range(first, first + cfg.max_iterations):
            self.emit(ev.IterationStarted(iteration=iteration))
            reply = await self._reply(iteration, messages)
            messages.append({"role": "assistant", "content": reply})
            blocks = parsing.code_blocks(reply)
            final = parsing.find_final(reply)
            if blocks:
                nudged = False
                outcome = await runner.run(iteration, blocks, final)
                if outcome.answer is not None:
                    return
                text = outcome.feedback
            elif final is not None:
                given = await runner.give_final(iteration, final)
                if given.answer is not None:
                    return
                text = prompts.feedback([], [], given.problem)
            elif not nudged:
                nudged = True
                text = prompts.NUDGE
            else:
                self.emit(ev.FinalAnswer(answer=parsing.prose_of(reply) or reply.strip(),
                          iteration=iteration, source="plain"))
                return
            self._check_limit()
            messages.append({"role": "user", "content": text})
            self.emit(ev.FeedbackSent(iteration=iteration, text=text))
        await self._last_chance(first + cfg.max_iterations, messages, repl)

    def _sandbox_label(self) -> str:
        """Recorded with the settings: whether model code ran sandboxed."""
        return self._repl.sandbox_state.label if self._repl is not None else ""

    def _emit_started(self, info: ev.ContextInfo, system: str,
                      earlier: tuple[str, ...]) -> None:
        cfg = self.config
        source = self._context or (self._repl.source if self._repl is not None else None)
        fork = self.fork.started_fields() if self.fork else {}
        self.emit(ev.RunStarted(prompt=self.prompt, model=self.root_client.label,
                  recursive_model=self.clients.recursive.label,
                  max_iterations=self.max_iterations,
                  context=info, system_prompt=system, started_at=time.time(),
                  settings={**cfg.recorded(), "sandbox": self._sandbox_label()},
                  parent_run_id=self.parent.run_id if self.parent else "",
                  context_path=(source.path if source is not None else None) or "",
                  earlier_runs=earlier, **fork))

    async def _last_chance(self, iteration: int, messages: list[dict],
                           repl: ReplSession) -> None:
        messages.append({"role": "user", "content": prompts.LAST_CHANCE})
        self.emit(ev.FeedbackSent(iteration=iteration - 1, text=prompts.LAST_CHANCE))
        self.emit(ev.IterationStarted(iteration=iteration))
        reply = await self._reply(iteration, messages)
        final = parsing.find_final(reply)
        answer = None
        if final is not None and final.kind == "FINAL":
            answer = final.value
        elif final is not None:
            value, error = await repl.get_variable(final.value)
            if value is None:  # no answer: never the literal "FINAL_VAR(name)" as one
                self._last_reply = parsing.drop_final(reply)
                raise _Stop("no_answer", f"no answer after {iteration - 1} iterations: the last "
                                         f"reply's FINAL_VAR({final.value[:60]}) failed: {error}")
            answer = value
        if answer is None:
            answer = parsing.prose_of(reply) or reply.strip()
        self.emit(ev.FinalAnswer(answer=answer, iteration=iteration, source="forced"))

    # -- one reply -------------------------------------------------------------------------
    async def _reply(self, iteration: int, messages: list[dict]) -> str:
        self._check_limit()
        client = self.root_client
        text: list[str] = []
        thinking: list[str] = []
        usage: Optional[Usage] = None
        cut = False
        start = time.monotonic()
        watch = parsing.InventionWatch()
        try:
            async with contextlib.aclosing(client.stream(messages)) as stream:
                async for item in stream:
                    if isinstance(item, TextChunk):
                        text.append(item.text)
                        self.emit(ev.TokenDelta(iteration=iteration, text=item.text))
                        if watch.feed(item.text):
                            cut = True
                            break
                    elif isinstance(item, ThinkingChunk):
                        thinking.append(item.text)
                        self.emit(ev.ThinkingDelta(iteration=iteration, text=item.text))
                    else:
                        usage = item
        except (BackendError, asyncio.CancelledError):
            self._record_reply(iteration, "".join(text), "".join(thinking), usage, start,
                               messages, False)
            raise
        reply = "".join(text)
        if cut or parsing.invention_point(reply) is not None:
            reply, cut = parsing.cut_invented(reply)
        self._record_reply(iteration, reply, "".join(thinking), usage, start, messages, cut)
        if not reply.strip():
            raise _Stop("empty_reply", f"{client.label} returned an empty reply")
        self._check_limit()
        return reply

    def _record_reply(self, iteration: int, reply: str, thinking: str, usage: Optional[Usage],
                      start: float, messages: list[dict], cut: bool) -> None:
        if usage is None and (reply or thinking):  # cut short: estimate, ~4 chars a token
            prompt_chars = sum(len(m["content"]) for m in messages)
            usage = Usage(prompt_chars // 4, (len(reply) + len(thinking)) // 4)
        elif usage is None:  # nothing came back (e.g. refused): nothing was spent
            usage = Usage()
        self._last_reply = reply or self._last_reply
        self.emit(ev.ReplyFinished(iteration=iteration, text=reply, thinking=thinking,
                  model=self.root_client.label, usage=usage,
                  duration=round(time.monotonic() - start, 4), cut=cut))
        self._usage_updated()
