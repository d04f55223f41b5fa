"""Benchmark tasks, scoring, model selection and the runner (no UI)."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench_models import right, wrong
from rlm_engine.bench import BenchRunner, load_results, make_task, select_models
from rlm_engine.bench.models import DEFAULT_LOCAL


@pytest.mark.parametrize("kind", ["niah", "multi-niah", "aggregate"])
def test_tasks_are_reproducible_and_differ_by_trial(kind):
    a, b, c = make_task(kind, 500, 42, 1), make_task(kind, 500, 42, 1), make_task(kind, 500, 42, 2)
    assert a == b and a.context != c.context
    assert len(a.context.splitlines()) == 500


def test_niah_hides_exactly_its_number():
    t = make_task("niah", 300, 1, 1)
    assert t.context.count(t.expected) == 1 and len(t.expected) == 7
    assert t.score(f"The number is {t.expected}.")
    assert not t.score(f"{t.expected} or 1234567")
    assert not t.score("I could not find it")


def test_multi_niah_needs_all_three():
    t = make_task("multi-niah", 300, 1, 1)
    numbers = t.expected.split(",")
    assert len(numbers) == 3 and all(t.context.count(n) == 1 for n in numbers)
    assert t.score(" and ".join(reversed(numbers)))
    assert not t.score(" ".join(numbers[:2]))


def test_aggregate_expected_sum_is_computed_from_the_records():
    t = make_task("aggregate", 400, 3, 1)
    city = t.prompt.split("city=")[1].split(" ")[0]
    status = t.prompt.split("status=")[1].split("?")[0]
    total = 0
    for line in t.context.splitlines():
        fields = dict(part.strip().split("=") for part in line.split("|"))
        if fields["city"] == city and fields["status"] == status:
            total += int(fields["amount"])
    assert t.expected == str(total)
    assert t.score(f"The total is {total:,}.") and not t.score(f"{total + 1}")


def test_model_selection(monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "TOGETHER_API_KEY", "GROQ_API_KEY",
                "FIREWORKS_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert [m.spec for m in select_models()] == list(DEFAULT_LOCAL)
    monkeypatch.setenv("GROQ_API_KEY", "g" * 20)
    specs = [m.spec for m in select_models(ollama=["qwen3:4b"], ollama_host="gpu:11434")]
    assert specs == ["http://gpu:11434/qwen3:0.6b", "http://gpu:11434/qwen3:1.7b",
                     "http://gpu:11434/qwen3:4b", "groq:llama-3.1-8b-instant"]
    specs = [m.spec for m in select_models(no_local=True, no_cloud_auto=True,
                                           ollama=["http://box:1/m"], cloud=["openai:gpt-4o"])]
    assert specs == ["http://box:1/m", "openai:gpt-4o"]


async def test_runner_scores_rows_and_saves_what_it_shows(ollama, tmp_path):
    ollama.fake.script("right", right())
    ollama.fake.script("wrong", wrong())
    models = select_models(no_local=True, no_cloud_auto=True,
                           ollama=["right", "wrong", "http://127.0.0.1:9/gone"])
    seen = []
    runner = BenchRunner(models, lines=300, trials=2, seed=5, parallel=2,
                         on_update=lambda r: seen.append([row.done for row in r.rows]))
    results = await runner.run()
    right_row, wrong_row, gone_row = results.rows
    assert (right_row.accuracy, wrong_row.accuracy, gone_row.accuracy) == (1.0, 0.0, None)
    assert gone_row.status == "failed" and "cannot reach Ollama" in gone_row.reason
    assert [t.status for t in gone_row.trials] == ["skipped", "skipped"]
    # it filled in as it went: every trial's end was reported on its own
    assert seen[0] == [0, 0, 0] and seen[-1] == [2, 2, 0]
    assert any(done[0] == 1 for done in seen)
    saved = json.loads(results.path.read_text())
    assert [m["accuracy"] for m in saved["models"]] == [1.0, 0.0, None]
    assert saved["models"][0]["trials"][0]["trajectory"].endswith(".jsonl")
    again = load_results(results.path)
    assert [r.accuracy for r in again.rows] == [1.0, 0.0, None]
    csv_path = results.save(tmp_path / "r.csv")
    assert csv_path.read_text().splitlines()[1].startswith("right,right,ollama,done")


async def test_trial_runs_are_kept_with_the_benchmark_not_in_the_history(ollama):
    from rlm_engine.history import list_history
    ollama.fake.script("right", right())
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["right"]),
                         lines=100, trials=2, seed=1)
    results = await runner.run()
    trial_files = [t.trajectory for t in results.rows[0].trials]
    assert all("/benchmarks/trials/" in f for f in trial_files)
    assert [e.kind for e in list_history()] == ["bench"]


def test_scoring_reads_answers_as_people_write_them():
    t = make_task("aggregate", 400, 3, 1)
    n = int(t.expected)
    assert t.score(f"{n} (from 37 records)")
    assert t.score(f"Sum = {n}, computed over 10,000 lines")
    assert t.score(f"The total over 10,000 lines is {n:,}.")
    assert not t.score(f"maybe 3000 or {n}")
    assert not t.score(f"{n + 1}")
    needle = make_task("niah", 300, 1, 1)
    assert needle.score(f"It is {int(needle.expected):,}.")
    assert not needle.score("1234,5678")


async def test_a_stopped_benchmark_keeps_and_saves_what_finished(ollama):
    from bench_models import wrong as wrong_model
    ollama.fake.script("wrong", wrong_model(delay=0.3))
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["wrong"]),
                         lines=100, trials=4, seed=1)
    task = asyncio.create_task(runner.run())
    while runner.results.rows[0].done < 1:
        await asyncio.sleep(0.02)
    task.cancel()  # as when the app closes mid-run
    with pytest.raises(asyncio.CancelledError):
        await task
    # the trial that was running ended with the runner: no run (nor its worker) outlives it
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("rlm-run-")]
    row = runner.results.rows[0]
    assert row.status == "stopped" and row.done >= 1
    assert "running" not in [t.status for t in row.trials]
    assert all(t.correct is None for t in row.trials if t.status in ("cancelled", "skipped"))
    saved = json.loads(runner.results.path.read_text())
    assert saved["stopped"] is True and saved["models"][0]["done"] == row.done
    with pytest.raises(RuntimeError):
        await runner.run()
