"""What a running block's messages mean to the engine: output for the caller's sink,
`llm_query` requests answered by tasks, and the 'done' message turned into a `BlockResult`
whose every field is checked (model code can forge any message).

Plain functions, apart from session.py so that what a block says is read in one place; the
session keeps when a block is sent, interrupted, timed out or given up on, since that
depends on its worker process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Optional

from ..errors import WorkerDied

OutputSink = Callable[[str, str], None]  # (stream, text)
# (the llm_query request: prompts, model, kind, and "payload" bytes) -> one result per prompt
QueryHandler = Callable[[dict], Awaitable[list]]
Send = Callable[[dict], Awaitable[None]]  # a message to the worker (wire.Channel.send)


@dataclass
class BlockResult:
    error: Optional[str] = None
    traceback: str = ""
    final: Optional[str] = None
    final_source: Optional[str] = None
    variables: list = field(default_factory=list)
    duration: float = 0.0
    restarted: bool = False


def clean_text(text: str) -> str:
    """Model output may hold lone surrogates (e.g. a file name that is not UTF-8); make it
    writable anywhere (files, terminals, HTTP) by escaping them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def on_message(header: dict, exec_id: int, sink: Optional[OutputSink],
               on_query: Optional[QueryHandler], queries: set, send: Send) -> bool:
    """Deal with one message from a running block; True when block `exec_id` is done.
    An `llm_query` is answered by a task added to `queries` (and gone from it when done)."""
    op = header.get("op")
    if op == "out":
        if sink is not None:
            sink(header.get("stream", "stdout"), clean_text(header.get("data", "")))
    elif op == "llm_query":
        task = asyncio.create_task(answer(header, on_query, send))
        queries.add(task)
        task.add_done_callback(queries.discard)
    return op == "done" and header.get("id") == exec_id


def variables_of(done: dict) -> list:
    """The variable summaries of a 'done' message that have the shape the engine expects
    (at most 500)."""
    return [v for v in (done.get("variables") or [])[:500]
            if isinstance(v, dict) and isinstance(v.get("name"), str)]


def block_result(done: dict, variables: list) -> BlockResult:
    """The block's result, checked: model code can forge this message, so every field
    is made the type the engine expects (`variables` from `variables_of`)."""
    def text(key: str) -> Optional[str]:
        value = done.get(key)
        return None if value is None else clean_text(str(value))

    duration = done.get("duration")
    return BlockResult(
        error=text("error"), traceback=text("traceback") or "", final=text("final"),
        final_source=text("final_source"), variables=variables,
        duration=float(duration) if isinstance(duration, (int, float)) else 0.0,
    )


async def answer(header: dict, on_query: Optional[QueryHandler], send: Send) -> None:
    """Answer one `llm_query` request: one result per prompt, an error for each when there
    is no handler or it failed. A worker gone meanwhile is not answered."""
    prompts = header.get("prompts", [])
    if on_query is None:
        results = [{"error": "llm_query is not available here"} for _ in prompts]
    else:
        try:
            results = await on_query(header)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the model code
            results = [{"error": f"{type(exc).__name__}: {exc}"} for _ in prompts]
    try:
        await send({"op": "llm_result", "qid": header.get("qid"), "results": results})
    except WorkerDied:
        pass


def timed_out(result: Optional[BlockResult], timeout: float) -> BlockResult:
    """The result of a block stopped after `timeout` s (`result`: what stopping it gave)."""
    note = f"TimeoutError: the block ran longer than {timeout:g} s and was stopped"
    if result is None:
        return BlockResult(error=note)
    if result.restarted:
        result.error = f"{note}; {result.error}"
    else:
        result.error = f"{note} (the variables it set so far are kept)"
    return result
