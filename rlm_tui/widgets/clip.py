"""Cutting text for display, so no reply, output or answer can stall the event loop.

A 50 MB one-line reply (a backend that ignores max_tokens) would take Textual minutes to lay
out and wrap. The screens show at most `REPLY_CHARS` of one reply and `LINE_CHARS` of one
line, with a marker where they cut; the full text stays in the run's state, the trajectory
and what the copy key copies. `StreamClip` does the same for text that arrives in chunks.
"""

from __future__ import annotations

REPLY_CHARS = 400_000  # of one reply, answer or thinking, shown
LINE_CHARS = 4_000  # of one line, shown


def line_marker(cut: int) -> str:
    return f" … [{cut:,} more character{'' if cut == 1 else 's'} on this line]"


def clip(text: str, max_chars: int = REPLY_CHARS, line_chars: int = LINE_CHARS) -> str:
    """`text` cut to `max_chars` in all and `line_chars` per line, with markers."""
    if len(text) <= min(line_chars, max_chars):
        return text
    c = StreamClip(max_chars, line_chars)
    out = c.feed(text)
    return out + c.end_note(len(text))


class StreamClip:
    """Feeds chunks of a stream, returns the part of each to display."""

    def __init__(self, max_chars: int = REPLY_CHARS, line_chars: int = LINE_CHARS) -> None:
        self.max_chars = max_chars
        self.line_chars = line_chars
        self.shown = 0  # characters let through
        self.line = 0  # characters of the current line seen
        self.dropped_on_line = 0
        self.full = False

    def feed(self, chunk: str) -> str:
        if self.full:
            return ""
        out: list[str] = []
        start = 0
        n = len(chunk)
        while start < n:
            nl = chunk.find("\n", start)
            end = n if nl < 0 else nl
            piece = chunk[start:end]
            room = self.line_chars - self.line
            if room > 0:
                out.append(piece[:room])
            self.line += len(piece)
            self.dropped_on_line += max(0, len(piece) - max(room, 0))
            if nl < 0:
                break
            if self.dropped_on_line:
                out.append(line_marker(self.dropped_on_line))
            out.append("\n")
            self.line = self.dropped_on_line = 0
            start = nl + 1
        text = "".join(out)
        room = self.max_chars - self.shown
        if len(text) >= room:
            text = text[:room]
            self.full = True
        self.shown += len(text)
        return text

    def end_note(self, total: int) -> str:
        """What to append once the stream is complete (`total`: its full length)."""
        notes = ""
        if self.dropped_on_line and not self.full:
            notes += line_marker(self.dropped_on_line)
        if self.full:
            notes += (f"\n\n… [shown: the first {self.shown:,} of {total:,} characters; all of "
                      f"it is in the trajectory, and the copy key copies it]")
        return notes
