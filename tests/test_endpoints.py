"""A sub-model spec listing several endpoints: llm_query_batched spreads its calls across
them, and the usage (library result and the app's usage pane) shows each endpoint. Two fake
servers on 127.0.0.1 stand in for two machines."""

from __future__ import annotations

import pytest

from app_helpers import make_app, run_to_end
from fake_llm_server import FakeLLMServer
from rlm_engine import RLM
from rlm_engine.errors import ConfigError
from rlm_engine.specs import split_endpoints
from rlm_tui.widgets.usage import UsagePanel

BATCH = ("```repl\nanswers = llm_query_batched([f'q{i}' for i in range(6)])\n"
         "print(answers)\nprint(llm_query('one more'))\n```\n")


def root_script(messages):
    if any(m["role"] == "assistant" for m in messages):
        return "FINAL(done)"
    return BATCH


@pytest.fixture
def two_servers():
    a, b = FakeLLMServer().start(), FakeLLMServer().start()
    for server, name in ((a, "A"), (b, "B")):
        server.script("sub", lambda messages, name=name: f"from {name}")
    a.script("root", root_script)
    yield a, b
    a.stop()
    b.stop()


async def test_batched_calls_spread_across_the_endpoints(two_servers):
    a, b = two_servers
    spec = f"{a.url}/sub,{b.url}/sub"
    rlm = RLM(model=f"{a.url}/root", recursive_model=spec, save_trajectory=False)
    try:
        result = await rlm.acompletion("q", "some context")
    finally:
        await rlm.aclose()
    assert result.ok, result.error
    assert len(a.requests_for("sub")) + len(b.requests_for("sub")) == 7
    # six batched calls, three each; the single call after them goes to the next in turn
    assert sorted((len(a.requests_for("sub")), len(b.requests_for("sub")))) == [3, 4]
    by_model = result.usage["by_model"]
    assert by_model[f"{a.url}/sub"]["calls"] + by_model[f"{b.url}/sub"]["calls"] == 7
    assert min(by_model[f"{a.url}/sub"]["calls"], by_model[f"{b.url}/sub"]["calls"]) == 3


async def test_the_usage_pane_shows_each_endpoint(two_servers):
    a, b = two_servers
    app = make_app(model=f"{a.url}/root", recursive=f"{a.url}/sub,{b.url}/sub")
    async with app.run_test(size=(160, 48)) as pilot:
        await run_to_end(pilot, "spread it")
        panel = app.screen.query_one(UsagePanel)
        rows = [str(cell) for cell in panel.table.columns[0].cells]
        assert any(a.url in r and "sub" in r for r in rows), rows
        assert any(b.url in r and "sub" in r for r in rows), rows


def test_a_bad_endpoint_list_is_one_clear_error():
    assert split_endpoints("http://a:1/m, http://b:2/m") == ["http://a:1/m", "http://b:2/m"]
    with pytest.raises(ConfigError, match="empty endpoint"):
        split_endpoints("http://a:1/m,,http://b:2/m")
    with pytest.raises(ConfigError, match="no model"):
        split_endpoints("http://a:1/m,http://b:2")


async def test_a_benchmark_model_may_list_several_endpoints(two_servers):
    from bench_models import right
    from rlm_engine.bench import BenchRunner, select_models
    a, b = two_servers
    for server in (a, b):
        server.script("m", right())
    models = select_models(no_local=True, no_cloud_auto=True, ollama=[f"{a.url}/m,{b.url}/m"])
    assert len(models) == 1 and models[0].provider == "ollama"
    runner = BenchRunner(models, lines=100, trials=2, seed=1, modes=("rlm", "direct"))
    results = await runner.run(save=False)
    assert [r.accuracy for r in results.rows] == [1.0, 1.0]
    assert a.requests_for("m") and b.requests_for("m")
