"""Damaged and hostile files, crafted one kind at a time: every reader (trajectory, rlms log,
history) skips what it cannot trust with a one-line warning, and nothing in a file can make
it use memory in proportion to a number the file names."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Optional, Sequence

import pytest

from rlm_engine import schema
from rlm_engine.export import to_json, to_markdown
from rlm_engine.history import list_history
from rlm_engine.replay import RecordedRun
from rlm_engine.trajectory import data_dir, load_trajectory

EXAMPLES = Path(__file__).parent.parent / "rlm_tui" / "examples"
EXAMPLE = EXAMPLES / "example-2-fix-an-error.jsonl"
RLM_TUI = str(Path(sys.executable).with_name("rlm-tui"))


def example_lines(path: Path = EXAMPLE) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                            for x in lines))
    return path


def damaged(tmp_path: Path, field: str, value, kinds=None, source: Path = EXAMPLE) -> Path:
    lines = example_lines(source)
    for d in lines:
        if field in d and (kinds is None or d["type"] in kinds):
            d[field] = value
    return write(tmp_path / f"damaged-{field}.jsonl", lines)


BRIEF = [  # the damage reported in issue 15, field by field
    ("iteration", "abc"), ("iteration", None), ("iteration", -3), ("iteration", 0),
    ("t", "soon"), ("text", 123), ("usage", "lots"), ("index", -1), ("depth", 1.5),
    ("duration", float("nan")), ("variables", [{"name": 1}]), ("context", []),
    ("iteration", True), ("usage", {"prompt_tokens": 10 ** 30}), ("status", None),
]


@pytest.mark.parametrize("field,value", BRIEF, ids=[f"{f}={v!r}" for f, v in BRIEF])
def test_a_wrong_typed_field_skips_its_lines_with_one_warning(tmp_path, field, value):
    path = damaged(tmp_path, field, value)
    run = RecordedRun.load(path)
    to_markdown(run), to_json(run)
    assert any("damaged event(s) were skipped" in w for w in run.warnings), run.warnings
    assert all("\n" not in w for w in run.warnings)
    assert len(run.events) < len(example_lines())


@pytest.mark.parametrize("field,kind", [("index", "code_block_started"),
                                        ("index", "code_output"),
                                        ("iteration", "iteration_started"),
                                        ("iteration", "feedback_sent"),
                                        ("index", "subcall_started")])
def test_a_huge_index_is_refused_by_the_fold_not_padded_to(tmp_path, field, kind):
    source = EXAMPLES / "example-1-log-errors.jsonl"  # it has sub-calls
    whole = RecordedRun.load(source).state
    run = RecordedRun.load(damaged(tmp_path, field, 1_000_000_000, {kind}, source))
    assert len(run.state.iterations) <= len(whole.iterations)
    assert sum(len(it.blocks) for it in run.state.iterations) <= \
        sum(len(it.blocks) for it in whole.iterations)
    assert any("out of sequence" in w for w in run.warnings)
    assert len(to_markdown(run)) < 100_000
    attached = [c for it in run.state.iterations for b in it.blocks for c in b.sub_calls]
    assert len(run.state.sub_calls) == len(attached)  # a refused call left nothing behind


def test_export_of_a_huge_index_stays_small_and_says_why(tmp_path):
    path = damaged(tmp_path, "index", 1_000_000_000, {"code_block_started"})
    p = subprocess.run([RLM_TUI, "export", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "Traceback" not in p.stderr
    assert "out of sequence" in p.stderr and len(p.stdout) < 100_000


def test_a_bad_header_version_is_not_fatal(tmp_path):
    for version in ("abc", None, 1e400, -1, [1]):
        lines = example_lines()
        lines[0]["version"] = version
        t = load_trajectory(write(tmp_path / "v.jsonl", lines))
        assert t.version == 1 and len(t.events) == len(lines) - 1


def test_lines_that_are_not_events_are_counted(tmp_path):
    lines = example_lines()
    lines[3:3] = ["[" * 100_000 + "]" * 100_000, "not json", "[1, 2]", '"text"',
                  {"type": ["run_started"]}, {"type": "from_the_future", "t": 1},
                  '{"type": "token_delta", "t": NaN, "iteration": 1, "text": "x"}']
    t = load_trajectory(write(tmp_path / "odd.jsonl", lines))
    assert len(t.events) == len(example_lines()) - 1
    assert any("4 line(s) were incomplete or corrupt" in w for w in t.warnings), t.warnings
    assert any("2 damaged event(s)" in w for w in t.warnings)
    assert any("1 event(s) of an unknown kind" in w for w in t.warnings)


def test_a_line_longer_than_the_limit_is_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_LINE_BYTES", 4096)
    lines = example_lines()
    big = dict(lines[5], text="x" * 100_000)
    lines.insert(5, big)
    t = load_trajectory(write(tmp_path / "long.jsonl", lines))
    assert len(t.events) == len(example_lines()) - 1 - sum(
        len(json.dumps(x)) > 4096 for x in example_lines())
    assert any("incomplete or corrupt" in w for w in t.warnings)


def test_the_check_follows_the_annotations():
    ok = {"type": "reply_finished", "iteration": 1, "text": "hi",
          "usage": {"prompt_tokens": 1, "completion_tokens": 2}, "extra": "ignored"}
    assert schema.decode_event(ok).usage.completion_tokens == 2
    for change, says in [({"iteration": "1"}, "'iteration' is the text '1', not an integer"),
                         ({"usage": {"prompt_tokens": -1}}, "'usage.prompt_tokens' is -1"),
                         ({"text": None}, "'text' is null, not text"),
                         ({"cut": 1}, "'cut' is the number 1, not true/false"),
                         ({"t": 2.0 ** 60}, "too large")]:
        with pytest.raises(schema.BadEvent) as info:
            schema.decode_event({**ok, **change})
        assert says in str(info.value)
    missing = dict(ok)
    del missing["text"]
    with pytest.raises(schema.BadEvent, match="'text' is missing"):
        schema.decode_event(missing)


def test_the_history_lists_damaged_runs_by_what_it_can_trust(tmp_path):
    folder = data_dir() / "trajectories"
    folder.mkdir(parents=True)
    lines = example_lines()
    start = next(d for d in lines if d["type"] == "run_started")
    write(folder / "ok.jsonl", lines)
    write(folder / "prompt-a-number.jsonl", [dict(start, prompt=123)])
    write(folder / "when-soon.jsonl", [dict(start, started_at="soon")])
    finished_bad = [d if d["type"] != "run_finished" else dict(d, usage="lots") for d in lines]
    write(folder / "usage-lots.jsonl", finished_bad)
    entries = {e.path.name: e for e in list_history()}
    assert sorted(entries) == ["ok.jsonl", "usage-lots.jsonl"]
    ok = entries["ok.jsonl"]
    assert ok.outcome == "The numbers add up to 5050." and ok.tokens
    assert entries["usage-lots.jsonl"].outcome.startswith("(did not finish")


def test_the_history_scan_skips_what_is_not_a_regular_file(tmp_path):
    import os

    folder = data_dir() / "trajectories"
    folder.mkdir(parents=True)
    write(folder / "ok.jsonl", example_lines())
    os.mkfifo(folder / "fifo.jsonl")  # opening it for reading would wait for a writer
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    (folder / "dir.jsonl").mkdir()
    assert [e.path.name for e in list_history()] == ["ok.jsonl"]
    p = subprocess.run([RLM_TUI, "export", str(folder / "fifo.jsonl")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "is not a regular file" in p.stderr


@dataclass(frozen=True)
class Counts:
    model: str  # not in the serialised form: from_dict takes it from the mapping's key
    calls: int

    @classmethod
    def from_dict(cls, model: str, data: dict) -> "Counts":
        return cls(model, int(data.get("calls", 0)))


@dataclass(frozen=True)
class Shape:
    kind: Literal["stdout", "stderr"]
    by_model: Mapping[str, Counts]
    sizes: Sequence[int] = ()
    note: Optional[str] = None


def test_the_check_reads_literal_mapping_and_union_annotations():
    """events.py may retype its fields (Literal kinds, frozen usage, mappings): the check
    reads whatever annotations it finds."""
    good = {"kind": "stdout", "by_model": {"m": {"calls": 1}}, "sizes": [1, 2]}
    assert schema._check_dataclass(Shape, good) is None
    assert schema._check_dataclass(Shape, {**good, "by_model": {"m": {}}}) is None
    for change, says in [({"kind": "stdin"}, "'kind' is 'stdin', not one of"),
                         ({"by_model": {"m": {"calls": "1"}}}, "'by_model.m.calls' is the text"),
                         ({"sizes": [1, None]}, "'sizes[1]' is null"),
                         ({"note": 3}, "'note' is the number 3, not text")]:
        assert says in schema._check_dataclass(Shape, {**good, **change})


def test_a_child_run_never_stands_in_for_a_damaged_root(tmp_path):
    """The root's run_started is damaged: the child run's (depth 1) must not become the
    run's, and the root's own events are still folded."""
    lines = example_lines()
    start = next(d for d in lines if d["type"] == "run_started")
    child = dict(start, run_id="child", depth=1, prompt="a child's question")
    start["max_iterations"] = "many"  # damaged: skipped
    lines.insert(lines.index(start) + 1, child)
    run = RecordedRun.load(write(tmp_path / "child-first.jsonl", lines))
    assert run.state.started is None and run.prompt == ""
    assert len(run.state.iterations) == 3 and run.state.answer == "The numbers add up to 5050."


def test_a_lone_surrogate_in_a_file_can_be_written_out_again(tmp_path):
    """JSON may escape a lone surrogate ("\\ud800"); export must still write the report."""
    lines = EXAMPLE.read_text().splitlines()
    path = tmp_path / "surrogate.jsonl"
    path.write_text("\n".join(line.replace("add up to?", "add up to? \\ud800")
                              for line in lines) + "\n")
    out = tmp_path / "report.md"
    for args in (["-o", str(out)], [], ["--format", "json"]):
        p = subprocess.run([RLM_TUI, "export", str(path), *args], capture_output=True,
                           timeout=60)
        assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr
    assert "add up to? \\ud800" in out.read_text()
    folder = data_dir() / "trajectories"
    folder.mkdir(parents=True)
    path.rename(folder / path.name)
    (entry,) = list_history()
    entry.prompt.encode("utf-8")  # the history's text is writable too
