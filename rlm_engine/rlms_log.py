"""Reading the official `rlms` package's JSONL logs as rlm-tui events.

Their layout (``rlm_<timestamp>_<id>.jsonl``): a ``{"type": "metadata", root_model,
max_depth, max_iterations, backend, backend_kwargs, environment_type, ..., other_backends}``
line, optionally a ``{"type": "run_context", prompt, root_prompt, ...}`` line, then one
``{"type": "iteration", iteration, timestamp, prompt, response, code_blocks, final_answer,
iteration_time}`` line per turn. A code block is ``{code, result: {stdout, stderr, locals,
execution_time, rlm_calls}}``; each of ``rlm_calls`` is ``{root_model, prompt, response,
usage_summary: {model_usage_summaries: {model: {total_calls, total_input_tokens,
total_output_tokens}}}, execution_time, error?}``, and a call that was a child RLM carries its
own trajectory in ``metadata``: ``{run_metadata: {...}, iterations: [...]}``.

Each iteration's ``prompt`` is the whole message list sent that turn; its last user message
is what the loop fed back after the previous turn, and becomes a FeedbackSent event. A child
run becomes events with depth + 1 and its own run_id, as rlm-tui's own child runs are.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, Callable, Optional

from . import events as ev
from .schema import MAX_NUMBER, json_lines
from .usage import Usage, UsageSummary


def is_rlms_log(path: "str | Path") -> bool:
    """True when the file's first JSON line is an rlms ``metadata`` (or iteration) entry."""
    try:
        first = next(iter(json_lines(path)), None)
    except OSError:
        return False
    return isinstance(first, dict) and "format" not in first \
        and first.get("type") in ("metadata", "run_context", "iteration")


def load_rlms_log(path: "str | Path") -> tuple[list[ev.Event], list[str]]:
    """(events, warnings). Corrupt lines are skipped with a warning, as for our own files."""
    entries: list[dict] = []
    bad = 0
    for entry in json_lines(path):  # bounded lines; BAD for one that is not JSON
        if isinstance(entry, dict):
            entries.append(entry)
        else:
            bad += 1
    warnings = [f"{Path(path).name}: {bad} line(s) were incomplete or corrupt and were "
                f"skipped"] if bad else []
    meta = next((e for e in entries if e.get("type") == "metadata"), {})
    context = next((e for e in entries if e.get("type") == "run_context"), {})
    iterations = [e for e in entries if e.get("type") == "iteration"]
    if not meta:
        warnings.append(f"{Path(path).name} has no metadata line")
    prompt = _prompt_text(context.get("root_prompt")) or _prompt_text(context.get("prompt")) \
        or _first_user(iterations)
    finals = [i for i, it in enumerate(iterations) if it.get("final_answer") is not None]
    if finals and finals[0] + 1 < len(iterations):
        warnings.append(f"{Path(path).name} holds {len(iterations) - finals[0] - 1} more "
                        f"iteration(s) after the first final answer (later completions of the "
                        f"same RLM); only the first completion is shown")
        iterations = iterations[:finals[0] + 1]
    builder = _Builder()
    builder.run(meta, iterations, prompt, depth=0, parent="")
    return builder.events, warnings


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float:
    """A count or a duration: a finite number in 0..MAX_NUMBER, else 0 (a log may say
    "1.2s", NaN, -5 or 1e308)."""
    if isinstance(value, bool):
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return number if math.isfinite(number) and 0 <= number <= MAX_NUMBER else 0.0


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        return "(nested too deeply to show)"
    except (TypeError, ValueError):
        return str(value)


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):
        return _first_user([{"prompt": prompt}])
    return "" if prompt is None else _text(prompt)


def _messages(it: dict) -> list:
    return [m for m in _list(_dict(it).get("prompt")) if isinstance(m, dict)]


def _first_user(iterations: list[dict]) -> str:
    for it in iterations[:1]:
        for m in _messages(it):
            if isinstance(m, dict) and m.get("role") == "user":
                return _text(m.get("content", ""))
    return ""


def _usage(summary: Any) -> Usage:
    models = [_dict(m) for m in _dict(_dict(summary).get("model_usage_summaries")).values()]
    return Usage(int(sum(_num(m.get("total_input_tokens")) for m in models)),
                 int(sum(_num(m.get("total_output_tokens")) for m in models)))


def _var(name: str, value: Any) -> ev.VarInfo:
    size = len(value) if isinstance(value, (str, list, dict)) else None
    kind = {str: "str", list: "list", dict: "dict", int: "int", float: "float",
            bool: "bool", type(None): "NoneType"}.get(type(value), "object")
    preview = value if isinstance(value, str) else _text(value)
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        kind = value.strip("<>").split(" ")[0] or "object"
    return ev.VarInfo(name, kind, size, 0, preview[:200])


