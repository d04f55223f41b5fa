"""The usage pane: tokens, calls and speed per model, the iteration, the elapsed time, and the
session's running total."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from rlm_engine.usage import ModelUsage


def usage_table(by_model: dict[str, ModelUsage], roles: dict[str, str], iteration: str,
                elapsed: float, session_tokens: int, width: int = 80) -> Table:
    """`iteration` reads 'iteration 3 of 15' (see rlm_tui.figures.iteration_label).
    Numbers never squeeze (no_wrap, headers whole); the model name takes what is left and
    is cut with an ellipsis. Under 44 columns the calls column goes: it is the least read."""
    t = Table(box=None, expand=True, pad_edge=False, show_edge=False)
    t.add_column("model", overflow="ellipsis", no_wrap=True, ratio=1, min_width=8)
    numeric = [("tok in", lambda m: f"{m.prompt_tokens:,}"),
               ("tok out", lambda m: f"{m.completion_tokens:,}"),
               ("calls", lambda m: str(m.calls)),
               ("tok/s", lambda m: f"{m.tokens_per_second:.0f}")]
    if width < 44:
        numeric = [c for c in numeric if c[0] != "calls"]
    for header, _ in numeric:
        t.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for name, m in by_model.items():
        role = roles.get(name, "")
        t.add_row(Text(f"{name} ({role})" if role else name), *(f(m) for _, f in numeric))
    if not by_model:
        t.add_row(Text("no calls yet", style="dim"), *([""] * len(numeric)))
    if width >= 60:
        t.caption = f"{iteration} · {elapsed:.1f} s · session total {session_tokens:,} tokens"
    else:  # one line in a narrow pane
        short = iteration.replace("iteration", "iter", 1)
        t.caption = f"{short} · {elapsed:.1f} s · session {session_tokens:,} tok"
    return t


class UsagePanel(Static):
    table: Table | None = None

    def show(self, by_model: dict[str, ModelUsage], roles: dict[str, str], iteration: str,
             elapsed: float, session_tokens: int) -> None:
        self._args = (by_model, roles, iteration, elapsed, session_tokens)
        self.table = usage_table(*self._args, width=self.content_size.width or 80)
        self.update(self.table)

    def on_resize(self) -> None:
        if getattr(self, "_args", None) is not None:
            self.table = usage_table(*self._args, width=self.content_size.width or 80)
            self.update(self.table)
