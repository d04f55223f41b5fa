"""Token usage: one call's counts, and running totals per model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Tokens spent by one model call, as the backend reported them (0 when it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class ModelUsage:
    """Running totals for one model across a run."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, usage: Usage, seconds: float = 0.0) -> "ModelUsage":
        return ModelUsage(
            self.model,
            self.prompt_tokens + usage.prompt_tokens,
            self.completion_tokens + usage.completion_tokens,
            self.calls + 1,
            self.seconds + seconds,
        )

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


def usage_summary(by_model: dict[str, ModelUsage]) -> dict:
    """The `usage` dict of a result: totals first, then the same per model."""
    return {
        "total_prompt_tokens": sum(m.prompt_tokens for m in by_model.values()),
        "total_completion_tokens": sum(m.completion_tokens for m in by_model.values()),
        "total_calls": sum(m.calls for m in by_model.values()),
        "by_model": {
            name: {
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "calls": m.calls,
                "seconds": round(m.seconds, 3),
            }
            for name, m in by_model.items()
        },
    }
