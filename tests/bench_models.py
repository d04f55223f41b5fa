"""Scripted benchmark models for the loopback fake server: one that finds needles by writing
code (always right), one that always answers the same wrong number."""

from __future__ import annotations

import re

from fake_llm_server import Reply

SEARCH = "```repl\nimport re\nprint(re.findall(r'(?<!\\d)\\d{7}(?!\\d)', context))\n```\n"


def right(delay: float = 0.0):
    def reply(messages: list) -> Reply:
        assistant_turns = sum(1 for m in messages if m["role"] == "assistant")
        if assistant_turns == 0:
            return Reply(text=SEARCH, first_delay=delay)
        numbers = re.findall(r"\d{7}", messages[-1]["content"])
        return Reply(text=f"FINAL({', '.join(numbers)})", first_delay=delay)
    return reply


def wrong(delay: float = 0.0):
    return lambda messages: Reply(text="FINAL(1234567)", first_delay=delay)
