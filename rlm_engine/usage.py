"""Token usage: one call's counts, running totals per model, and a run's summary.

`UsageSummary` is what a result and RunFinished carry; on disk and in `--json` it keeps the
dict form it always had (`to_dict` / `from_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


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

    @property
    def usage(self) -> Usage:
        return Usage(self.prompt_tokens, self.completion_tokens)

    def to_dict(self) -> dict:
        """The stored form (the model is the key it is stored under)."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "calls": self.calls, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, model: str, data: Any) -> "ModelUsage":
        """Tolerant: a missing or malformed count reads as 0."""
        d = data if isinstance(data, dict) else {}
        return cls(model, _int(d.get("prompt_tokens")), _int(d.get("completion_tokens")),
                   _int(d.get("calls")), _float(d.get("seconds")))


@dataclass(frozen=True)
class UsageSummary:
    """A run's tokens: totals, and the same per model. (A log of another tool may give
    totals without the per-model part, so the totals are stored, not derived.)"""

    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    total_calls: int = 0
    by_model: Mapping[str, ModelUsage] = field(default_factory=dict)

    @classmethod
    def of(cls, by_model: Mapping[str, ModelUsage]) -> "UsageSummary":
        return cls(sum(m.prompt_tokens for m in by_model.values()),
                   sum(m.completion_tokens for m in by_model.values()),
                   sum(m.calls for m in by_model.values()), dict(by_model))

    @property
    def total_tokens(self) -> int:
        return self.total_prompt_tokens + self.total_completion_tokens

    @property
    def total(self) -> Usage:
        return Usage(self.total_prompt_tokens, self.total_completion_tokens)

    def to_dict(self) -> dict:
        return {"total_prompt_tokens": self.total_prompt_tokens,
                "total_completion_tokens": self.total_completion_tokens,
                "total_calls": self.total_calls,
                "by_model": {name: m.to_dict() for name, m in self.by_model.items()}}

    @classmethod
    def from_dict(cls, data: Any) -> "UsageSummary":
        """Tolerant of old and foreign files: missing parts read as 0 / empty."""
        d = data if isinstance(data, dict) else {}
        raw = d.get("by_model")
        by_model = {str(k): ModelUsage.from_dict(str(k), v)
                    for k, v in (raw.items() if isinstance(raw, dict) else ())}
        return cls(_int(d.get("total_prompt_tokens")), _int(d.get("total_completion_tokens")),
                   _int(d.get("total_calls")), by_model)

    def __getitem__(self, key: str) -> Any:
        """`result.usage["total_prompt_tokens"]`, as when usage was a dict (library users)."""
        return self.to_dict()[key]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
