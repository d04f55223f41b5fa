"""Property-based fuzzing of every reader of our files: real trajectories (the shipped
examples) and a real `rlms` log, damaged by Hypothesis (fields deleted or retyped, huge and
non-finite numbers, nested junk, garbage lines, lines dropped, duplicated or swapped, the file
cut anywhere). Export, replay state-building and the history scan must never raise, and
what they build stays bounded by the file itself: never more iterations than lines, never
more events or output than the bytes they came from.

Deterministic and fast: `derandomize=True` (the same examples every run, no example
database) and a modest example count. There is no per-example deadline, since a deadline
is a timing assertion that a loaded machine breaks; time is bounded by construction (the
files are small and every bound above is checked).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_engine import events as ev
from rlm_engine.events import EVENT_TYPES
from rlm_engine.export import to_json, to_markdown
from rlm_engine.history import list_history
from rlm_engine.replay import RecordedRun
from rlm_engine.schema import BadEvent, decode_event
from rlm_engine.state import RunState

ROOT = Path(__file__).parent.parent
SOURCES = sorted((ROOT / "rlm_tui" / "examples").glob("*.jsonl")) + \
    sorted((ROOT / "tests" / "data").glob("*.jsonl"))
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.just(""), st.just("abc"), st.just("soon"),
    st.sampled_from([-3, -1, 0, 1, 2, 10 ** 9, 2 ** 63, 10 ** 30, 10 ** 300]),
    st.sampled_from([-0.5, 1e308, -1e308, float("nan"), float("inf"), 1.5]),
    st.integers(), st.floats(), st.text(max_size=30),
    st.lists(st.integers(), max_size=3), st.just({}), st.just({"a": [1, {"b": None}]}),
    st.just([[[[[]]]]]), st.just("x" * 5000), st.just("lone \ud800 surrogate"),
)


def _paths(value, prefix=()):
    """Every (path to a dict key or list item) inside a parsed line."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _parent(line, path):
    for key in path[:-1]:
        line = line[key]
    return line


@st.composite
def damaged_file(draw, source: Path) -> bytes:
    lines: list = [json.loads(x) for x in source.read_text().splitlines()]
    for _ in range(draw(st.integers(1, 6))):
        what = draw(st.sampled_from(["retype", "retype", "retype", "delete", "garbage",
                                     "drop", "duplicate", "swap"]))
        n = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if what in ("retype", "delete") and lines:
            paths = list(_paths(lines[n]))
            if not paths:
                continue
            path = draw(st.sampled_from(paths))
            parent = _parent(lines[n], path)
            if what == "retype":
                parent[path[-1]] = copy.deepcopy(draw(HOSTILE))  # st.just shares
            elif isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif what == "garbage":
            lines.insert(n, draw(st.one_of(
                st.text(max_size=40), st.just("[" * 5000), st.just("{\"type\": "),
                st.just('{"type": "run_finished", "t": NaN}'), st.just("\x00\xff"))))
        elif what == "drop" and lines:
            lines.pop(n)
        elif what == "duplicate" and lines:
            lines.insert(draw(st.integers(0, len(lines))), json.loads(json.dumps(lines[n])))
        elif what == "swap" and len(lines) > 1:
            m = draw(st.integers(0, len(lines) - 1))
            lines[n], lines[m] = lines[m], lines[n]
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # cut anywhere, even mid-character
    return data


def check_bounded(path: Path) -> None:
    data = path.read_bytes()
    size, lines = len(data), data.count(b"\n") + 1
    run = RecordedRun.load(path)  # never raises for a file that can be read
    st_ = run.state
    assert len(st_.iterations) <= lines
    assert sum(len(it.blocks) for it in st_.iterations) <= size
    assert len(run.events) <= size
    assert all("\n" not in w for w in run.warnings)
    out = to_markdown(run) + to_json(run)
    assert len(out) <= 40 * size + 50_000
    out.encode("utf-8")  # writable to a file or a terminal whatever the file held


def fuzz(source: Path):
    @FUZZ
    @given(data=damaged_file(source))
    def run_one(tmp_path_factory, data: bytes) -> None:
        folder = tmp_path_factory.mktemp("fuzz")
        path = folder / "trajectories" / source.name
        path.parent.mkdir()
        path.write_bytes(data)
        check_bounded(path)
        for entry in list_history(folder):  # the history scan of the same file
            assert entry.path == path
            assert isinstance(entry.prompt, str) and isinstance(entry.outcome, str)
            assert entry.iterations is None or 0 <= entry.iterations
        shutil.rmtree(folder)

    return run_one


test_fuzz_example_log_errors = fuzz(SOURCES[0])
test_fuzz_example_fix_an_error = fuzz(SOURCES[1])
test_fuzz_rlms_log = fuzz(SOURCES[2])


def test_the_sources_are_what_the_fuzz_expects():
    names = [p.name for p in SOURCES]
    assert names[:2] == ["example-1-log-errors.jsonl", "example-2-fix-an-error.jsonl"]
    assert names[2].startswith("rlm_2026")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


def _bases() -> dict[str, dict]:
    """A real line of each event kind the shipped files hold (ours, and the rlms log's)."""
    out: dict[str, dict] = {e.kind: e.to_dict() for e in (
        ev.RunFailed(error="the backend went away", reason="backend", partial_answer="p"),
        ev.RunCancelled(partial_answer="p"))}
    for source in SOURCES:
        for e in RecordedRun.load(source).events:
            out.setdefault(e.kind, json.loads(e.to_json()))
    return out


BASES = _bases()
FIELDS = sorted({f for cls in EVENT_TYPES.values() for f in cls.__dataclass_fields__})


@FUZZ
@given(kind=st.sampled_from(sorted(BASES)),
       changes=st.dictionaries(st.sampled_from(FIELDS), JSON | HOSTILE, max_size=3),
       dropped=st.sets(st.sampled_from(FIELDS), max_size=2))
def test_decoding_any_object_is_an_event_or_one_bad_line(kind, changes, dropped):
    """A real line of each kind with fields changed or dropped: an event whose fields have
    their declared types, or BadEvent with one line; never another exception."""
    line = {k: v for k, v in {**BASES[kind], **changes}.items() if k not in dropped}
    try:
        event = decode_event({**line, "type": kind})
    except BadEvent as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= 200
        return
    state = RunState()
    state.apply(event)  # and the fold takes it (or refuses it) without raising
    assert len(state.iterations) <= 1
