"""SVG snapshots of the benchmark screen at 100×30 and 160×48 (regenerate with
`pytest --snapshot-update tests/test_bench_snapshots.py` and look at them in
tests/__snapshots__/). The results are built here, not run, so nothing that varies (clocks,
seeds, durations, paths) reaches the picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from app_helpers import until
from rlm_engine.bench import BenchModel, BenchResults, ModelRow, TrialResult
from rlm_tui.app import RLMApp
from rlm_tui.screens.bench import BenchScreen
from rlm_tui.session import Session, Settings

LENGTHS = (1000, 10000, 100000)


def _row(model: BenchModel, mode: str, right_at: dict, extra: dict = {}) -> ModelRow:  # noqa: B006
    trials = []
    for n in LENGTHS:
        for i in range(3):
            correct = i < right_at.get(n, 0)
            trials.append(TrialResult(
                trial=i + 1, mode=mode, lines=n, status="completed", correct=correct,
                answer="4821907" if correct else "1234567", expected="4821907",
                seconds=round(2.0 + n / 20000 + i * 0.3, 1), iterations=1 if mode == "direct"
                else 3, prompt_tokens=n // 3 if mode == "direct" else 2400,
                completion_tokens=40, **extra.get(n, {})))
    return ModelRow(model, mode, trials, status="done")


def finished_results() -> BenchResults:
    local = BenchModel("qwen3:1.7b", "qwen3:1.7b", "ollama")
    cloud = BenchModel("openai:gpt-4o-mini", "openai:gpt-4o-mini", "openai")
    gone = BenchModel("qwen3:4b", "qwen3:4b", "ollama")
    cut = {100000: {"cut": "cut to the first 32,512 of 100,000 lines (33%) to fit num_ctx "
                           "32,768", "shown": 0.3251}}
    rows = [
        _row(local, "rlm", {1000: 3, 10000: 3, 100000: 2}),
        _row(local, "direct", {1000: 3, 10000: 2, 100000: 0}, cut),
        _row(cloud, "rlm", {1000: 3, 10000: 3, 100000: 3}),
        _row(cloud, "direct", {1000: 3, 10000: 3, 100000: 1}, cut),
    ]
    for row in rows[2:]:
        for t in row.trials:
            t.cost = round((t.prompt_tokens * 0.15 + t.completion_tokens * 0.6) / 1e6, 6)
    failed = ModelRow(gone, "rlm", [TrialResult(trial=1, mode="rlm", lines=1000,
                                                status="skipped",
                                                error="model 'qwen3:4b' not found on Ollama")]
                      + [TrialResult(trial=i, mode="rlm", lines=n, status="skipped")
                         for n in LENGTHS for i in range(1, 4)][1:],
                      status="failed", reason="model 'qwen3:4b' not found on Ollama")
    rows.append(failed)
    return BenchResults("niah", list(LENGTHS), 3, 1234, 1, modes=("rlm", "direct"),
                        num_ctx=32768, rows=rows, elapsed=412.5,
                        path=Path("bench_20260101-120000_niah.json"))


@pytest.mark.parametrize("size", [(160, 48), (100, 30)])
def test_bench_screen_finished(snap_compare, size, monkeypatch):
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", "/nonexistent-config")
    screen = BenchScreen(results=finished_results())
    app = RLMApp(Session.create(Settings(model="qwen3:1.7b")), first_screen=screen)

    async def ready(pilot):
        await until(pilot, lambda: screen.columns and screen.query_one("#bench-chart").drawn)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


def test_bench_screen_before_the_start(snap_compare, monkeypatch):
    """As the palette opens it: the session's model, RLM vs direct, the setup boxes and the
    keys that change the models, lengths and modes before `s` starts."""
    from rlm_engine.bench import BenchRunner
    from rlm_engine.bench.models import model_for
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", "/nonexistent-config")
    runner = BenchRunner([model_for("qwen3:1.7b"), model_for("openai:gpt-4o-mini")],
                         lines=[1000, 10000], trials=3, seed=42, modes=("rlm", "direct"),
                         num_ctx=32768)
    screen = BenchScreen(runner, autostart=False)
    app = RLMApp(Session.create(Settings(model="qwen3:1.7b")), first_screen=screen)

    async def ready(pilot):
        await until(pilot, lambda: bool(screen.columns))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=ready)
