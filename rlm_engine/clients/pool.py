"""Several endpoints serving the same model, used as one: for users with several GPUs or
machines (``-r http://a:11434/qwen3:1.7b,http://b:11434/qwen3:1.7b``).

Each call goes to the next endpoint in turn (round robin), so `llm_query_batched` spreads a
batch evenly across them, and single `llm_query` calls alternate. The sub-calls are reported
under each endpoint's own label, so the usage pane shows one line per endpoint. Round robin
rather than least-busy: the batch's share is decided up front, predictable, and the same
across runs; the endpoints are assumed alike (same model).
"""

from __future__ import annotations

import itertools
from typing import Any, AsyncGenerator, AsyncIterator, Optional

from .base import ChatClient, Completion, StreamItem


class EndpointPool(ChatClient):
    def __init__(self, endpoints: list[ChatClient]) -> None:
        first = endpoints[0]
        super().__init__(first.model, ",".join(e.label for e in endpoints), first.options)
        self.provider = first.provider
        self.endpoints = endpoints
        self._turn = itertools.count()

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for e in self.endpoints for s in e.secrets())

    def spread(self, n: int) -> list[ChatClient]:
        """The endpoints for the next `n` calls, in turn."""
        return [self.endpoints[next(self._turn) % len(self.endpoints)] for _ in range(n)]

    # -- a ChatClient by delegation --------------------------------------------------------
    def _make_sdk(self) -> Any:
        raise NotImplementedError("a pool has no SDK of its own")

    def _raw_stream(self, messages: list[dict]) -> AsyncIterator[StreamItem]:
        raise NotImplementedError("a pool streams through its endpoints")

    def _describe(self, exc: BaseException) -> str:
        return str(exc)

    def _where(self) -> str:
        return self.label

    async def stream(self, messages: list[dict]) -> AsyncGenerator[StreamItem, None]:
        async for item in self.spread(1)[0].stream(messages):
            yield item

    async def complete(self, messages: list[dict]) -> Completion:
        return await self.spread(1)[0].complete(messages)

    async def probe(self) -> Optional[str]:
        for endpoint in self.endpoints:
            problem = await endpoint.probe()
            if problem:
                return problem
        return None

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.aclose()
