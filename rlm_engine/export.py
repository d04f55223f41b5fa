"""A recorded run as a readable Markdown report or as JSON.

The report holds the question, every iteration's prose, each code block with its whole
output (as kept in the run, up to 1 MB a block), errors, sub-calls (and what child runs
answered), the answer and the usage. Fences are made longer than any run of backticks in
what they hold, so model output cannot break the document.
"""

from __future__ import annotations

import json
import re
import time

from . import parsing
from .replay import RecordedRun


def _ticks(text: str, at_least: int) -> str:
    """A run of backticks longer than any in `text`, so `text` cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(at_least, longest + 1)


def _code(text: str) -> str:
    """Inline code that holds backticks safely."""
    ticks = _ticks(text, 1)
    return f"{ticks} {text} {ticks}"


def _prose(text: str) -> str:
    """Model prose as Markdown, unless an unclosed fence would swallow what follows."""
    return _fence(text, "text") if text.count("```") % 2 else text


def _fence(text: str, lang: str = "") -> str:
    ticks = _ticks(text, 3)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def to_markdown(run: RecordedRun) -> str:
    st = run.state
    start = st.started
    res = st.result(run.trajectory_path)
    out: list[str] = []
    title = (run.prompt.strip().splitlines() or ["(no question)"])[0][:80]
    out.append(f"# rlm-tui run: {title}\n")
    if start is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(start.started_at)) \
            if start.started_at else "unknown time"
        models = start.model if start.recursive_model == start.model else \
            f"{start.model} (sub-calls: {start.recursive_model})"
        out.append(f"- **When:** {when}\n- **Model:** {models}")
        if start.forked_from:
            out.append(f"- **Forked from:** run {_code(start.forked_from)} at iteration "
                       f"{start.fork_at} ({_code(start.fork_file or '?')}); iterations "
                       f"1–{start.fork_at} were rebuilt from it")
        if start.context.kind not in ("", "none"):
            c = start.context
            size = f"{c.chars:,} characters" if c.chars else f"{c.items or 0:,} items"
            out.append(f"- **Context:** {c.name or c.type} ({c.kind}, {size})")
    usage = res.usage
    out.append(f"- **Outcome:** {res.status} after {res.iterations} iterations, "
               f"{res.total_time:.1f} s, {usage.total_prompt_tokens:,} prompt + "
               f"{usage.total_completion_tokens:,} completion tokens")
    if res.error:
        out.append(f"- **Error:** {res.error}")
    out.append(f"\n## Question\n\n{_prose(run.prompt)}\n")
    for it in st.iterations:
        out.append(f"## Iteration {it.iteration}\n")
        prose = parsing.prose_of(it.response)
        if prose:
            out.append(_prose(prose) + "\n")
        if it.cut:
            out.append("*(the reply was cut where the model started inventing its output)*\n")
        for b in it.blocks:
            head = f"### Code block {b.index + 1} ({b.duration:.2f} s)"
            out.append(f"{head}\n\n{_fence(b.code, 'python')}\n")
            if b.output:
                note = "" if b.output_chars <= len(b.output) else \
                    f" (first {len(b.output):,} of {b.output_chars:,} characters)"
                out.append(f"Output{note}:\n\n{_fence(b.output, 'text')}\n")
            if b.error:
                out.append(f"**Error:** {_code(b.error)}\n")
            for call in b.sub_calls:
                what = str(call.error or call.answer)
                out.append(f"- sub-call to `{call.model}`: {' '.join(call.prompt_preview.split())[:200]}"
                           f"\n  - {'error' if call.error else 'answer'}: "
                           f"{' '.join(what.split())[:500]}")
            if b.sub_calls:
                out.append("")
    out.append(f"## Answer\n\n{_prose(res.answer) if res.answer else '(none)'}\n")
    if res.answer_source:
        out.append(f"*(via {res.answer_source})*\n")
    out.append("## Usage\n\n| model | prompt tokens | completion tokens | calls |\n|---|---:|---:|---:|")
    for model, m in usage.by_model.items():
        out.append(f"| {model} | {m.prompt_tokens:,} | {m.completion_tokens:,} | {m.calls} |")
    return "\n".join(out) + "\n"


def to_json(run: RecordedRun) -> str:
    data = run.state.result(run.trajectory_path).to_dict()
    data["prompt"] = run.prompt
    data["model"] = run.model
    data["recursive_model"] = run.recursive_model
    start = run.state.started
    if start is not None and start.forked_from:
        data.update(forked_from=start.forked_from, fork_file=start.fork_file,
                    fork_at=start.fork_at)
    return json.dumps(data, ensure_ascii=False, indent=2)
