"""Sub-calls from model code: `llm_query` / `llm_query_batched` to the recursive model
(concurrency-limited), and `rlm_query` child runs with their own worker, whose events go into
the root's stream and whose tokens count against the root's budget.

A mixin of `Run` (loop.py): it uses the run's clients, limits and `emit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Optional

from . import events as ev
from .clients.base import ChatClient
from .errors import BackendError
from .repl.session import ContextSource
from .usage import Usage


class SubCallsMixin:
    async def _subcalls(self, iteration: int, index: int, request: dict) -> list:
        if self.fork is not None and self.fork.replaying:  # answered from the recording
            return self.fork.serve(self, iteration, index, request)
        prompts_ = [str(p) for p in request.get("prompts", [])]
        model = request.get("model")
        if request.get("kind") == "rlm" and self.depth + 1 < self.rlm.max_depth:
            return [await self._child(iteration, index, prompts_[0], request.get("payload"))]
        client = self.rlm.client_for(model) if model else self.rlm.recursive_client
        # a multi-endpoint model (clients/pool.py) spreads the batch across its endpoints
        spread = getattr(client, "spread", None)
        targets = spread(len(prompts_)) if spread else [client] * len(prompts_)
        return list(await asyncio.gather(
            *(self._subcall(c, iteration, index, p) for c, p in zip(targets, prompts_))))

    def _open_call(self, model: str, iteration: int, index: int, prompt: str,
                   **extra) -> tuple[str, Optional[dict]]:
        """Announce a sub-call; once a run limit is hit, it is refused at once (the refusal
        is the second value, the result to hand back to the model code)."""
        call_id = f"{self.run_id}.{next(self._calls)}"
        self.emit(ev.SubCallStarted, call_id=call_id, iteration=iteration, index=index,
                  model=model, prompt_preview=prompt[:500], prompt_chars=len(prompt), **extra)
        if self._limit is None:
            return call_id, None
        error = f"{self._limit}: no more sub-calls"
        self.emit(ev.SubCallFinished, call_id=call_id, model=model, error=error)
        return call_id, {"error": error}

    async def _child(self, iteration: int, index: int, prompt: str,
                     pickled: Optional[bytes]) -> dict:
        """rlm_query: a child run over the given context; its answer is the result."""
        from .loop import Run  # the child is a run like this one

        context = ContextSource(pickled=pickled, name="rlm_query context") if pickled else None
        child = Run(self.rlm, prompt, context or ContextSource(), parent=self)
        label = f"rlm:{child.root_client.label}"
        call_id, refused = self._open_call(label, iteration, index, prompt, call_kind="rlm",
                                           child_run_id=child.run_id)
        if refused is not None:
            return refused
        start = time.monotonic()
        self._children.add(child)
        try:
            result = await child.start().wait()
        except asyncio.CancelledError:
            child.cancel()  # and let it end inside this run's stream, before this run ends
            with contextlib.suppress(asyncio.CancelledError):
                await child.settle(5.0)
            self.emit(ev.SubCallFinished, call_id=call_id, model=label, error="cancelled",
                      duration=round(time.monotonic() - start, 4))
            raise
        finally:
            self._children.discard(child)
        usage = Usage(result.usage["total_prompt_tokens"], result.usage["total_completion_tokens"])
        error = None if result.ok else (result.error or result.status)
        self.emit(ev.SubCallFinished, call_id=call_id, model=label, answer=result.answer,
                  usage=usage, error=error, duration=round(time.monotonic() - start, 4))
        self._usage_updated()
        return {"error": f"the child run failed: {error}"} if error else {"text": result.answer}

    async def _subcall(self, client: ChatClient, iteration: int, index: int,
                       prompt: str) -> dict:
        call_id, refused = self._open_call(client.label, iteration, index, prompt)
        if refused is not None:
            return refused
        start = time.monotonic()
        try:
            async with self._sub_sem:
                done = await client.complete([{"role": "user", "content": prompt}])
        except asyncio.CancelledError:
            self.emit(ev.SubCallFinished, call_id=call_id, model=client.label, error="cancelled",
                      duration=round(time.monotonic() - start, 4))
            raise
        except BackendError as exc:
            self.emit(ev.SubCallFinished, call_id=call_id, model=client.label, error=str(exc),
                      duration=round(time.monotonic() - start, 4))
            return {"error": str(exc)}
        self.emit(ev.SubCallFinished, call_id=call_id, model=client.label, answer=done.text,
                  usage=done.usage, duration=round(time.monotonic() - start, 4))
        self._usage_updated()
        return {"text": done.text}
