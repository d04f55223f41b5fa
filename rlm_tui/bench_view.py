"""How a benchmark reads, for the live screen and for the headless report alike: a row per
(model, mode), the columns a narrow terminal drops first, and the accuracy-against-length
series that both the screen's chart and the report's text chart draw (with plotext)."""

from __future__ import annotations

from typing import Optional

from rlm_engine.bench import BenchResults, ModelRow, wilson

from .widgets.spinner import spinner

COLUMNS = ("model", "mode", "provider", "accuracy", "95% CI", "trials", "mean s", "median s",
           "iters", "tokens in", "tokens out", "cost / time", "errors", "status")
# most important first: a narrow screen keeps a prefix of this order (status always stays)
PRIORITY = ("model", "mode", "accuracy", "status", "trials", "errors", "95% CI", "cost / time",
            "mean s", "tokens out", "iters", "tokens in", "median s", "provider")
# columns where a best value is highlighted: (name, higher is better)
RANKED = {"accuracy": True, "mean s": False, "median s": False, "iters": False}
RIGHT = {"accuracy", "95% CI", "trials", "mean s", "median s", "iters", "tokens in",
         "tokens out", "cost / time", "errors"}


def _num(value: Optional[float], fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def status_text(row: ModelRow, tick: int = 0, reason: bool = True) -> str:
    if row.status == "running":
        return f"{spinner(tick)} running"
    if row.status == "failed" and reason:
        return f"failed: {row.reason}"
    return row.status


def row_stats(row: ModelRow) -> dict:
    """Everything a row shows, in one pass over its trials (the screen redraws every row at
    each tick, and a row may hold hundreds of trials)."""
    finished = [t for t in row.trials if t.status in ("completed", "failed")]
    n = len(finished)
    right = sum(1 for t in finished if t.correct)
    times = sorted(t.seconds for t in finished)
    costs = [t.cost for t in row.trials if t.cost is not None]
    middle = n // 2
    return {
        "done": n, "right": right, "accuracy": right / n if n else None,
        "interval": wilson(right, n),
        "mean": sum(times) / n if n else None,
        "median": (times[middle] if n % 2 else (times[middle - 1] + times[middle]) / 2)
        if n else None,
        "iters": sum(t.iterations for t in finished) / n if n else None,
        "tokens_in": sum(t.prompt_tokens for t in row.trials),
        "tokens_out": sum(t.completion_tokens for t in row.trials),
        "errors": sum(1 for t in row.trials if t.status == "failed" or t.error),
        "cost": sum(costs) if costs else None,
        "time": sum(t.seconds for t in row.trials),
    }


def cost_text(row: ModelRow, st: Optional[dict] = None) -> str:
    """Dollars for a cloud model with a known price; a local model's (or an unpriced one's)
    time spent on its trials instead."""
    st = st or row_stats(row)
    if st["cost"] is not None:
        return f"${st['cost']:.4f}"
    if row.model.provider == "ollama":
        return f"{st['time']:.1f} s" if st["done"] else "—"
    return "— (no price)" if st["done"] else "—"


def interval_text(ci: Optional[tuple[float, float]]) -> str:
    return "—" if ci is None else f"{ci[0]:.0%}–{ci[1]:.0%}"


def cells(row: ModelRow, tick: int = 0, reason: bool = True) -> dict[str, str]:
    st = row_stats(row)
    acc = st["accuracy"]
    return {
        "model": row.model.label, "mode": row.mode, "provider": row.model.provider,
        "accuracy": "—" if acc is None else f"{acc:.0%}", "95% CI": interval_text(st["interval"]),
        "trials": f"{st['done']}/{len(row.trials)}", "mean s": _num(st["mean"], ".1f"),
        "median s": _num(st["median"], ".1f"), "iters": _num(st["iters"], ".1f"),
        "tokens in": f"{st['tokens_in']:,}", "tokens out": f"{st['tokens_out']:,}",
        "cost / time": cost_text(row, st), "errors": str(st["errors"]),
        "status": status_text(row, tick, reason),
    }


def ranking_values(row: ModelRow) -> dict[str, Optional[float]]:
    st = row_stats(row)
    return {"accuracy": st["accuracy"], "mean s": st["mean"], "median s": st["median"],
            "iters": st["iters"]}


def best_rows(rows: list[ModelRow]) -> dict[str, set[int]]:
    """For each ranked column, the indexes of the rows holding its best value."""
    out: dict[str, set[int]] = {}
    ranked = [ranking_values(r) for r in rows]
    for col, higher in RANKED.items():
        values = [(ranked[i][col], i) for i in range(len(rows))]
        values = [(v, i) for v, i in values if v is not None]
        if not values:
            continue
        best = max(v for v, _ in values) if higher else min(v for v, _ in values)
        out[col] = {i for v, i in values if v == best}
    return out


def cell_style(col: str, row: ModelRow, best: bool) -> str:
    """A failed row's status and errors in red; a finished row's best values in bold green."""
    if col in ("status", "errors") and row.status == "failed":
        return "red"
    if col == "errors" and row.errors:
        return "yellow"
    return "bold green" if best and any(t.finished for t in row.trials) else ""


def fit_columns(rows: list[ModelRow], width: int, tick: int = 0,
                shown: Optional[list[dict[str, str]]] = None, pad: int = 2) -> list[str]:
    """The columns that fit in `width` cells, in table order: the least important are dropped
    first (PRIORITY), and the status column is always kept. A failed row's reason gets room
    first by dropping the four least important columns; past that, it is cut."""
    widths = {name: len(name) for name in COLUMNS}
    status = len("status")
    for values in shown if shown is not None else [cells(row, tick) for row in rows]:
        for name, value in values.items():
            if name == "status":
                status = max(status, len(value))
            else:
                widths[name] = max(widths[name], min(len(value), 40))
    keep: list[str] = []
    for status_cap, floor in ((48, len(PRIORITY) - 4), (24, 4)):
        widths["status"] = min(status, status_cap)
        keep = list(PRIORITY)
        while len(keep) > floor and sum(widths[n] + pad for n in keep) > width:
            keep.pop()
        if sum(widths[n] + pad for n in keep) <= width:
            break
    return [n for n in COLUMNS if n in keep]


def bench_table(rows: list[ModelRow], width: int = 200):
    """The results as a Rich table (the headless report), best values in bold green; the
    least important columns are left out when `width` is too narrow for all."""
    from rich.table import Table
    from rich.text import Text

    shown = [cells(row, reason=False) for row in rows]
    columns = fit_columns(rows, width - 1, shown=shown, pad=3)  # a cell: padding and a border
    table = Table(title="rlm-tui benchmark: one row per model and mode", header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in RIGHT else "left",
                         no_wrap=name != "status")
    best = best_rows(rows)
    for i, (row, values) in enumerate(zip(rows, shown)):
        table.add_row(*(Text(values[c], style=cell_style(c, row, i in best.get(c, ())))
                        for c in columns))
    return table


# -- the chart: accuracy against context length ------------------------------------------------
def short_length(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def series(results: BenchResults) -> list[tuple[str, list[int], list[float]]]:
    """One line per (model, mode): x is the length's position (the lengths are spread evenly,
    as on a log axis), y the accuracy in percent at that length; lengths with no finished
    trial yet are left out, so the lines grow as trials finish."""
    out = []
    for row in results.rows:
        xs, ys = [], []
        for i, n in enumerate(results.lengths):
            acc = row.accuracy_at(n)
            if acc is not None:
                xs.append(i)
                ys.append(round(acc * 100, 1))
        out.append((f"{row.model.label} · {row.mode}", xs, ys))
    return out


# one (plotext color, the same as a Rich color for the legend, marker) per line
STYLES = (("green", "green", "•"), ("red", "red", "x"), ("cyan", "cyan", "o"),
          ("magenta", "magenta", "+"), ("orange", "dark_orange", "*"), ("blue", "blue", "#"),
          ("green+", "bright_green", "@"), ("red+", "bright_red", "%"),
          ("cyan+", "bright_cyan", "&"), ("white", "white", "="))


def draw_chart(plt, results: BenchResults) -> None:
    """Draw onto a plotext figure (the module, or textual-plotext's `plt`). The legend is
    drawn apart (`legend`), so it never hides the lines at 100%."""
    plt.clear_data()
    n = len(results.lengths)
    plt.xticks(list(range(n)), [short_length(v) for v in results.lengths])
    plt.xlim(-0.3, max(0.3, n - 0.7))
    plt.ylim(-5, 105)
    plt.yticks([0, 25, 50, 75, 100])
    plt.xlabel("context length (lines)")
    for i, (_label, xs, ys) in enumerate(series(results)):
        if not xs:
            continue
        color, _rich, marker = STYLES[i % len(STYLES)]
        if len(xs) == 1:
            plt.scatter(xs, ys, marker=marker, color=color)
        else:
            plt.plot(xs, ys, marker=marker, color=color)


def legend(results: BenchResults):
    """The chart's legend as Rich text: marker, color and "model · mode" per line."""
    from rich.text import Text

    text = Text()
    for i, (label, xs, _ys) in enumerate(series(results)):
        if not xs:  # no finished trial yet (or a model that failed): no line to name
            continue
        _plotext, color, marker = STYLES[i % len(STYLES)]
        if text:
            text.append("   ")
        text.append(f"{marker} {label}", style=color)
    return text or Text("no finished trial yet", style="dim")


def text_chart(results: BenchResults, width: int = 100, height: int = 16) -> str:
    """The chart as plain text (with its legend), for the headless report."""
    import plotext as plt

    plt.clf()
    plt.theme("clear")
    plt.plotsize(width, height)
    plt.title("accuracy (%) against context length")
    draw_chart(plt, results)
    text = plt.uncolorize(plt.build())
    plt.clf()
    return text + "\n" + legend(results).plain


def accuracy_by_length(results: BenchResults):
    """A Rich table: rows (model, mode), one column per length, "67% (2/3)" cells."""
    from rich.table import Table

    table = Table(title="accuracy by context length", header_style="bold")
    table.add_column("model · mode")
    for n in results.lengths:
        table.add_column(f"{n:,} lines", justify="right")
    for row in results.rows:
        values = []
        for n in results.lengths:
            done = [t for t in row.at(n) if t.finished]
            right = sum(1 for t in done if t.correct)
            values.append(f"{right / len(done):.0%} ({right}/{len(done)})" if done else "—")
        table.add_row(f"{row.model.label} · {row.mode}", *values)
    return table


def verdicts(results: BenchResults, short: bool = False) -> list[str]:
    """The answer to "does RLM help my model, and from what length on?", one line per model
    run in both modes, from the lengths where both have finished trials. RLM "helps from L
    on" when it is more accurate at L and at least as accurate at every longer length; when
    the two 95% intervals overlap there, the line says the difference is within noise."""
    out = []
    for label in dict.fromkeys(row.model.label for row in results.rows):
        verdict = verdict_for(results, label, short)
        if verdict:
            out.append(f"{label}: {verdict}")
    return out


def verdict_for(results: BenchResults, label: str, short: bool = False) -> str:
    """The verdict for one model (without its name), or "" without data in both modes."""
    modes = {r.mode: r for r in results.rows if r.model.label == label}
    if set(modes) != {"rlm", "direct"}:
        return ""
    rlm, direct = modes["rlm"], modes["direct"]
    both = [n for n in results.lengths
            if rlm.accuracy_at(n) is not None and direct.accuracy_at(n) is not None]
    if not both:
        return ""
    start = None
    for i, n in enumerate(both):
        if all(rlm.accuracy_at(m) >= direct.accuracy_at(m) for m in both[i:]) and \
                rlm.accuracy_at(n) > direct.accuracy_at(n):
            start = n
            break
    if start is None:
        return "RLM never wins here" if short else \
            "RLM does not beat direct at the lengths measured"
    a, b = rlm.accuracy_at(start), direct.accuracy_at(start)
    ra = [t for t in rlm.at(start) if t.finished]
    da = [t for t in direct.at(start) if t.finished]
    ci_r = wilson(sum(1 for t in ra if t.correct), len(ra))
    ci_d = wilson(sum(1 for t in da if t.correct), len(da))
    noise = bool(ci_r and ci_d and ci_r[0] <= ci_d[1])
    if short:  # the screen's form, for the narrow space under the chart
        where = "everywhere" if start == both[0] else f"from {short_length(start)}"
        return f"RLM wins {where} ({a:.0%} vs {b:.0%}" + (", noise)" if noise else ")")
    where = "at every length measured" if start == both[0] else f"from {start:,} lines on"
    return (f"RLM beats direct {where} ({a:.0%} vs {b:.0%} at {start:,} lines"
            + ("; within noise at this many trials)" if noise else ")"))


def screen_legend(results: BenchResults):
    """The screen's compact legend: one line per model with its modes' markers, then its
    short verdict ("• rlm x direct qwen3:1.7b: RLM wins from 10k (100% vs 67%)")."""
    from rich.text import Text

    text = Text()
    lines = series(results)
    for label in dict.fromkeys(row.model.label for row in results.rows):
        marks = [(i, row.mode) for i, row in enumerate(results.rows)
                 if row.model.label == label and lines[i][1]]
        if not marks:
            continue
        if text:
            text.append("\n")
        for i, mode in marks:
            _plotext, color, marker = STYLES[i % len(STYLES)]
            text.append(f"{marker} {mode} ", style=color)
        text.append(label)
        verdict = verdict_for(results, label, short=True)
        if verdict:
            text.append(f": {verdict}", style="bold")
    return text or Text("no finished trial yet", style="dim")


def cut_summary(results: BenchResults) -> str:
    """What the direct mode was shown, where it was cut: "direct sees 33% of 30k, 3% of 300k"
    ("" when nothing was cut)."""
    shown: dict[int, float] = {}
    for row in results.rows:
        for t in row.trials:
            if t.mode == "direct" and t.shown is not None and t.shown < 1:
                shown[t.lines] = min(shown.get(t.lines, 1.0), t.shown)
    if not shown:
        return ""
    return "direct sees " + ", ".join(f"{shown[n]:.0%} of {short_length(n)}"
                                       for n in sorted(shown))
