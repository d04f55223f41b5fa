"""`ClientSet`: the model clients one RLM uses: the root model's, the recursive model's, and
any other model named in `llm_query(prompt, model=spec)` (made on first use, then kept).

It is also where a run learns which strings must never reach a trajectory: each client says
what its own secrets are (`ChatClient.secrets()`); nobody reaches into a client for them.
"""

from __future__ import annotations

from typing import Optional

from ..config import RunConfig
from . import make_client
from .base import ChatClient, ClientOptions


class ClientSet:
    def __init__(self, config: RunConfig, root: Optional[ChatClient] = None,
                 recursive: Optional[ChatClient] = None) -> None:
        """Raises ConfigError (one line) for a bad model spec or a missing API key."""
        self.host = config.host
        self.options = ClientOptions.from_config(config)
        self.root = root or make_client(config.model, host=self.host, options=self.options)
        if recursive is not None:
            self.recursive = recursive
        elif config.recursive_model:
            self.recursive = make_client(config.recursive_model, host=self.host,
                                         options=self.options)
        elif root is not None:
            self.recursive = root
        else:
            self.recursive = make_client(config.model, host=self.host, options=self.options)
        self._extra: dict[str, ChatClient] = {}

    def for_spec(self, spec: str) -> ChatClient:
        """The client for `llm_query(prompt, model=spec)` (made once, then reused)."""
        for client in (self.root, self.recursive):
            if spec == client.label:
                return client
        if spec not in self._extra:
            self._extra[spec] = make_client(spec, host=self.host, options=self.options)
        return self._extra[spec]

    def all(self) -> list[ChatClient]:
        """Every client once (root and recursive may be the same one)."""
        return list({id(c): c for c in (self.root, self.recursive, *self._extra.values())}
                    .values())

    def secrets(self) -> list[str]:
        return [s for c in self.all() for s in c.secrets() if s]

    async def aclose(self) -> None:
        for c in self.all():
            await c.aclose()