class _Builder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.ids = itertools.count(1)
        self.t = 0.0  # one clock for the whole tree: a child run happens inside its call

    def run(self, meta: dict, iterations: list[dict], prompt: str, *, depth: int,
            parent: str, run_id: str = "") -> Usage:
        """Emit one run's events; returns the tokens its sub-calls spent."""
        run_id = run_id or f"rlms-{next(self.ids)}"
        self.spent = Usage()
        t0 = self.t
        meta = _dict(meta)
        model = _text(meta.get("root_model", "?"))
        others = _list(meta.get("other_backends"))
        sub_model = _text(others[0]) if others else model

        def emit(event: ev.Event) -> None:
            self.events.append(ev.stamped(event, t=round(self.t, 4), run_id=run_id, depth=depth))

        emit(ev.RunStarted(prompt=prompt, model=model, recursive_model=sub_model,
             max_iterations=int(_num(meta.get("max_iterations")) or len(iterations)),
             parent_run_id=parent, settings={"source": "rlms log", **{
                 k: v for k, v in meta.items() if k in ("backend", "max_depth",
                                                       "environment_type")}}))
        final: Optional[str] = None
        iterations = [it for it in _list(iterations) if isinstance(it, dict)]
        for n, it in enumerate(iterations, 1):
            msgs = _messages(it)
            if n > 1 and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") == "user":
                emit(ev.FeedbackSent(iteration=n - 1, text=_text(msgs[-1].get("content", ""))))
            emit(ev.IterationStarted(iteration=n))
            duration = _num(it.get("iteration_time"))
            started = self.t
            emit(ev.ReplyFinished(iteration=n, text=_text(it.get("response", "")),
                 model=model, duration=duration))
            blocks = [b for b in _list(it.get("code_blocks")) if isinstance(b, dict)]
            for index, block in enumerate(blocks):
                self._block(emit, block, n, index, depth, run_id)
            # an iteration's time includes its code and any child runs inside it
            self.t = max(self.t, started + duration)
            if it.get("final_answer") is not None:
                final = _text(it["final_answer"])
                emit(ev.FinalAnswer(answer=final, iteration=n, source="FINAL"))
                break
        if final is None:
            emit(ev.RunFailed(error="the log ends without a final answer", reason="log"))
        total = self.spent
        emit(ev.RunFinished(status="completed" if final is not None else "failed",
             answer=final or "", iterations=len(iterations), total_time=round(self.t - t0, 4),
             usage=UsageSummary(total_prompt_tokens=total.prompt_tokens,
                                total_completion_tokens=total.completion_tokens)))
        return total

    def _block(self, emit: Callable[[ev.Event], None], block: dict, n: int, index: int,
               depth: int, run_id: str) -> None:
        result = _dict(block.get("result"))
        emit(ev.CodeBlockStarted(iteration=n, index=index, code=_text(block.get("code", ""))))
        stdout, stderr = _text(result.get("stdout") or ""), _text(result.get("stderr") or "")
        if stdout:
            emit(ev.CodeOutput(iteration=n, index=index, stream="stdout", text=stdout))
        if stderr:
            emit(ev.CodeOutput(iteration=n, index=index, stream="stderr", text=stderr))
        for call in _list(result.get("rlm_calls")):
            if isinstance(call, dict):
                self._call(emit, call, n, index, depth, run_id)
        error = stderr.strip().splitlines()[-1] if stderr.strip() else None
        local_vars = _dict(result.get("locals"))
        emit(ev.CodeBlockFinished(iteration=n, index=index,
             duration=_num(result.get("execution_time")), error=error,
             output_chars=len(stdout) + len(stderr),
             variables=tuple(_var(str(k), v) for k, v in local_vars.items()
                             if not str(k).startswith("_"))))

    def _call(self, emit: Callable[[ev.Event], None], call: dict, n: int, index: int,
              depth: int, run_id: str) -> None:
        call_id = f"{run_id}.c{next(self.ids)}"
        model = _text(call.get("root_model", "?"))
        prompt = _prompt_text(call.get("prompt"))
        child = _dict(call.get("metadata"))
        child_iters = [it for it in _list(child.get("iterations")) if isinstance(it, dict)]
        child_id = f"rlms-{next(self.ids)}" if child_iters else ""
        emit(ev.SubCallStarted(call_id=call_id, iteration=n, index=index,
             model=f"rlm:{model}" if child_iters else model, prompt_preview=prompt[:500],
             prompt_chars=len(prompt), call_kind="rlm" if child_iters else "llm",
             child_run_id=child_id))
        spent_here = self.spent
        if child_iters:
            meta = _dict(child.get("run_metadata")) or {"root_model": model}
            self.run(meta, child_iters, prompt, depth=depth + 1, parent=run_id, run_id=child_id)
        usage = _usage(call.get("usage_summary"))
        self.spent = spent_here + usage
        emit(ev.SubCallFinished(call_id=call_id, model=model,
             answer=_text(call.get("response", "")), usage=usage,
             duration=_num(call.get("execution_time")),
             error=None if call.get("error") is None else _text(call.get("error"))))
