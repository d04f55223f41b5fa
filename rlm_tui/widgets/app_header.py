"""The app's header line: what runs, on which model, with what context, as fields
("label value") that shorten to fit the width. A screen says what its fields are with
`header_fields()` -> [(label, value, style)]; the first field is the state (ready, running,
checking model, replay, ...). The sandbox state is one more field a screen may add.

One line, no clock: a clock would make every screenshot differ."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

Field = tuple[str, str, str]


def header_text(fields: list[Field], width: int) -> Text:
    """`rlm-tui │ state │ model M │ context C`, cut to `width`: long values shorten from
    the middle-right (an ellipsis), labels go first when room is short."""
    sep = " │ "
    head = Text("rlm-tui", style="bold")
    parts: list[Text] = []
    for label, value, style in fields:
        part = Text()
        if label:
            part.append(label + " ", style="dim")
        part.append(value, style=style)
        parts.append(part)

    def total(ps: list[Text]) -> int:
        return len(head) + sum(len(sep) + len(p) for p in ps) + 2

    if total(parts) > width:  # drop the labels first
        parts = [Text(value, style=style) for _, value, style in fields]
    while total(parts) > width and parts:
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        p = parts[longest]
        over = total(parts) - width
        keep = max(8, len(p) - over - 1)
        if keep >= len(p):
            parts.pop()  # nothing left to shorten
            continue
        parts[longest] = p[:keep] + Text("…")
    out = Text(" ")
    out.append_text(head)
    for p in parts:
        out.append(sep, style="dim")
        out.append_text(p)
    return out


class AppHeader(Static):
    DEFAULT_CSS = """
    AppHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    fields: list[Field] = []

    def show(self, fields: list[Field]) -> None:
        self.fields = list(fields)
        self.update(header_text(self.fields, self.size.width or 160))

    def on_resize(self) -> None:
        self.update(header_text(self.fields, self.size.width or 160))
