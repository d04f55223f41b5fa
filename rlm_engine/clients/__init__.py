"""Model clients: `make_client(spec)` picks the family from a model spec string.

Each family's module (and its SDK, which can take most of a second to import) loads only
when a client of that family is first made.
"""

from __future__ import annotations

import os
from typing import Optional

from ..errors import ConfigError
from ..specs import ModelSpec, ollama_host, parse_spec, split_endpoints
from .base import ChatClient, ClientOptions, Completion, StreamItem, TextChunk, ThinkingChunk

_LAZY = {
    "OllamaClient": ".ollama_client",
    "OpenAICompatClient": ".openai_client",
    "AnthropicClient": ".anthropic_client",
}


def __getattr__(name: str) -> type:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)

__all__ = [
    "AnthropicClient", "ChatClient", "ClientOptions", "Completion", "OllamaClient",
    "OpenAICompatClient", "StreamItem", "TextChunk", "ThinkingChunk", "make_client",
]


def make_client(
    spec: "str | ModelSpec", *, host: Optional[str] = None,
    options: Optional[ClientOptions] = None,
) -> ChatClient:
    """Build the client for a spec. `host` is the Ollama address for plain Ollama specs.

    Raises ConfigError when a cloud provider's API key is not set.
    """
    if isinstance(spec, str) and "," in spec:  # several endpoints of one model
        from .pool import EndpointPool

        return EndpointPool([make_client(part, host=host, options=options)
                             for part in split_endpoints(spec)])
    ms = parse_spec(spec) if isinstance(spec, str) else spec
    p = ms.provider
    if p.family == "ollama":
        from .ollama_client import OllamaClient

        return OllamaClient(ms.model, ms.host or ollama_host(host), label=ms.label, options=options)
    key = os.environ.get(p.key_env or "", "").strip()
    if not key:
        raise ConfigError(f"{p.key_env} is not set: it is needed for {ms.label}")
    base_url = (os.environ.get(p.base_url_env or "") or "").strip() or p.base_url
    if p.family == "anthropic":
        from .anthropic_client import AnthropicClient

        return AnthropicClient(ms.model, api_key=key, base_url=base_url, label=ms.label,
                               options=options)
    from .openai_client import OpenAICompatClient

    return OpenAICompatClient(ms.model, provider=p.name, api_key=key, base_url=base_url,
                              key_env=p.key_env or "", label=ms.label, options=options)
