"""Recorded files from elsewhere or in bad shape: the viewer, the exporter and the history
never crash on them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from rlm_engine.export import to_markdown
from rlm_engine.history import list_history
from rlm_engine.replay import RecordedRun
from rlm_engine.trajectory import data_dir

FIXTURE = Path(__file__).parent / "data" / "rlm_2026-01-31_11-05-04_1a2b3c4d.jsonl"


def lines():
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def mutations():
    """(name, function changing the parsed lines) pairs, each a kind of damage."""
    def it(n):
        return lambda ls: ls[1 + n]

    def setter(path, value):
        def apply(ls):
            target = ls
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return apply

    yield "non-dict line", lambda ls: ls.insert(2, [1, 2])
    yield "code_blocks a dict", setter([2, "code_blocks"], {"a": 1})
    yield "code_blocks of strings", setter([2, "code_blocks"], ["print(1)"])
    yield "result a string", setter([2, "code_blocks", 0, "result"], "oops")
    yield "locals a list", setter([2, "code_blocks", 0, "result", "locals"], [1, 2])
    yield "rlm_calls entry not a dict", setter([3, "code_blocks", 0, "result", "rlm_calls"], [3])
    yield "call error a dict", setter([3, "code_blocks", 0, "result", "rlm_calls", 0, "error"],
                                      {"why": "x"})
    yield "null token counts", setter([3, "code_blocks", 0, "result", "rlm_calls", 0,
                                       "usage_summary", "model_usage_summaries", "gpt-5-nano",
                                       "total_input_tokens"], None)
    yield "time as text", setter([2, "iteration_time"], "1.2s")
    yield "max_iterations as text", setter([0, "max_iterations"], "ten")
    yield "root_prompt a dict", setter([1, "root_prompt"], {"q": "x"})
    yield "child iterations a dict", setter([3, "code_blocks", 0, "result", "rlm_calls", 1,
                                             "metadata", "iterations"], {"a": 1})
    yield "run_metadata a string", setter([3, "code_blocks", 0, "result", "rlm_calls", 1,
                                           "metadata", "run_metadata"], "x")
    yield "prompt a dict", setter([2, "prompt"], {"role": "user"})
    yield "no metadata line", lambda ls: ls.pop(0)
    yield "only garbage", lambda ls: ls.clear() or ls.append({"type": "iteration"})


@pytest.mark.parametrize("name,damage", list(mutations()), ids=[n for n, _ in mutations()])
def test_damaged_rlms_logs_open_or_say_why(tmp_path, name, damage):
    ls = copy.deepcopy(lines())
    damage(ls)
    path = tmp_path / "rlm_x.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in ls) + "\n")
    try:
        run = RecordedRun.load(path)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    to_markdown(run)  # and it exports


def test_several_completions_in_one_log_are_said(tmp_path):
    ls = lines()
    extra = copy.deepcopy(ls[2])
    path = tmp_path / "rlm_two.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in ls + [extra]) + "\n")
    run = RecordedRun.load(path)
    assert any("after the first final answer" in w for w in run.warnings)
    assert len(run.state.iterations) == 3


def test_child_time_fits_inside_its_iteration():
    run = RecordedRun.load(FIXTURE)
    assert run.elapsed == pytest.approx(1.6 + 6.0 + 0.9)
    times = [e.t for e in run.events]
    assert times == sorted(times)


def test_history_skips_foreign_and_broken_files_and_reads_long_lines(tmp_path):
    root = data_dir()
    (root / "trajectories").mkdir(parents=True)
    (root / "benchmarks").mkdir(parents=True)
    (root / "trajectories" / "garbage.jsonl").write_text("[1, 2]\nnot json\n")
    (root / "benchmarks" / "bench_list.json").write_text("[1, 2]")
    (root / "benchmarks" / "bench_odd.json").write_text(json.dumps(
        {"format": "rlm-tui-bench", "models": [{"model": "m", "accuracy": "0.5"}],
         "lines": None, "started_at": 1}))
    from rlm_engine import events as ev
    start = ev.RunStarted(run_id="r1", prompt="p" * 100_000, model="m", recursive_model="m",
                          max_iterations=3, started_at=5.0)
    done = ev.RunFinished(run_id="r1", status="completed", answer="a" * 400_000, iterations=1,
                          total_time=1.0, usage=ev.UsageSummary(total_prompt_tokens=1,
                                                                total_completion_tokens=2))
    (root / "trajectories" / "long.jsonl").write_text(
        json.dumps({"type": "trajectory", "version": 1}) + "\n" + start.to_json() + "\n"
        + done.to_json() + "\n")
    entries = list_history()
    kinds = sorted((e.kind, e.path.name) for e in entries)
    assert kinds == [("bench", "bench_odd.json"), ("run", "long.jsonl")]
    run = next(e for e in entries if e.kind == "run")
    assert run.outcome == "a" * 400_000 and run.tokens == 3


def test_export_keeps_its_structure_whatever_the_model_wrote(tmp_path):
    from rlm_engine import events as ev
    events = [
        ev.RunStarted(run_id="r", prompt="q", model="m", recursive_model="m", max_iterations=2),
        ev.IterationStarted(run_id="r", iteration=1),
        ev.ReplyFinished(run_id="r", iteration=1, text="Look: ```python\nunclosed"),
        ev.CodeBlockStarted(run_id="r", iteration=1, index=0, code="print('```')"),
        ev.CodeOutput(run_id="r", iteration=1, index=0, stream="stdout", text="```\n"),
        ev.CodeBlockFinished(run_id="r", iteration=1, index=0, duration=0.1,
                             error="SyntaxError: bad `tick`"),
        ev.FinalAnswer(run_id="r", answer="```\nx", iteration=1, source="FINAL"),
        ev.RunFinished(run_id="r", status="completed", answer="```\nx", iterations=1,
                       total_time=1.0, usage={}),
    ]
    md = to_markdown(RecordedRun(events))
    headings, fence = [], None
    for line in md.splitlines():  # walk it as a Markdown reader would
        if fence is None and line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
        elif fence is not None and line == fence:
            fence = None
        elif fence is None and line.startswith("#"):
            headings.append(line)
    assert fence is None
    assert headings == ["# rlm-tui run: q", "## Question", "## Iteration 1",
                        "### Code block 1 (0.10 s)", "## Answer", "## Usage"]
    assert "**Error:** `` SyntaxError: bad `tick` ``" in md
