"""Sub-calls from model code: `llm_query` / `llm_query_batched` to the recursive model
(concurrency-limited), and `rlm_query` child runs with their own worker, whose events go into
the root's stream and whose tokens count against the root's budget.

`SubCalls` is an object the run holds: it gets the clients, the run's `emit`, a way to read
the run's limit, and a factory for child runs (so this module never imports the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Callable, Optional, Protocol

from . import events as ev
from .clients.base import ChatClient
from .clients.client_set import ClientSet
from .clients.pool import EndpointPool
from .errors import BackendError
from .repl.session import ContextSource
from .state import RLMResult

Emit = Callable[[ev.Event], object]


class ChildRun(Protocol):
    """What a sub-call needs of a child run (loop.Run is one)."""

    run_id: str

    @property
    def model(self) -> str: ...

    def start(self) -> "ChildRun": ...

    async def wait(self) -> RLMResult: ...

    def cancel(self) -> None: ...

    async def settle(self, timeout: float) -> None: ...

    def tokens_in_flight(self) -> int: ...


# (prompt, context) -> a child run, not started; None at the maximum depth
SpawnChild = Callable[[str, ContextSource], ChildRun]
# (iteration, block index, request) -> the recorded answers, or None to make the calls
ServeRecorded = Callable[[int, int, dict], Optional[list]]


class SubCalls:
    def __init__(self, *, run_id: str, clients: ClientSet, emit: Emit,
                 limit: Callable[[], Optional[str]], usage_updated: Callable[[], None],
                 max_concurrent: int, spawn_child: Optional[SpawnChild],
                 serve_recorded: Optional[ServeRecorded] = None) -> None:
        self.run_id = run_id
        self.clients = clients
        self.emit = emit
        self.limit = limit  # the run limit that was hit, if any: no more calls then
        self.usage_updated = usage_updated
        self.spawn_child = spawn_child
        self.serve_recorded = serve_recorded  # a fork rebuilding: answers from its recording
        self.children: set[ChildRun] = set()  # child runs still going
        self._calls = itertools.count(1)
        self._sem = asyncio.Semaphore(max(1, max_concurrent))

    def tokens_in_flight(self) -> int:
        return sum(c.tokens_in_flight() for c in self.children)

    async def handle(self, iteration: int, index: int, request: dict) -> list:
        """One request from model code: a result dict per prompt, in order."""
        if self.serve_recorded is not None:
            served = self.serve_recorded(iteration, index, request)
            if served is not None:
                return served
        prompts_ = [str(p) for p in request.get("prompts", [])]
        model = request.get("model")
        if request.get("kind") == "rlm" and self.spawn_child is not None:
            return [await self._child(iteration, index, prompts_[0], request.get("payload"))]
        client = self.clients.for_spec(model) if model else self.clients.recursive
        # a multi-endpoint model (clients/pool.py) spreads the batch across its endpoints
        targets = client.spread(len(prompts_)) if isinstance(client, EndpointPool) \
            else [client] * len(prompts_)
        return list(await asyncio.gather(
            *(self._subcall(c, iteration, index, p) for c, p in zip(targets, prompts_))))

    def _open_call(self, model: str, iteration: int, index: int, prompt: str,
                   call_kind: ev.CallKind = "llm", child_run_id: str = "") -> tuple[str, Optional[dict]]:
        """Announce a sub-call; once a run limit is hit, it is refused at once (the refusal
        is the second value, the result to hand back to the model code)."""
        call_id = f"{self.run_id}.{next(self._calls)}"
        self.emit(ev.SubCallStarted(call_id=call_id, iteration=iteration, index=index,
                  model=model, prompt_preview=prompt[:500], prompt_chars=len(prompt),
                  call_kind=call_kind, child_run_id=child_run_id))
        limit = self.limit()
        if limit is None:
            return call_id, None
        error = f"{limit}: no more sub-calls"
        self.emit(ev.SubCallFinished(call_id=call_id, model=model, error=error))
        return call_id, {"error": error}

    async def _child(self, iteration: int, index: int, prompt: str,
                     pickled: Optional[bytes]) -> dict:
        """rlm_query: a child run over the given context; its answer is the result."""
        assert self.spawn_child is not None
        context = ContextSource(pickled=pickled, name="rlm_query context") if pickled else None
        child = self.spawn_child(prompt, context or ContextSource())
        label = f"rlm:{child.model}"
        call_id, refused = self._open_call(label, iteration, index, prompt, call_kind="rlm",
                                           child_run_id=child.run_id)
        if refused is not None:
            return refused
        start = time.monotonic()
        self.children.add(child)
        try:
            result = await child.start().wait()
        except asyncio.CancelledError:
            child.cancel()  # and let it end inside this run's stream, before this run ends
            with contextlib.suppress(asyncio.CancelledError):
                await child.settle(5.0)
            self.emit(ev.SubCallFinished(call_id=call_id, model=label, error="cancelled",
                      duration=round(time.monotonic() - start, 4)))
            raise
        finally:
            self.children.discard(child)
        usage = result.usage.total
        error = None if result.ok else (result.error or result.status)
        self.emit(ev.SubCallFinished(call_id=call_id, model=label, answer=result.answer,
                  usage=usage, error=error, duration=round(time.monotonic() - start, 4)))
        self.usage_updated()
        return {"error": f"the child run failed: {error}"} if error else {"text": result.answer}

    async def _subcall(self, client: ChatClient, iteration: int, index: int,
                       prompt: str) -> dict:
        call_id, refused = self._open_call(client.label, iteration, index, prompt)
        if refused is not None:
            return refused
        start = time.monotonic()
        try:
            async with self._sem:
                done = await client.complete([{"role": "user", "content": prompt}])
        except asyncio.CancelledError:
            self.emit(ev.SubCallFinished(call_id=call_id, model=client.label, error="cancelled",
                      duration=round(time.monotonic() - start, 4)))
            raise
        except BackendError as exc:
            self.emit(ev.SubCallFinished(call_id=call_id, model=client.label, error=str(exc),
                      duration=round(time.monotonic() - start, 4)))
            return {"error": str(exc)}
        self.emit(ev.SubCallFinished(call_id=call_id, model=client.label, answer=done.text,
                  usage=done.usage, duration=round(time.monotonic() - start, 4)))
        self.usage_updated()
        return {"text": done.text}
