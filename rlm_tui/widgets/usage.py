"""The usage pane: tokens, calls and speed per model, the iteration, the elapsed time, and the
session's running total."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from rlm_engine.usage import ModelUsage


def usage_table(by_model: dict[str, ModelUsage], roles: dict[str, str], iteration: str,
                elapsed: float, session_tokens: int) -> Table:
    """`iteration` reads 'iteration 3 of 15' (see rlm_tui.figures.iteration_label)."""
    t = Table(box=None, expand=True, pad_edge=False, show_edge=False)
    t.add_column("model", overflow="ellipsis", no_wrap=True, ratio=3)
    t.add_column("prompt", justify="right", ratio=1)
    t.add_column("compl.", justify="right", ratio=1)
    t.add_column("calls", justify="right", ratio=1)
    t.add_column("tok/s", justify="right", ratio=1)
    for name, m in by_model.items():
        role = roles.get(name, "")
        t.add_row(Text(f"{name} ({role})" if role else name), f"{m.prompt_tokens:,}",
                  f"{m.completion_tokens:,}", str(m.calls), f"{m.tokens_per_second:.0f}")
    if not by_model:
        t.add_row(Text("no calls yet", style="dim"), "", "", "", "")
    t.caption = f"{iteration} · {elapsed:.1f} s · session total {session_tokens:,} tokens"
    return t


class UsagePanel(Static):
    table: Table | None = None

    def show(self, by_model: dict[str, ModelUsage], roles: dict[str, str], iteration: str,
             elapsed: float, session_tokens: int) -> None:
        self.table = usage_table(by_model, roles, iteration, elapsed, session_tokens)
        self.update(self.table)
