"""Shared fixtures: the loopback fake LLM server, and each protocol's way of pointing the real
client packages at it (through the environment variables users set)."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_llm_server import FakeLLMServer  # noqa: E402

TEST_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Trajectories, settings and config.toml are a per-test directory's, never the user's."""
    monkeypatch.setenv("RLM_TUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RLM_TUI_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("OLLAMA_HOST", "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    server = FakeLLMServer(api_key=TEST_KEY).start()
    yield server
    server.stop()


@dataclass
class Backend:
    """One protocol family, wired to the fake server through its usual env variables."""

    protocol: str
    fake: FakeLLMServer

    def spec(self, model: str) -> str:
        return model if self.protocol == "ollama" else f"{self.protocol}:{model}"


def point_env_at(monkeypatch, protocol: str, url: str) -> None:
    if protocol == "ollama":
        monkeypatch.setenv("OLLAMA_HOST", url)
    elif protocol == "openai":
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    elif protocol == "anthropic":
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)


@pytest.fixture(params=["ollama", "openai", "anthropic"])
def backend(request, fake, monkeypatch) -> Backend:
    point_env_at(monkeypatch, request.param, fake.url)
    return Backend(request.param, fake)


@pytest.fixture
def ollama(fake, monkeypatch) -> Backend:
    point_env_at(monkeypatch, "ollama", fake.url)
    return Backend("ollama", fake)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
