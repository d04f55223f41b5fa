"""Running a reply's code blocks, and reading its FINAL: the part of a run (see loop.py)
between a finished reply and the feedback the model gets next.

A mixin of `Run`: it uses the run's REPL, its limits and its `emit`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Optional

from . import events as ev
from . import parsing, prompts
from .output import OutputCapture, OutputSpool
from .repl.session import BlockResult

LIVE_OUTPUT_CHARS = 2_000_000  # per block, streamed as events; the rest is counted, not sent


class BlocksMixin:
    _final_error: Optional[str] = None

    async def _run_blocks(self, iteration: int, blocks: list[parsing.Block],
                          final: Optional[parsing.Final]) -> tuple[Optional[str], str]:
        """Run a reply's blocks in order. Returns (answer, feedback): the answer when the run
        is over, else the text to send back."""
        assert self._repl is not None
        parts: list[str] = []
        variables: list[str] = []
        failed = False
        for i, block in enumerate(blocks):
            res, output = await self._run_block(iteration, i, block.code)
            parts.append(prompts.block_feedback(i, len(blocks), block.code, output, res.error,
                                                res.duration))
            variables = [v["name"] for v in res.variables]
            if res.final is not None:
                self.emit(ev.FinalAnswer, answer=res.final, iteration=iteration,
                          source=res.final_source or "FINAL")
                return res.final, ""
            self._check_limit()
            if res.error:
                failed = True
                if i + 1 < len(blocks):
                    parts.append(f"Blocks {i + 2}–{len(blocks)} were not run because block "
                                 f"{i + 1} failed." if i + 2 < len(blocks) else
                                 f"Block {len(blocks)} was not run because block {i + 1} failed.")
                break
        self._final_error = None
        if final is not None and not failed:
            if await self._give_final(iteration, final):
                return self.state.answer, ""
        elif final is not None:
            self._final_error = ("Your FINAL was ignored because your code failed; fix the code "
                                 "first, then answer.")
        return None, prompts.feedback(parts, variables, self._final_error)

    async def _give_final(self, iteration: int, final: parsing.Final) -> bool:
        """Emit the answer for a FINAL/FINAL_VAR written in prose. False (with
        self._final_error set) when FINAL_VAR names a missing variable."""
        self._final_error = None
        if final.kind == "FINAL":
            self.emit(ev.FinalAnswer, answer=final.value, iteration=iteration, source="FINAL")
            return True
        assert self._repl is not None
        value, error = await self._repl.get_variable(final.value)
        if value is None:
            self._final_error = (f"FINAL_VAR({final.value}) failed: {error}. Create the "
                                 f"variable in a ```repl block first, or answer with FINAL(...).")
            return False
        self.emit(ev.FinalAnswer, answer=value, iteration=iteration, source="FINAL_VAR")
        return True

    async def _run_block(self, iteration: int, index: int, code: str) -> tuple[BlockResult, str]:
        assert self._repl is not None
        capture = OutputCapture(self.rlm.max_output_chars)
        spool = OutputSpool(self._outputs_dir() / f"{iteration}-{index + 1}.txt")
        live = [0]

        def on_output(stream: str, text: str) -> None:
            capture.add(text)
            spool.add(text)
            if live[0] < LIVE_OUTPUT_CHARS:
                piece = text[: LIVE_OUTPUT_CHARS - live[0]]
                live[0] += len(piece)
                self.emit(ev.CodeOutput, iteration=iteration, index=index, stream=stream,
                          text=piece)

        async def on_query(request: dict) -> list:
            return await self._subcalls(iteration, index, request)

        self.emit(ev.CodeBlockStarted, iteration=iteration, index=index, code=code)
        started = time.monotonic()
        try:
            res = await self._repl.execute(code, on_output=on_output, on_query=on_query)
        except asyncio.CancelledError:
            # a cancelled block keeps the time it ran
            self.emit(ev.CodeBlockFinished, iteration=iteration, index=index,
                      duration=round(time.monotonic() - started, 6), error="cancelled", output_chars=capture.total,
                      output_file=spool.close())
            raise
        finally:
            output_file = spool.close()
        if capture.total > live[0]:
            self.emit(ev.CodeOutput, iteration=iteration, index=index, stream="stderr",
                      text=f"\n[rlm-tui: {capture.total - live[0]:,} more characters of output "
                           f"were not streamed]\n")
        self.emit(ev.CodeBlockFinished, iteration=iteration, index=index,
                  duration=round(res.duration, 6), error=res.error, output_chars=capture.total,
                  variables=tuple(ev.VarInfo(**v) for v in res.variables), final=res.final,
                  restarted=res.restarted, output_file=output_file)
        output = capture.text()
        if res.restarted and res.error:
            output += ("\n" if output else "") + res.error
        return res, output
