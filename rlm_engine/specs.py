"""Model spec strings: one string picks the backend, in the library, the CLI and the app.

=====================================  =======================================================
spec                                   backend
=====================================  =======================================================
``qwen3:4b``                           local Ollama (``OLLAMA_HOST``, else localhost:11434)
``ollama:qwen3:4b``                    the same, explicit
``http://host:11434/qwen3:72b``        a remote Ollama at that address
``glm-5:cloud``                        an Ollama cloud model, through the local Ollama
``openai:gpt-4o-mini``                 OpenAI (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)
``anthropic:claude-haiku-4-5``         Anthropic (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``)
``together:<model>``                   Together (``TOGETHER_API_KEY``)
``groq:<model>``                       Groq (``GROQ_API_KEY``)
``fireworks:<model>``                  Fireworks (``FIREWORKS_API_KEY``)
``openrouter:<model>``                 OpenRouter (``OPENROUTER_API_KEY``)
``http://a:11434/m,http://b:11434/m``  several endpoints of one model, called in turn
=====================================  =======================================================

Each OpenAI-compatible provider's base URL can be overridden with ``<PROVIDER>_BASE_URL``
(e.g. ``GROQ_BASE_URL``), like ``OPENAI_BASE_URL`` for OpenAI.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError


@dataclass(frozen=True)
class Provider:
    name: str
    family: str  # ollama | openai | anthropic
    key_env: Optional[str] = None
    base_url: Optional[str] = None  # None: the client library's own default
    base_url_env: Optional[str] = None
    default_model: Optional[str] = None  # what the benchmark picks when only a key is set


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("ollama", "ollama"),
        Provider("openai", "openai", "OPENAI_API_KEY", None, "OPENAI_BASE_URL", "gpt-4o-mini"),
        Provider(
            "anthropic", "anthropic", "ANTHROPIC_API_KEY", None, "ANTHROPIC_BASE_URL",
            "claude-haiku-4-5",
        ),
        Provider(
            "together", "openai", "TOGETHER_API_KEY", "https://api.together.xyz/v1",
            "TOGETHER_BASE_URL", "meta-llama/Llama-3.2-3B-Instruct-Turbo",
        ),
        Provider(
            "groq", "openai", "GROQ_API_KEY", "https://api.groq.com/openai/v1",
            "GROQ_BASE_URL", "llama-3.1-8b-instant",
        ),
        Provider(
            "fireworks", "openai", "FIREWORKS_API_KEY", "https://api.fireworks.ai/inference/v1",
            "FIREWORKS_BASE_URL", "accounts/fireworks/models/llama-v3p1-8b-instruct",
        ),
        Provider(
            "openrouter", "openai", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1",
            "OPENROUTER_BASE_URL", "mistralai/mistral-7b-instruct",
        ),
    )
}

DEFAULT_OLLAMA_HOST = "http://localhost:11434"


@dataclass(frozen=True)
class ModelSpec:
    provider: Provider
    model: str
    host: Optional[str] = None  # Ollama address for an inline-URL spec

    @property
    def label(self) -> str:
        """The spec as a user would type it (credentials in a URL are dropped)."""
        if self.provider.name == "ollama":
            return f"{redact_url(self.host)}/{self.model}" if self.host else self.model
        return f"{self.provider.name}:{self.model}"


_URL_SPEC = re.compile(r"^(https?://[^/]+)/(.+)$")


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec; raises ConfigError with a one-line reason."""
    spec = (spec or "").strip()
    if not spec:
        raise ConfigError("empty model name")
    m = _URL_SPEC.match(spec)
    if m:
        return ModelSpec(PROVIDERS["ollama"], m.group(2), host=m.group(1))
    if spec.startswith(("http://", "https://")):
        raise ConfigError(f"model spec {spec!r} has an address but no model: use http://host:port/MODEL")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix.lower() in PROVIDERS:
        if not rest:
            raise ConfigError(f"model spec {spec!r} names a provider but no model")
        return ModelSpec(PROVIDERS[prefix.lower()], rest)
    return ModelSpec(PROVIDERS["ollama"], spec)


def split_endpoints(spec: str) -> list[str]:
    """The parts of a multi-endpoint spec (``http://a:11434/m,http://b:11434/m``), each
    checked; raises ConfigError for an empty or bad part."""
    parts = [p.strip() for p in (spec or "").split(",")]
    if any(not p for p in parts):
        raise ConfigError(f"model spec {spec!r} has an empty endpoint: separate endpoints "
                          "with one comma")
    for part in parts:
        parse_spec(part)
    return parts


def ollama_host(explicit: Optional[str] = None) -> str:
    """The Ollama address: an explicit one, else OLLAMA_HOST, else localhost:11434."""
    host = explicit or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST
    if "://" not in host:
        host = "http://" + host
    return host.rstrip("/")


def redact_url(url: Optional[str]) -> str:
    """Drop user:password@ from a URL so it can be shown or logged."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url
