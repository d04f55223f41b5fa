"""Writing a recorded run as the official `rlms` package's JSONL log, so a run made here opens
in their visualizer (the other direction of rlms_log.py, which documents the layout).

Lines: ``metadata``, ``run_context`` (the question as ``root_prompt``, and the context's text as
``prompt`` when it came from a text file of at most CONTEXT_MAX_BYTES that is still there),
then one ``iteration`` per root turn. Each iteration's ``prompt`` is the message list the model
was sent that turn (system prompt, question, then every earlier reply and the feedback after
it), as their logger writes it. A block's ``result`` holds its ``stdout`` and ``stderr`` as
they were streamed, its variables as ``locals`` (name → preview: the values themselves are not
kept), and its sub-calls as ``rlm_calls``; a call that ran a child RLM (`rlm_query`) nests the
child's own run as ``metadata: {run_metadata, iterations}``, as their format does.

Their format has no error field: a failed block's one-line error is the last line of its
``stderr`` (added when the traceback does not end with it), and a reader cannot tell a block
that only wrote to stderr from a failed one. What it has no room for is left out: thinking
text, the reason a run failed or was cancelled (such a run simply has no ``final_answer``),
timings finer than an iteration's.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Optional

from . import events as ev
from . import prompts
from .replay import RecordedRun
from .state import BlockRecord, RunState

CONTEXT_MAX_BYTES = 50 * 1024 * 1024


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).isoformat() if ts else datetime.now().isoformat()


def _backend(label: str) -> str:
    head = label.split(":", 1)[0]
    return head if head in ("openai", "anthropic") or head.startswith("openai") else "ollama"


class _Tree:
    """The recorded events split per run (root and children), with what links them."""

    def __init__(self, run: RecordedRun) -> None:
        self.states: dict[str, RunState] = {}
        self.child_of_call: dict[str, str] = {}  # call_id -> child run_id
        self.finals: dict[str, int] = {}  # run_id -> iteration that gave the answer
        self.streams: dict[tuple[str, int, int], list[str]] = {}
        for e in run.events:
            state = self.states.setdefault(e.run_id, RunState())
            state.apply(e)
            if isinstance(e, ev.SubCallStarted) and e.child_run_id:
                self.child_of_call[e.call_id] = e.child_run_id
            elif isinstance(e, ev.FinalAnswer):
                self.finals[e.run_id] = e.iteration
            elif isinstance(e, ev.CodeOutput):
                pair = self.streams.setdefault((e.run_id, e.iteration, e.index), ["", ""])
                pair[0 if e.stream == "stdout" else 1] += e.text

    def metadata(self, run_id: str) -> dict:
        start = self.states[run_id].started
        assert start is not None
        return {"root_model": start.model,
                "max_depth": int(start.settings.get("max_depth") or 1),
                "max_iterations": start.max_iterations, "backend": _backend(start.model),
                "backend_kwargs": {"model_name": start.model}, "environment_type": "local",
                "environment_kwargs": {},
                "other_backends": [start.recursive_model]
                if start.recursive_model != start.model else None}

    def iterations(self, run_id: str) -> list[dict]:
        st = self.states[run_id]
        start = st.started
        assert start is not None
        messages: list[dict] = []
        if start.system_prompt:
            messages.append({"role": "system", "content": start.system_prompt})
        messages.append({"role": "user", "content": prompts.first_message(start.prompt)})
        out = []
        for it in st.iterations:
            blocks = [self._block(run_id, it.iteration, b) for b in it.blocks]
            final = st.answer if self.finals.get(run_id) == it.iteration else None
            out.append({"type": "iteration", "iteration": it.iteration,
                        "timestamp": _iso(start.started_at + it.started_t),
                        "prompt": list(messages), "response": it.response,
                        "code_blocks": blocks, "final_answer": final,
                        "iteration_time": round(it.duration + sum(b.duration for b in it.blocks),
                                                4)})
            messages.append({"role": "assistant", "content": it.response})
            if it.feedback:
                messages.append({"role": "user", "content": it.feedback})
        return out

    def _block(self, run_id: str, iteration: int, b: BlockRecord) -> dict:
        stdout, stderr = self.streams.get((run_id, iteration, b.index), ["", ""])
        if b.error and (stderr.strip().splitlines() or [""])[-1] != b.error:
            stderr += ("" if not stderr or stderr.endswith("\n") else "\n") + b.error + "\n"
        calls = []
        for s in b.sub_calls:
            usage = {"model_usage_summaries": {s.model: {
                "total_calls": 1, "total_input_tokens": s.usage.prompt_tokens,
                "total_output_tokens": s.usage.completion_tokens}}}
            model = s.model[4:] if s.model.startswith("rlm:") else s.model
            call = {"root_model": model, "prompt": s.prompt_preview, "response": s.answer,
                    "usage_summary": usage, "execution_time": s.duration}
            if s.error:
                call["error"] = s.error
            child = self.child_of_call.get(s.call_id)
            if child in self.states and self.states[child].started is not None:
                call["metadata"] = {"run_metadata": self.metadata(child),
                                    "iterations": self.iterations(child)}
            calls.append(call)
        return {"code": b.code, "result": {
            "stdout": stdout, "stderr": stderr,
            "locals": {v.name: v.preview for v in b.variables},
            "execution_time": b.duration, "rlm_calls": calls}}


def _context_text(path: str) -> Optional[str]:
    p = Path(path) if path else None
    try:
        if p is None or not p.is_file() or p.stat().st_size > CONTEXT_MAX_BYTES:
            return None
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def to_rlms(run: RecordedRun) -> str:
    """The run as an rlms JSONL log (text, one JSON object a line). Raises ValueError for a
    file that holds no run."""
    start = run.state.started
    if start is None:
        raise ValueError("the file holds no run to export")
    tree = _Tree(run)
    root = start.run_id
    lines: list[dict] = [{"type": "metadata", "timestamp": _iso(start.started_at),
                          **tree.metadata(root)}]
    context: dict = {"type": "run_context", "timestamp": _iso(start.started_at),
                     "root_prompt": start.prompt, "environment_type": "local",
                     "environment_kwargs": {}, "session_mode": False}
    text = _context_text(start.context_path)
    if text is not None:
        context["prompt"] = text
    lines.append(context)
    lines.extend(tree.iterations(root))
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
