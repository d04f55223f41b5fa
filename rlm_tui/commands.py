"""Slash commands typed in the input box. Parsing only; the screen carries them out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

COMMANDS: dict[str, str] = {
    "/context": "/context <file>: load a file or directory as `context` (no file: pick one)",
    "/model": "/model [spec]: switch the root model (no spec: pick from the backend's list)",
    "/recursive-model": "/recursive-model [spec]: switch the model llm_query() calls (no "
                        "spec: pick)",
    "/think": "/think on|off|auto: thinking mode",
    "/clear": "/clear: start a new session (new REPL, empty history)",
    "/help": "/help: keys and commands",
    "/quit": "/quit: leave rlm-tui",
}


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    arg: str
    error: Optional[str] = None


def parse_command(text: str) -> Optional[Command]:
    """None for a plain question; a Command (maybe with a one-line error) for '/...'."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, _, arg = text.partition(" ")
    head, arg = head.lower(), arg.strip()
    if head not in COMMANDS:
        near = [c for c in COMMANDS if c.startswith(head[:3])] or list(COMMANDS)
        return Command(head[1:], arg, f"unknown command {head}: try {', '.join(near)}")
    name = head[1:]
    if name == "think" and arg.lower() not in ("on", "off", "auto"):
        return Command(name, arg, "/think takes on, off or auto")
    return Command(name, arg)


THINK_VALUES = {"on": True, "off": False, "auto": None}
