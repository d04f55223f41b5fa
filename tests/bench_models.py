"""Scripted benchmark models for the loopback fake server: one that finds needles by writing
code as an RLM and, called directly, answers the 7-digit numbers it was shown (so it is right
exactly when the needle survived the cut to its context window); one that always answers the
same wrong number."""

from __future__ import annotations

import re

from fake_llm_server import Reply

SEARCH = "```repl\nimport re\nprint(re.findall(r'(?<!\\d)\\d{7}(?!\\d)', context))\n```\n"


def right(delay: float = 0.0):
    def reply(messages: list) -> Reply:
        if "<<<TEXT" in messages[-1]["content"]:  # direct mode: read what was shown
            shown = messages[-1]["content"].split("TEXT>>>")[0]
            found = re.findall(r"(?<!\d)\d{7}(?!\d)", shown)
            return Reply(text=", ".join(found) or "not found", first_delay=delay)
        assistant_turns = sum(1 for m in messages if m["role"] == "assistant")
        if assistant_turns == 0:
            return Reply(text=SEARCH, first_delay=delay)
        numbers = re.findall(r"\d{7}", messages[-1]["content"])
        return Reply(text=f"FINAL({', '.join(numbers)})", first_delay=delay)
    return reply


def wrong(delay: float = 0.0):
    return lambda messages: Reply(text="FINAL(1234567)", first_delay=delay)
