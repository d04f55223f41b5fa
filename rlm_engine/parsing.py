"""Reading a root model's reply: its code blocks, its FINAL, and where it started inventing.

Decisions (documented in the README too):
- Code runs from ```` ```repl ```` blocks. When a reply has none, ```` ```python ```` / ```` ```py ````
  blocks run instead (small models often write those); other languages never run.
- ``FINAL(answer)`` / ``FINAL_VAR(name)`` count only outside code blocks and at the start of a
  line (after optional markdown emphasis). The answer runs to the matching parenthesis, so it
  may span lines and contain parentheses; when the model never closes it, to the last ``)``;
  when text follows the matching ``)`` on its line (``FINAL(1) a, 2) b)``), to the last ``)``
  of the paragraph.
- Invented output: after a code block closes, text that starts another fence that is not code
  (```` ```output ````, ```` ```text ````, a bare ```` ``` ````) or a line like ``Output:`` is the model
  imagining what its code printed. The reply is cut there, before anything after it counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

CODE_LANGS = ("repl",)
FALLBACK_LANGS = ("python", "py", "python3")
_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*$", re.MULTILINE)
_INVENTED = re.compile(
    r"^[ \t]*(?:\*\*)?(?:repl\s+)?(?:output|result|results|stdout|execution (?:output|result)|"
    r"repl (?:output|result))(?:\*\*)?\s*:", re.IGNORECASE | re.MULTILINE)
_FINAL = re.compile(r"^[ \t>*_]*(FINAL_VAR|FINAL)\(", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    start: int  # offset of the opening fence
    end: int  # offset just past the closing fence (len(text) if never closed)
    closed: bool


@dataclass(frozen=True)
class Final:
    kind: str  # FINAL | FINAL_VAR
    value: str  # the answer text, or the variable name


def find_blocks(text: str) -> list[Block]:
    """Every fenced block, in order (unclosed last block included)."""
    blocks: list[Block] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if not m:
            return blocks
        lang = m.group(1).lower()
        body_start = m.end() + 1
        close = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE).search(text, body_start) \
            if body_start <= len(text) else None
        if close is None:
            blocks.append(Block(lang, text[body_start:], m.start(), len(text), False))
            return blocks
        blocks.append(Block(lang, text[body_start:close.start()], m.start(), close.end(), True))
        pos = close.end()


def code_blocks(text: str) -> list[Block]:
    """The blocks to run: repl ones, or python ones when there is no repl block."""
    blocks = [b for b in find_blocks(text) if b.closed and b.code.strip()]
    chosen = [b for b in blocks if b.lang in CODE_LANGS]
    return chosen or [b for b in blocks if b.lang in FALLBACK_LANGS]


def invention_point(text: str) -> Optional[int]:
    """Where, after a closed code block, the model started inventing its output; None if not."""
    blocks = find_blocks(text)
    runnable = {b.start for b in code_blocks(text)}
    seen_code = False
    prev_end = 0
    for b in blocks:
        if seen_code:
            gap = text[prev_end:b.start]
            m = _INVENTED.search(gap)
            if m:
                return prev_end + m.start()
            if b.lang not in CODE_LANGS + FALLBACK_LANGS:
                return b.start
        if b.start in runnable:
            seen_code = True
        prev_end = b.end
    if seen_code:
        m = _INVENTED.search(text, prev_end)
        if m:
            return m.start()
    return None


def cut_invented(text: str) -> tuple[str, bool]:
    at = invention_point(text)
    if at is None:
        return text, False
    return text[:at].rstrip() + "\n", True


def _outside_code(text: str) -> str:
    """The text with fenced blocks blanked out (same length, so offsets hold)."""
    chars = list(text)
    for b in find_blocks(text):
        for i in range(b.start, b.end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def find_final(text: str) -> Optional[Final]:
    """The first FINAL(...) or FINAL_VAR(...) outside code blocks."""
    prose = _outside_code(text)
    m = _FINAL.search(prose)
    if not m:
        return None
    kind = m.group(1)
    open_at = m.end()  # just past "("
    depth = 1
    i = open_at
    in_str: Optional[str] = None
    while i < len(text):
        c = text[i]
        if kind == "FINAL_VAR" and in_str:
            if c == in_str:
                in_str = None
        elif kind == "FINAL_VAR" and c in "'\"":
            in_str = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    if depth != 0:
        last = text.rfind(")")
        i = last if last >= open_at else len(text)
    elif kind == "FINAL":
        # "FINAL(Steps: 1) open, 2) pour)" or 'FINAL(she said "hi :)")': text after the
        # balancing ")" on its line means that ")" was part of the answer; the answer then
        # runs to the last ")" of the paragraph
        line_end = text.find("\n", i)
        line_end = len(text) if line_end < 0 else line_end
        if text[i + 1:line_end].strip():
            para_end = text.find("\n\n", i)
            para_end = len(text) if para_end < 0 else para_end
            last = text.rfind(")", i + 1, para_end)
            if last > i:
                i = last
    value = text[open_at:i].strip()
    if kind == "FINAL_VAR":
        value = value.strip().strip("'\"` ").strip()
    return Final(kind, value)


def drop_final(text: str) -> str:
    """The reply without the line of its FINAL / FINAL_VAR (what is left when that answer
    cannot be given, e.g. FINAL_VAR of a missing variable)."""
    m = _FINAL.search(_outside_code(text))
    if not m:
        return text
    end = text.find("\n", m.start())
    return text[:m.start()] + ("" if end < 0 else text[end + 1:])


def prose_of(text: str) -> str:
    """The reply without its code blocks (the best partial answer when a run stops early)."""
    out = text
    for b in reversed(find_blocks(text)):
        out = out[:b.start] + out[b.end:]
    return re.sub(r"\n{3,}", "\n\n", out).strip()


class InventionWatch:
    """Fed a reply as it streams; says when the model starts inventing its code's output.

    Cheap per chunk: it only counts fence lines, and runs the full check on a line that opens
    a fence after a closed block or looks like ``Output:``.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.line = ""
        self.fences = 0

    def feed(self, chunk: str) -> bool:
        self.parts.append(chunk)
        self.line += chunk
        if "\n" not in self.line:
            return False
        *done, self.line = self.line.split("\n")
        suspect = False
        for ln in done:
            if ln.lstrip().startswith("```"):
                self.fences += 1
                suspect = suspect or self.fences >= 3
            elif self.fences >= 2 and _INVENTED.match(ln):
                suspect = True
        return suspect and invention_point("".join(self.parts)) is not None
