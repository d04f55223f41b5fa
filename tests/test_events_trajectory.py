import dataclasses
import json

import pytest

from fake_llm_server import Reply
from helpers import collect, make_rlm
from rlm_engine import RunState, load_trajectory
from rlm_engine import events as ev
from rlm_engine.usage import ModelUsage, Usage, UsageSummary


def sample(cls):
    """An instance of an event class with every field set to something non-default."""
    values = {}
    for f in dataclasses.fields(cls):
        t = str(f.type)
        if f.name in ("t",):
            values[f.name] = 1.5
        elif "UsageSummary" in t:
            values[f.name] = UsageSummary(5, 6, 2, {"m": ModelUsage("m", 5, 6, 2, 1.25)})
        elif "ModelUsage" in t:
            values[f.name] = {"m": ModelUsage("m", 5, 6, 2, 1.25)}
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


def test_every_event_class_has_its_own_kind_and_no_kind_field():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    classes = list(subclasses(ev.Event))
    # a class that forgot its own `kind` would take its parent's name and hide it
    assert len({c.kind for c in classes}) == len(classes)
    assert set(ev.EVENT_TYPES.values()) == set(classes)
    assert "trajectory" not in ev.EVENT_TYPES  # the header line's type
    for cls in classes:
        assert "kind" not in {f.name for f in dataclasses.fields(cls)}


# lines as rlm-tui wrote them before usage and the closed sets were typed
OLD_LINES = [
    '{"type":"usage_updated","t":1.0,"run_id":"r","depth":0,"by_model":{"m":{"prompt_tokens":'
    '10,"completion_tokens":2,"calls":1,"seconds":0.5}},"total_tokens":12}',
    '{"type":"run_failed","t":2.0,"run_id":"r","depth":0,"error":"cannot reach Ollama",'
    '"reason":"backend","partial_answer":""}',
    '{"type":"run_finished","t":2.5,"run_id":"r","depth":0,"status":"failed","answer":"",'
    '"iterations":1,"total_time":2.5,"usage":{"total_prompt_tokens":10,'
    '"total_completion_tokens":2,"total_calls":1,"by_model":{"m":{"prompt_tokens":10,'
    '"completion_tokens":2,"calls":1,"seconds":0.5}}}}',
]


def test_lines_of_the_old_format_load_as_typed_values_and_are_written_back_the_same():
    updated, failed, finished = (ev.event_from_json(line) for line in OLD_LINES)
    assert updated.by_model == {"m": ModelUsage("m", 10, 2, 1, 0.5)}
    assert failed.reason == "backend" and failed.error_kind is None
    assert finished.usage.total_tokens == 12 and finished.usage.by_model["m"].calls == 1
    # written back, only the new optional field is added; every old key keeps its value
    for line, e in zip(OLD_LINES, (updated, failed, finished)):
        old, new = json.loads(line), e.to_dict()
        assert {k: new[k] for k in old} == old
        assert set(new) - set(old) <= {"error_kind"}


def test_usage_summary_reads_like_the_old_dict_and_tolerates_damage():
    s = UsageSummary.from_dict({"total_prompt_tokens": "x", "by_model": {"m": None}})
    assert s.total_prompt_tokens == 0 and s.by_model["m"] == ModelUsage("m")
    s = UsageSummary(3, 4, 1, {})
    assert s["total_prompt_tokens"] == 3 and s.total == Usage(3, 4)


def test_usage_through_a_step_follows_the_folds_rule():
    """The usage panel stepping back reads the same fold as the live totals: a reply counts
    once it finished, a sub-call once it ended (an iteration still streaming is no call)."""
    state = RunState()
    for e in [ev.RunStarted(prompt="p", model="root", recursive_model="sub", max_iterations=3),
              ev.IterationStarted(iteration=1),
              ev.ReplyFinished(iteration=1, text="r", model="root", usage=Usage(10, 2),
                               duration=1.0),
              ev.CodeBlockStarted(iteration=1, index=0, code="x"),
              ev.SubCallStarted(call_id="c1", iteration=1, index=0, model="sub",
                                prompt_preview="q", prompt_chars=1),
              ev.SubCallFinished(call_id="c1", model="sub", usage=Usage(3, 1), duration=0.5),
              ev.SubCallStarted(call_id="c2", iteration=1, index=0, model="sub",
                                prompt_preview="q", prompt_chars=1),
              ev.IterationStarted(iteration=2)]:
        state.apply(e)
    assert state.usage_through(None) == state.by_model
    assert state.usage_through(2) == state.usage_through(1) == state.by_model == {
        "root": ModelUsage("root", 10, 2, 1, 1.0), "sub": ModelUsage("sub", 3, 1, 1, 0.5)}
    assert state.usage_through(0) == {}
