"""How a benchmark row reads, for the live table and for the headless report alike."""

from __future__ import annotations

from typing import Optional

from rlm_engine.bench import ModelRow

COLUMNS = ("model", "provider", "accuracy", "trials", "mean s", "median s", "iters",
           "tokens in", "tokens out", "errors", "status")
# columns where a best value is highlighted: (index, higher is better)
RANKED = {2: True, 4: False, 5: False, 6: False}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _num(value: Optional[float], fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def status_text(row: ModelRow, tick: int = 0, reason: bool = True) -> str:
    if row.status == "running":
        return f"{SPINNER[tick % len(SPINNER)]} running"
    if row.status == "failed" and reason:
        return f"failed: {row.reason}"
    return row.status


def cells(row: ModelRow, tick: int = 0, reason: bool = True) -> list[str]:
    acc = row.accuracy
    return [
        row.model.label, row.model.provider, "—" if acc is None else f"{acc:.0%}",
        f"{row.done}/{len(row.trials)}", _num(row.mean_time, ".1f"),
        _num(row.median_time, ".1f"), _num(row.mean_iterations, ".1f"),
        f"{row.tokens_in:,}", f"{row.tokens_out:,}", str(row.errors),
        status_text(row, tick, reason),
    ]


def ranking_values(row: ModelRow) -> dict[int, Optional[float]]:
    return {2: row.accuracy, 4: row.mean_time, 5: row.median_time, 6: row.mean_iterations}


def best_rows(rows: list[ModelRow]) -> dict[int, set[int]]:
    """For each ranked column, the indexes of the rows holding its best value."""
    out: dict[int, set[int]] = {}
    for col, higher in RANKED.items():
        values = [(ranking_values(r)[col], i) for i, r in enumerate(rows)]
        values = [(v, i) for v, i in values if v is not None]
        if not values:
            continue
        best = max(v for v, _ in values) if higher else min(v for v, _ in values)
        out[col] = {i for v, i in values if v == best}
    return out


def cell_style(col: int, row: ModelRow, best: bool) -> str:
    """A failed row's status in red; a finished row's best values in bold green."""
    if col == len(COLUMNS) - 1 and row.status == "failed":
        return "red"
    return "bold green" if best and row.done else ""


def bench_table(rows: list[ModelRow]):
    """The results as a Rich table (the headless report), best values in bold green."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="rlm-tui benchmark", header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("model", "provider", "status")
                         else "right")
    best = best_rows(rows)
    for i, row in enumerate(rows):
        table.add_row(*(Text(v, style=cell_style(c, row, i in best.get(c, ())))
                        for c, v in enumerate(cells(row, reason=False))))
    return table
