import pytest

from rlm_engine import ConfigError, make_client, parse_spec
from rlm_engine.clients import AnthropicClient, OllamaClient, OpenAICompatClient
from rlm_engine.specs import ollama_host


@pytest.mark.parametrize("spec,provider,model,host", [
    ("qwen3:4b", "ollama", "qwen3:4b", None),
    ("ollama:qwen3:4b", "ollama", "qwen3:4b", None),
    ("glm-5:cloud", "ollama", "glm-5:cloud", None),
    ("http://gpu-box:11434/qwen3:72b", "ollama", "qwen3:72b", "http://gpu-box:11434"),
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
    ("anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5", None),
    ("together:meta-llama/Llama-3-8b-chat-hf", "together", "meta-llama/Llama-3-8b-chat-hf", None),
    ("groq:llama-3.1-8b-instant", "groq", "llama-3.1-8b-instant", None),
    ("fireworks:x", "fireworks", "x", None), ("openrouter:mistral", "openrouter", "mistral", None),
])
def test_parse(spec, provider, model, host):
    ms = parse_spec(spec)
    assert (ms.provider.name, ms.model, ms.host) == (provider, model, host)


@pytest.mark.parametrize("bad", ["", "openai:", "http://host:11434"])
def test_bad_specs(bad):
    with pytest.raises(ConfigError):
        parse_spec(bad)


def test_label_hides_url_credentials():
    assert parse_spec("http://u:secret@h:1/m").label == "http://h:1/m"


def test_ollama_host_from_env(monkeypatch):
    assert ollama_host() == "http://localhost:11434"
    monkeypatch.setenv("OLLAMA_HOST", "10.1.1.1:9999")
    assert ollama_host() == "http://10.1.1.1:9999"
    assert ollama_host("http://x:1") == "http://x:1"


def test_clients_by_family_and_key_variables(monkeypatch):
    assert isinstance(make_client("qwen3:4b"), OllamaClient)
    for provider, var in [("together", "TOGETHER_API_KEY"), ("groq", "GROQ_API_KEY"),
                          ("fireworks", "FIREWORKS_API_KEY"), ("openrouter", "OPENROUTER_API_KEY"),
                          ("openai", "OPENAI_API_KEY")]:
        monkeypatch.delenv(var, raising=False)
        with pytest.raises(ConfigError, match=var):
            make_client(f"{provider}:m")
        monkeypatch.setenv(var, "k" * 20)
        client = make_client(f"{provider}:m")
        assert isinstance(client, OpenAICompatClient) and client.provider == provider
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9/v1")
    assert make_client("groq:m").base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k" * 20)
    assert isinstance(make_client("anthropic:m"), AnthropicClient)
