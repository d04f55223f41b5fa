"""Running a reply's code blocks, and reading its FINAL: the part of a run (see loop.py)
between a finished reply and the feedback the model gets next.

`BlockRunner` is an object the run holds, not a part of it: it gets the REPL, the run's
`emit`, the limit check and the handler for the model code's sub-calls, and returns what
happened as values (`BlocksOutcome`, `FinalOutcome`), so no state is shared with the loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Optional

from . import events as ev
from . import parsing, prompts
from .output import OutputCapture, OutputSpool
from .repl.session import BlockResult, ReplSession

LIVE_OUTPUT_CHARS = 2_000_000  # per block, streamed as events; the rest is counted, not sent

Emit = Callable[[ev.Event], object]
# (iteration, block index, request from the worker) -> one result dict per prompt
QueryHandler = Callable[[int, int, dict], Awaitable[list]]


@dataclass(frozen=True)
class FinalOutcome:
    """A FINAL/FINAL_VAR written in prose: the answer given, or why it could not be."""

    answer: Optional[str] = None
    problem: Optional[str] = None  # fed back to the model


@dataclass(frozen=True)
class BlocksOutcome:
    """After a reply's blocks ran: the answer when the run is over, else the feedback."""

    answer: Optional[str] = None
    feedback: str = ""


class BlockRunner:
    def __init__(self, repl: ReplSession, emit: Emit, *, check_limit: Callable[[], None],
                 on_query: QueryHandler, max_output_chars: int, outputs_dir: Path) -> None:
        self.repl = repl
        self.emit = emit
        self.check_limit = check_limit  # raises when a run limit was hit
        self.on_query = on_query
        self.max_output_chars = max_output_chars
        self.outputs_dir = outputs_dir  # where big outputs are kept, one file a block

    async def run(self, iteration: int, blocks: list[parsing.Block],
                  final: Optional[parsing.Final]) -> BlocksOutcome:
        """Run a reply's blocks in order, then take its prose FINAL if the code did not fail."""
        parts: list[str] = []
        variables: list[str] = []
        failed = False
        for i, block in enumerate(blocks):
            res, output = await self.run_block(iteration, i, block.code)
            parts.append(prompts.block_feedback(i, len(blocks), block.code, output, res.error,
                                                res.duration))
            variables = [v["name"] for v in res.variables]
            if res.final is not None:
                self.emit(ev.FinalAnswer(answer=res.final, iteration=iteration,
                          source=_source(res.final_source)))
                return BlocksOutcome(answer=res.final)
            self.check_limit()
            if res.error:
                failed = True
                if i + 1 < len(blocks):
                    parts.append(f"Blocks {i + 2}–{len(blocks)} were not run because block "
                                 f"{i + 1} failed." if i + 2 < len(blocks) else
                                 f"Block {len(blocks)} was not run because block {i + 1} failed.")
                break
        problem = None
        if final is not None and not failed:
            outcome = await self.give_final(iteration, final)
            if outcome.answer is not None:
                return BlocksOutcome(answer=outcome.answer)
            problem = outcome.problem
        elif final is not None:
            problem = ("Your FINAL was ignored because your code failed; fix the code "
                       "first, then answer.")
        return BlocksOutcome(feedback=prompts.feedback(parts, variables, problem))

    async def give_final(self, iteration: int, final: parsing.Final) -> FinalOutcome:
        """Emit the answer for a FINAL/FINAL_VAR written in prose; a FINAL_VAR naming a
        missing variable gives the problem to tell the model instead."""
        if final.kind == "FINAL":
            self.emit(ev.FinalAnswer(answer=final.value, iteration=iteration, source="FINAL"))
            return FinalOutcome(answer=final.value)
        value, error = await self.repl.get_variable(final.value)
        if value is None:
            return FinalOutcome(problem=(
                f"FINAL_VAR({final.value}) failed: {error}. Create the variable in a ```repl "
                f"block first, or answer with FINAL(...)."))
        self.emit(ev.FinalAnswer(answer=value, iteration=iteration, source="FINAL_VAR"))
        return FinalOutcome(answer=value)

    async def run_block(self, iteration: int, index: int, code: str) -> tuple[BlockResult, str]:
        capture = OutputCapture(self.max_output_chars)
        spool = OutputSpool(self.outputs_dir / f"{iteration}-{index + 1}.txt")
        live = [0]

        def on_output(stream: str, text: str) -> None:
            capture.add(text)
            spool.add(text)
            if live[0] < LIVE_OUTPUT_CHARS:
                piece = text[: LIVE_OUTPUT_CHARS - live[0]]
                live[0] += len(piece)
                self.emit(ev.CodeOutput(iteration=iteration, index=index,
                          stream="stderr" if stream == "stderr" else "stdout", text=piece))

        async def on_query(request: dict) -> list:
            return await self.on_query(iteration, index, request)

        self.emit(ev.CodeBlockStarted(iteration=iteration, index=index, code=code))
        started = time.monotonic()
        try:
            res = await self.repl.execute(code, on_output=on_output, on_query=on_query)
        except asyncio.CancelledError:
            # a cancelled block keeps the time it ran
            self.emit(ev.CodeBlockFinished(iteration=iteration, index=index,
                      duration=round(time.monotonic() - started, 6), error="cancelled",
                      output_chars=capture.total, output_file=spool.close()))
            raise
        finally:
            output_file = spool.close()
        if capture.total > live[0]:
            self.emit(ev.CodeOutput(iteration=iteration, index=index, stream="stderr",
                      text=f"\n[rlm-tui: {capture.total - live[0]:,} more characters of output "
                           f"were not streamed]\n"))
        self.emit(ev.CodeBlockFinished(iteration=iteration, index=index,
                  duration=round(res.duration, 6), error=res.error, output_chars=capture.total,
                  variables=tuple(ev.VarInfo(**v) for v in res.variables), final=res.final,
                  restarted=res.restarted, output_file=output_file))
        output = capture.text()
        if res.restarted and res.error:
            output += ("\n" if output else "") + res.error
        return res, output


def _source(name: Optional[str]) -> ev.AnswerSource:
    """How the worker says a block answered (FINAL unless it names another known way)."""
    return "FINAL_VAR" if name == "FINAL_VAR" else "answer" if name == "answer" else "FINAL"
