import dataclasses
import json

import pytest

from fake_llm_server import Reply
from helpers import collect, make_rlm
from rlm_engine import RunState, load_trajectory
from rlm_engine import events as ev
from rlm_engine.usage import Usage


def sample(cls):
    """An instance of an event class with every field set to something non-default."""
    values = {}
    for f in dataclasses.fields(cls):
        t = str(f.type)
        if f.name in ("t",):
            values[f.name] = 1.5
        elif "Usage" in t:
            values[f.name] = Usage(3, 4)
        elif "ContextInfo" in t:
            values[f.name] = ev.ContextInfo("str", 10, 2, None, "abc", "f.txt", "text")
        elif "VarInfo" in t:
            values[f.name] = (ev.VarInfo("x", "int", None, 28, "1"),)
        elif t.startswith("int") or t == "int":
            values[f.name] = 7
        elif "float" in t:
            values[f.name] = 2.25
        elif "bool" in t:
            values[f.name] = True
        elif "dict" in t:
            values[f.name] = {"k": {"n": 1}}
        elif t.startswith("tuple"):
            values[f.name] = (f"{f.name}-value ✓",)
        else:
            values[f.name] = f"{f.name}-value ✓"
    return cls(**values)


@pytest.mark.parametrize("cls", sorted(set(ev.EVENT_TYPES.values()), key=lambda c: c.kind))
def test_every_event_round_trips_through_json(cls):
    e = sample(cls)
    line = e.to_json()
    assert "\n" not in line
    assert ev.event_from_json(line) == e


def test_unknown_event_type_is_refused():
    with pytest.raises(KeyError):
        ev.event_from_dict({"type": "from_the_future"})


async def test_trajectory_replays_to_the_same_state_and_holds_no_keys(backend, monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-abcdefghijklmnop")
    backend.fake.script("root", [
        Reply(text="```repl\nprint('secret', 'tok-abcdefghijklmnop')\nx = llm_query('hi')\n```\n"),
        Reply(text="FINAL(done)"),
    ])
    backend.fake.script("sub", ["sub answer"])
    result, events = await collect(make_rlm(backend, sub="sub"), "q", "ctx")
    assert result.status == "completed", result.error
    path = result.trajectory_path
    raw = open(path, encoding="utf-8").read()
    assert "sk-test-0123456789abcdef" not in raw
    assert "tok-abcdefghijklmnop" not in raw and "[redacted]" in raw
    loaded = load_trajectory(path)
    assert loaded.warnings == []
    assert len(loaded.events) == len(events)
    state = RunState()
    for e in loaded.events:
        state.apply(e)
    replayed = state.result()
    assert replayed.answer == result.answer == "done"
    assert replayed.usage == result.usage
    live = [i.response.replace("tok-abcdefghijklmnop", "[redacted]") for i in result.iteration_log]
    assert [i.response for i in replayed.iteration_log] == live
    assert replayed.iteration_log[0].blocks[0].sub_calls[0].answer == "sub answer"


def test_truncated_and_newer_files_open_with_warnings(tmp_path):
    start = ev.RunStarted(prompt="p", model="m", recursive_model="m", max_iterations=3)
    good = [json.dumps({"type": "trajectory", "version": 1}), start.to_json(),
            ev.IterationStarted(iteration=1).to_json()]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(good) + "\n" + ev.TokenDelta(iteration=1, text="abc").to_json()[:15])
    t = load_trajectory(cut)
    assert [e.kind for e in t.events] == ["run_started", "iteration_started"]
    assert any("incomplete or corrupt" in w for w in t.warnings)
    assert any("ends before the run finished" in w for w in t.warnings)
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"type": "trajectory", "version": 99}) + "\n" + start.to_json()
                     + "\n" + json.dumps({"type": "hologram", "t": 0}) + "\n")
    t = load_trajectory(newer)
    assert any("newer rlm-tui" in w for w in t.warnings)
    assert any("unknown kind" in w for w in t.warnings)


def test_event_type_names_are_not_shadowed_by_fields():
    for name, cls in ev.EVENT_TYPES.items():
        assert cls.kind == name
        assert "kind" not in {f.name for f in dataclasses.fields(cls)}
