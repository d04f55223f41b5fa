"""Benchmark tasks, scoring, model selection and the runner (no UI)."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench_models import right, wrong
from rlm_engine.bench import BenchRunner, load_results, make_task, select_models
from rlm_engine.bench.models import DEFAULT_LOCAL


@pytest.mark.parametrize("kind", ["niah", "multi-niah", "aggregate", "pairs"])
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
    # one line per trial, each with its mode and length
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("model,spec,provider,trial,mode,lines,status,correct")
    assert len(lines) == 1 + 6 and lines[1].startswith("right,right,ollama,1,rlm,300,completed")


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


def test_pairs_count_matches_a_brute_force_over_every_pair():
    t = make_task("pairs", 400, 2, 1)
    records = [dict(part.strip().split("=") for part in line.split("|"))
               for line in t.context.splitlines()]
    n = len(records)
    brute = sum(1 for i in range(n) for j in range(i + 1, n)
                if records[i]["city"] == records[j]["city"]
                and int(records[i]["score"]) + int(records[j]["score"]) == 100)
    assert t.expected == str(brute) and brute > 0
    assert t.score(f"There are {brute:,} such pairs.") and not t.score(str(brute - 1))
    # quadratic: ten times the records, about a hundred times the pairs
    big = int(make_task("pairs", 4000, 2, 1).expected)
    assert 60 * brute < big < 160 * brute


def test_wilson_interval():
    from rlm_engine.bench import wilson
    assert wilson(0, 0) is None
    low, high = wilson(3, 3)
    assert high == 1.0 and round(low, 3) == 0.438
    low, high = wilson(5, 10)
    assert (round(low, 3), round(high, 3)) == (0.237, 0.763)
    low, high = wilson(0, 3)
    assert low == 0.0 and round(high, 3) == 0.562


async def test_direct_mode_sends_the_haystack_cut_to_num_ctx_and_says_so(ollama):
    from rlm_engine.bench.direct import CHARS_PER_TOKEN, RESERVED_TOKENS
    ollama.fake.script("right", right())
    num_ctx = 3000
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["right"]),
                         lines=[100, 2000], trials=2, seed=7, modes=("rlm", "direct"),
                         num_ctx=num_ctx)
    results = await runner.run()
    rlm_row, direct_row = results.rows
    assert (rlm_row.mode, direct_row.mode) == ("rlm", "direct")
    assert [(t.mode, t.lines, t.trial) for t in direct_row.trials] == [
        ("direct", 100, 1), ("direct", 100, 2), ("direct", 2000, 1), ("direct", 2000, 2)]
    # same seed, same haystacks: both modes were asked for the same needles
    assert [t.expected for t in rlm_row.trials] == [t.expected for t in direct_row.trials]
    direct_requests = [r["body"] for r in ollama.fake.requests_for("right")
                       if "<<<TEXT" in r["body"]["messages"][-1]["content"]]
    assert len(direct_requests) == 4
    for body, trial in zip(direct_requests, direct_row.trials):
        assert body["options"]["num_ctx"] == num_ctx
        prompt = body["messages"][-1]["content"]
        haystack = make_task("niah", trial.lines, 7, trial.trial).context.split("\n")
        shown = prompt.split("<<<TEXT\n")[1].split("\nTEXT>>>")[0].split("\n")
        assert shown == haystack[:len(shown)]  # the haystack itself, from its start
        assert len("\n".join(shown)) <= (num_ctx - RESERVED_TOKENS) * CHARS_PER_TOKEN
        if trial.lines == 100:
            assert len(shown) == 100 and trial.cut.startswith("whole haystack")
        else:
            assert len(shown) < 2000
            assert trial.cut == (f"cut to the first {len(shown):,} of 2,000 lines "
                                 f"({len(shown) / 2000:.0%}) to fit num_ctx 3,000")
            # right exactly when the needle survived the cut
            assert trial.correct == (trial.expected in prompt)
            assert trial.shown == round(len(shown) / 2000, 4)
        assert prompt.rstrip().endswith("Answer with the number only.")
    assert all(t.correct for t in direct_row.at(100)) and rlm_row.accuracy == 1.0
    saved = json.loads(results.path.read_text())
    assert saved["lengths"] == [100, 2000] and saved["modes"] == ["rlm", "direct"]
    assert {(t["mode"], t["lines"]) for m in saved["models"] for t in m["trials"]} == {
        ("rlm", 100), ("rlm", 2000), ("direct", 100), ("direct", 2000)}
    again = load_results(results.path)
    assert [r.accuracy for r in again.rows] == [r.accuracy for r in results.rows]
    assert again.rows[1].trials[3].cut == direct_row.trials[3].cut
    from rlm_tui.bench_view import cut_summary
    least = min(t.shown for t in direct_row.at(2000))
    assert cut_summary(again) == f"direct sees {least:.0%} of 2k"


async def test_trial_time_limit_holds_in_both_modes(ollama):
    from fake_llm_server import Reply
    # the reply would take 20 s: ending long before that is the limit at work, however busy
    # the machine (no tight timing here)
    ollama.fake.script("slow", lambda messages: Reply(text="FINAL(1)", first_delay=20.0))
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["slow"]),
                         lines=50, trials=1, seed=1, modes=("rlm", "direct"), max_timeout=0.5)
    results = await runner.run()
    for row in results.rows:
        trial = row.trials[0]
        assert trial.status == "failed" and trial.correct is False, row.mode
        assert "time limit of 0.5 s" in trial.error
        assert trial.seconds < 15
        assert row.status == "done" and row.errors == 1


async def test_run_limits_reach_the_trials(ollama):
    ollama.fake.script("right", right())
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, ollama=["right"]),
                         lines=50, trials=1, seed=1,
                         rlm_options={"block_timeout": 7.0, "max_depth": 2, "memory_mb": 900,
                                      "max_concurrent_subcalls": 3, "max_iterations": 4})
    results = await runner.run()
    trial = results.rows[0].trials[0]
    events = [json.loads(line) for line in open(trial.trajectory)]
    settings = next(e["settings"] for e in events if e.get("type") == "run_started")
    assert settings["block_timeout"] == 7.0 and settings["max_depth"] == 2
    assert settings["max_iterations"] == 4


async def test_cloud_trials_cost_dollars_from_the_price_table(fake, monkeypatch):
    from conftest import point_env_at
    from rlm_engine.bench import Price, load_prices
    point_env_at(monkeypatch, "openai", fake.url)
    fake.script("m", right())
    prices = {"openai:m": Price(input=1000.0, output=2000.0)}
    runner = BenchRunner(select_models(no_local=True, no_cloud_auto=True, cloud=["openai:m"]),
                         lines=50, trials=2, seed=1, modes=("rlm", "direct"), prices=prices)
    results = await runner.run()
    for row in results.rows:
        for t in row.trials:
            assert t.prompt_tokens > 0
            assert t.cost == pytest.approx((t.prompt_tokens * 1000 + t.completion_tokens * 2000)
                                           / 1e6)
        assert row.cost == pytest.approx(sum(t.cost for t in row.trials))
    from rlm_tui.bench_cli import cost_lines
    from rlm_tui.bench_view import cells
    total = sum(r.cost for r in results.rows)
    assert cost_lines(results) == [f"openai:m: ${total:.4f} in all (rlm "
                                   f"${results.rows[0].cost:.4f} · direct "
                                   f"${results.rows[1].cost:.4f})"]
    assert cells(results.rows[0])["cost / time"] == f"${results.rows[0].cost:.4f}"
    shipped, problem = load_prices()
    assert problem is None and shipped["openai:gpt-4o-mini"].input > 0


def test_price_override_from_the_config_file(tmp_path):
    from rlm_engine.bench import load_prices
    path = tmp_path / "prices.toml"
    path.write_text('[prices]\n"openai:gpt-4o-mini" = { input = 9.0, output = 9.5 }\n'
                    '"groq:mine" = { input = 0.1, output = 0.2 }\n')
    prices, problem = load_prices(path)
    assert problem is None
    assert prices["openai:gpt-4o-mini"].output == 9.5 and prices["groq:mine"].input == 0.1
    path.write_text("not toml [")
    prices, problem = load_prices(path)
    assert "was not read" in problem and prices["openai:gpt-4o-mini"].input == 0.15


def test_models_and_lengths_change_before_the_start_only():
    from rlm_engine.bench.models import model_for
    runner = BenchRunner([model_for("a")], lines=[1000], trials=2, modes=("rlm", "direct"))
    assert [r.key for r in runner.results.rows] == ["a · rlm", "a · direct"]
    assert runner.add_model(model_for("b")) and not runner.add_model(model_for("b"))
    runner.configure(lengths=[500, 100], modes=("direct",))
    assert [r.key for r in runner.results.rows] == ["a · direct", "b · direct"]
    assert [t.lines for t in runner.results.rows[0].trials] == [100, 100, 500, 500]
    assert runner.remove_model("a") and [r.key for r in runner.results.rows] == ["b · direct"]
    with pytest.raises(ValueError):
        runner.configure(modes=("bogus",))


def test_results_saved_before_modes_and_lengths_still_open(tmp_path):
    old = {"format": "rlm-tui-bench", "version": 1, "task": "niah", "lines": 500, "trials": 1,
           "seed": 4, "parallel": 1, "started_at": 1.0, "elapsed": 2.0, "stopped": False,
           "models": [{"model": "m", "spec": "m", "provider": "ollama", "status": "done",
                       "trials": [{"trial": 1, "status": "completed", "correct": True,
                                   "answer": "1", "expected": "1", "seconds": 1.5}]}]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    res = load_results(path)
    assert res.lengths == [500] and res.modes == ("rlm",)
    row = res.rows[0]
    assert (row.mode, row.trials[0].lines, row.accuracy) == ("rlm", 500, 1.0)


def test_every_chart_line_style_is_a_color_both_libraries_know():
    from plotext._dict import colors as plotext_colors
    from rich.color import Color
    from rlm_tui.bench_view import STYLES
    for plotext_color, rich_color, marker in STYLES:
        assert plotext_color in plotext_colors and len(marker) == 1
        Color.parse(rich_color)  # raises for a name Rich does not know
    assert len({m for _p, _r, m in STYLES}) == len(STYLES)


def test_the_verdict_says_from_what_length_rlm_helps():
    from rlm_engine.bench import BenchModel, BenchResults, ModelRow, TrialResult
    from rlm_tui.bench_view import verdicts

    def row(model, mode, right_at, n=20):
        return ModelRow(model, mode, [
            TrialResult(trial=i + 1, mode=mode, lines=length, status="completed",
                        correct=i < right_at[length] * n)
            for length in (1000, 10000, 100000) for i in range(n)])

    m, other = BenchModel("m", "m", "ollama"), BenchModel("o", "o", "ollama")
    res = BenchResults("niah", [1000, 10000, 100000], 20, 1, 1, modes=("rlm", "direct"), rows=[
        row(m, "rlm", {1000: 0.9, 10000: 0.9, 100000: 0.85}),
        row(m, "direct", {1000: 1.0, 10000: 0.3, 100000: 0.0}),
        row(other, "rlm", {1000: 0.5, 10000: 0.5, 100000: 0.5}),
        row(other, "direct", {1000: 0.6, 10000: 0.6, 100000: 0.6})])
    assert verdicts(res) == [
        "m: RLM beats direct from 10,000 lines on (90% vs 30% at 10,000 lines)",
        "o: RLM does not beat direct at the lengths measured"]
    few = BenchResults("niah", [1000, 10000, 100000], 3, 1, 1, modes=("rlm", "direct"), rows=[
        row(m, "rlm", {1000: 1, 10000: 1, 100000: 1}, n=3),
        row(m, "direct", {1000: 1, 10000: 2 / 3, 100000: 1 / 3}, n=3)])
    assert verdicts(res, short=True) == ["m: RLM wins from 10k (90% vs 30%)",
                                         "o: RLM never wins here"]
    assert verdicts(few) == ["m: RLM beats direct from 10,000 lines on (100% vs 67% at "
                             "10,000 lines; within noise at this many trials)"]
