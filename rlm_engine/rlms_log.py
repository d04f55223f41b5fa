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
from pathlib import Path
from typing import Any, Optional

from . import events as ev
from .usage import Usage


def is_rlms_log(path: "str | Path") -> bool:
    """True when the file's first JSON line is an rlms ``metadata`` (or iteration) entry."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    first = json.loads(line)
                    return first.get("type") in ("metadata", "run_context", "iteration") \
                        and "format" not in first
    except (OSError, ValueError):
        return False
    return False


def load_rlms_log(path: "str | Path") -> tuple[list[ev.Event], list[str]]:
    """(events, warnings). Corrupt lines are skipped with a warning, as for our own files."""
    entries: list[dict] = []
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                bad += 1
    warnings = [f"{Path(path).name}: {bad} line(s) were incomplete or corrupt and were "
                f"skipped"] if bad else []
    meta = next((e for e in entries if e.get("type") == "metadata"), {})
    context = next((e for e in entries if e.get("type") == "run_context"), {})
    iterations = [e for e in entries if e.get("type") == "iteration"]
    if not meta:
        warnings.append(f"{Path(path).name} has no metadata line")
    prompt = context.get("root_prompt") or _prompt_text(context.get("prompt")) or \
        _first_user(iterations)
    builder = _Builder()
    builder.run(meta, iterations, prompt, depth=0, parent="")
    return builder.events, warnings


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):
        return _first_user([{"prompt": prompt}])
    return "" if prompt is None else _text(prompt)


def _messages(it: dict) -> list:
    prompt = it.get("prompt")
    return prompt if isinstance(prompt, list) else []


def _first_user(iterations: list[dict]) -> str:
    for it in iterations[:1]:
        for m in _messages(it):
            if isinstance(m, dict) and m.get("role") == "user":
                return _text(m.get("content", ""))
    return ""


def _usage(summary: Any) -> Usage:
    models = (summary or {}).get("model_usage_summaries", {}) if isinstance(summary, dict) else {}
    return Usage(sum(int(m.get("total_input_tokens", 0)) for m in models.values()),
                 sum(int(m.get("total_output_tokens", 0)) for m in models.values()))


def _var(name: str, value: Any) -> ev.VarInfo:
    size = len(value) if isinstance(value, (str, list, dict)) else None
    kind = {str: "str", list: "list", dict: "dict", int: "int", float: "float",
            bool: "bool", type(None): "NoneType"}.get(type(value), "object")
    preview = repr(value) if not isinstance(value, str) else value
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        kind = value.strip("<>").split(" ")[0] or "object"
    return ev.VarInfo(name, kind, size, 0, preview[:200])


class _Builder:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.ids = itertools.count(1)

    def run(self, meta: dict, iterations: list[dict], prompt: str, *, depth: int,
            parent: str, t0: float = 0.0, run_id: str = "") -> tuple[float, Usage]:
        """Emit one run's events; returns (end time, tokens its sub-calls spent)."""
        run_id = run_id or f"rlms-{next(self.ids)}"
        self.spent = Usage()
        t = t0
        model = str(meta.get("root_model", "?"))
        others = meta.get("other_backends") or []
        sub_model = str(others[0]) if others else model

        def emit(cls: type, **fields: Any) -> None:
            self.events.append(cls(t=round(t, 4), run_id=run_id, depth=depth, **fields))

        emit(ev.RunStarted, prompt=prompt, model=model, recursive_model=sub_model,
             max_iterations=int(meta.get("max_iterations") or len(iterations)),
             parent_run_id=parent, settings={"source": "rlms log", **{
                 k: v for k, v in meta.items() if k in ("backend", "max_depth",
                                                       "environment_type")}})
        final: Optional[str] = None
        for n, it in enumerate(iterations, 1):
            msgs = _messages(it)
            if n > 1 and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") == "user":
                emit(ev.FeedbackSent, iteration=n - 1, text=_text(msgs[-1].get("content", "")))
            emit(ev.IterationStarted, iteration=n)
            duration = float(it.get("iteration_time") or 0.0)
            emit(ev.ReplyFinished, iteration=n, text=_text(it.get("response", "")),
                 model=model, duration=duration)
            for index, block in enumerate(it.get("code_blocks") or []):
                t = self._block(emit, block, n, index, t, depth, run_id)
            t += duration
            if it.get("final_answer") is not None:
                final = _text(it["final_answer"])
                emit(ev.FinalAnswer, answer=final, iteration=n, source="FINAL")
                break
        if final is None:
            emit(ev.RunFailed, error="the log ends without a final answer", reason="log")
        total = self.spent
        emit(ev.RunFinished, status="completed" if final is not None else "failed",
             answer=final or "", iterations=len(iterations), total_time=round(t - t0, 4),
             usage={"total_prompt_tokens": total.prompt_tokens,
                    "total_completion_tokens": total.completion_tokens, "by_model": {}})
        return t, total

    def _block(self, emit, block: dict, n: int, index: int, t: float, depth: int,
               run_id: str) -> float:
        result = block.get("result") or {}
        emit(ev.CodeBlockStarted, iteration=n, index=index, code=_text(block.get("code", "")))
        stdout, stderr = _text(result.get("stdout") or ""), _text(result.get("stderr") or "")
        if stdout:
            emit(ev.CodeOutput, iteration=n, index=index, stream="stdout", text=stdout)
        if stderr:
            emit(ev.CodeOutput, iteration=n, index=index, stream="stderr", text=stderr)
        for call in result.get("rlm_calls") or []:
            t = self._call(emit, call, n, index, t, depth, run_id)
        error = stderr.strip().splitlines()[-1] if stderr.strip() else None
        local_vars = result.get("locals") or {}
        emit(ev.CodeBlockFinished, iteration=n, index=index,
             duration=float(result.get("execution_time") or 0.0), error=error,
             output_chars=len(stdout) + len(stderr),
             variables=tuple(_var(k, v) for k, v in local_vars.items()
                             if not str(k).startswith("_")))
        return t

    def _call(self, emit, call: dict, n: int, index: int, t: float, depth: int,
              run_id: str) -> float:
        call_id = f"{run_id}.c{next(self.ids)}"
        model = str(call.get("root_model", "?"))
        prompt = _prompt_text(call.get("prompt"))
        child = call.get("metadata") if isinstance(call.get("metadata"), dict) else None
        child_iters = (child or {}).get("iterations") or []
        child_id = f"rlms-{next(self.ids)}" if child_iters else ""
        emit(ev.SubCallStarted, call_id=call_id, iteration=n, index=index,
             model=f"rlm:{model}" if child_iters else model, prompt_preview=prompt[:500],
             prompt_chars=len(prompt), call_kind="rlm" if child_iters else "llm",
             child_run_id=child_id)
        spent_here = self.spent
        if child_iters:
            meta = child.get("run_metadata") or {"root_model": model}
            t, _ = self.run(meta, child_iters, prompt, depth=depth + 1, parent=run_id, t0=t,
                            run_id=child_id)
        usage = _usage(call.get("usage_summary"))
        self.spent = spent_here + usage
        emit(ev.SubCallFinished, call_id=call_id, model=model,
             answer=_text(call.get("response", "")), usage=usage,
             duration=float(call.get("execution_time") or 0.0), error=call.get("error"))
        return t
