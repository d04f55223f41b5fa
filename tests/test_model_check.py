"""Checking a model exists and listing a backend's models, through the real client packages
against the fake server's Models endpoints (Ollama /api/show and /api/tags, OpenAI and
Anthropic /v1/models)."""

from __future__ import annotations

import pytest

from conftest import free_port, point_env_at
from rlm_engine.clients import make_client
from rlm_engine.errors import BackendError


async def test_a_known_model_passes_and_an_unknown_one_is_named(backend):
    backend.fake.script("qwen3:4b", ["FINAL(1)"])
    backend.fake.script("small", ["FINAL(1)"])
    good = make_client(backend.spec("qwen3:4b"))
    bad = make_client(backend.spec("qwen3:14b"))
    try:
        assert await good.probe() is None
        problem = await bad.probe()
        assert problem is not None and "qwen3:14b" in problem and "not found" in problem
        if backend.protocol == "ollama":
            assert "ollama pull qwen3:14b" in problem
        else:
            assert "/model" in problem
        assert await good.list_models() == ["qwen3:4b", "small"]
        assert good.spec_prefix == ("" if backend.protocol == "ollama" else backend.protocol + ":")
    finally:
        await good.aclose()
        await bad.aclose()


async def test_the_models_request_reaches_the_right_endpoint(backend):
    backend.fake.script("m", ["x"])
    client = make_client(backend.spec("m"))
    try:
        await client.list_models()
    finally:
        await client.aclose()
    if backend.protocol != "ollama":
        logged = backend.fake.requests[-1]
        assert logged["protocol"] == backend.protocol and logged["path"].startswith("/v1/models")


@pytest.mark.parametrize("protocol", ["ollama", "openai", "anthropic"])
async def test_an_unreachable_backend_is_one_line(protocol, monkeypatch):
    point_env_at(monkeypatch, protocol, f"http://127.0.0.1:{free_port()}")
    client = make_client("m" if protocol == "ollama" else f"{protocol}:m")
    try:
        problem = await client.probe()
        assert problem is not None and "cannot reach" in problem and "\n" not in problem
        with pytest.raises(BackendError, match="cannot reach"):
            await client.list_models()
    finally:
        await client.aclose()


async def test_a_url_spec_lists_models_as_specs_for_that_address(fake):
    fake.script("qwen3:72b", ["x"])
    client = make_client(f"{fake.url}/qwen3:72b")
    try:
        assert client.spec_prefix == fake.url + "/"
        assert await client.list_models() == ["qwen3:72b"]
    finally:
        await client.aclose()
