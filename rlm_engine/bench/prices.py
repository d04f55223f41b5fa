"""What a cloud model's tokens cost: a price table shipped with the package (prices.json,
US dollars per million input / output tokens), which the user's config file can override or
extend (``<config dir>/prices.toml``)::

    [prices]
    "openai:gpt-4o-mini" = { input = 0.15, output = 0.60 }
    "groq:my-model" = { input = 0.10, output = 0.10 }

Local models (Ollama) cost nothing per token: the benchmark shows their time instead. A cloud
model missing from the table has no cost (shown as "—"), never a guessed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

TABLE = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Price:
    input: float  # dollars per million prompt tokens
    output: float  # dollars per million completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


def _entries(data: dict) -> dict[str, Price]:
    out = {}
    for label, p in data.items():
        if isinstance(p, dict) and "input" in p and "output" in p:
            out[str(label)] = Price(float(p["input"]), float(p["output"]))
    return out


def load_prices(override: Optional[Path] = None) -> tuple[dict[str, Price], Optional[str]]:
    """The shipped table with the override file's entries on top, and a one-line problem if
    the override could not be read (the shipped table is used then)."""
    prices = _entries(json.loads(TABLE.read_text(encoding="utf-8")))
    if override is None or not override.exists():
        return prices, None
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return prices, f"{override}: reading TOML needs Python 3.11"
    try:
        data = tomllib.loads(override.read_text(encoding="utf-8")).get("prices", {})
        if not isinstance(data, dict):
            raise ValueError("[prices] should map model specs to {input, output}")
        prices.update(_entries(data))
    except (OSError, ValueError, TypeError) as exc:
        return prices, f"{override} was not read: {exc}"
    return prices, None
