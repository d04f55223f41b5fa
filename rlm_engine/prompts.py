"""What the root model is told: the system prompt, the feedback after code, the nudges.

The context itself never goes into a prompt; the model gets its type, size and a short preview
and must explore it in code.
"""

from __future__ import annotations

from typing import Optional

from .events import ContextInfo

SYSTEM_PROMPT = """\
You are a careful analyst with a live Python REPL. You answer the user's question by writing \
code that explores data you cannot see directly.

## The REPL
Write Python in fenced blocks tagged `repl`, like this:
```repl
print(len(context))
print(context[:500])
```
Each block runs as soon as your message ends, and you get back what it printed. Variables, \
imports and functions persist between blocks and turns. Only `print` output (and the value of \
a block's last expression) comes back to you, and long output is cut, so print summaries and \
slices, not everything.

Available in the REPL:
- `context`: the user's data. {context_line}
- `llm_query(prompt: str) -> str`: ask a sub-LLM ({sub_model}); it sees only the prompt you \
give it. Use it to read, summarise or classify chunks of `context` (it handles about \
{sub_chars:,} characters per call).
- `llm_query_batched(prompts: list[str]) -> list[str]`: the same for many prompts at once, run \
in parallel; much faster than a loop of `llm_query`.
- `SHOW_VARS()`: lists the variables you have made.{recursion_line}
A failed sub-call raises `LLMQueryError`, which you can catch.

## How to work
1. Look at the data first: its size, its structure, a few samples. Never ask the user to show \
it to you: it is in `context`.
2. Plan: search with Python (string methods, `re`, slicing) where you can; split big text into \
chunks and use `llm_query_batched` where you need understanding.
3. Keep results in variables; check them before you answer.
4. Do not write what the output "will be": stop after your code block and wait for the real \
output.

## Finishing
When you know the answer, write it outside any code block, on its own line, as
FINAL(your answer here)
or, to answer with the value of a REPL variable,
FINAL_VAR(variable_name)
Use FINAL only when you are done; everything inside the parentheses is your answer.\
"""


def describe_context(info: Optional[ContextInfo]) -> str:
    if info is None or info.kind in ("", "none") or info.type == "NoneType":
        return ("No data was given (`context` is None); answer the question itself, using the "
                "REPL to compute or check what you need.")
    parts = [f"It is a `{info.type}`"]
    if info.name:
        parts.append(f"loaded from `{info.name}` ({info.kind})")
    size = []
    if info.chars:
        size.append(f"{info.chars:,} characters")
    if info.lines and info.type == "str":
        size.append(f"{info.lines:,} lines")
    if info.items is not None:
        size.append(f"{info.items:,} items")
    line = " ".join(parts)
    if size:
        line += " of " + ", ".join(size)
    preview = info.preview[:200].replace("```", "'''")
    if preview:
        line += f". It starts: {preview!r}"
    return line + "."


RECURSION_LINE = (
    "\n- `rlm_query(prompt: str, context=None) -> str`: hand a sub-task that needs code to a "
    "child analyst with a REPL of its own, holding `context` (any Python value); it works in "
    "turns as you do and returns its final answer. Slower than `llm_query`: use it for parts "
    "too big or too hard for one call.")


def system_prompt(info: Optional[ContextInfo], sub_model: str, num_ctx: Optional[int],
                  recursion: bool = False) -> str:
    sub_chars = max(4000, int((num_ctx or 32768) * 3 * 0.8))
    return SYSTEM_PROMPT.format(
        context_line=describe_context(info), sub_model=sub_model, sub_chars=sub_chars,
        recursion_line=RECURSION_LINE if recursion else "",
    )


def first_message(prompt: str) -> str:
    return (f"{prompt}\n\n(Work in the REPL: start by looking at `context`. "
            f"Answer with FINAL(...) when you are sure.)")


NUDGE = ("Your reply had no ```repl code block and no FINAL(...). Either write a ```repl block "
         "to keep working on the data, or give your answer as FINAL(your answer).")

LAST_CHANCE = ("You have used all your iterations. Give your best final answer now, as "
               "FINAL(your answer), using what you have found so far. Do not write code.")


def block_feedback(index: int, count: int, code: str, output: str, error: Optional[str],
                   duration: float) -> str:
    head = f"Block {index + 1} of {count}" if count > 1 else "Your code"
    lines = [f"{head} ran in {duration:.2f} s."]
    lines.append("Output:\n" + output.rstrip() if output.strip() else "(no output)")
    if error:
        lines.append(f"Error: {error}")
    return "\n".join(lines)


def feedback(parts: list[str], variables: list[str], final_error: Optional[str] = None) -> str:
    text = "\n\n".join(parts)
    if variables:
        shown = ", ".join(variables[:30]) + (" …" if len(variables) > 30 else "")
        text += f"\n\nREPL variables: {shown}"
    if final_error:
        text += f"\n\n{final_error}"
    return text + "\n\nContinue: write another ```repl block, or answer with FINAL(...)."
