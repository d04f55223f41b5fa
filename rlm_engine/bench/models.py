"""Which models a benchmark runs, from the flags a user of a model-benchmark script knows.

- Local: ``qwen3:0.6b`` and ``qwen3:1.7b`` unless ``--no-local``; ``--ollama M...`` adds more
  (an item may be ``http://host:11434/MODEL``); ``--ollama-host URL`` applies to every Ollama
  model without an address of its own.
- Cloud: one small model per provider whose API key is set (``OPENAI_API_KEY`` ...), unless
  ``--no-cloud-auto``; ``--cloud provider:model...`` adds explicit ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ..specs import PROVIDERS, parse_spec, split_endpoints

DEFAULT_LOCAL = ("qwen3:0.6b", "qwen3:1.7b")


@dataclass(frozen=True)
class BenchModel:
    spec: str  # what make_client takes
    label: str  # what the table shows
    provider: str


def _ollama(model: str, host: Optional[str]) -> BenchModel:
    ms = parse_spec(model)
    if ms.provider.name == "ollama" and ms.host is None and host:
        spec = f"{host.rstrip('/')}/{ms.model}"
        if "://" not in spec:
            spec = "http://" + spec
        ms = parse_spec(spec)
        return BenchModel(spec, ms.label, "ollama")
    return BenchModel(model, ms.label, ms.provider.name)


def model_for(spec: str, ollama_host: Optional[str] = None) -> BenchModel:
    """One model from its spec (raises ConfigError, one line, for a bad spec). A
    multi-endpoint spec (``http://a:11434/m,http://b:11434/m``) is one model whose calls
    take turns across its endpoints."""
    spec = spec.strip()
    if "," in spec:
        parts = [parse_spec(p) for p in split_endpoints(spec)]
        return BenchModel(spec, ",".join(p.label for p in parts), parts[0].provider.name)
    return _ollama(spec, ollama_host)


def select_models(*, ollama: Sequence[str] = (), ollama_host: Optional[str] = None,
                  no_local: bool = False, cloud: Sequence[str] = (),
                  no_cloud_auto: bool = False) -> list[BenchModel]:
    chosen: list[BenchModel] = []
    local = ([] if no_local else list(DEFAULT_LOCAL)) + list(ollama)
    for name in local:
        chosen.append(model_for(name, ollama_host))
    if not no_cloud_auto:
        for p in PROVIDERS.values():
            if p.key_env and os.environ.get(p.key_env) and p.default_model:
                chosen.append(BenchModel(f"{p.name}:{p.default_model}",
                                         f"{p.name}:{p.default_model}", p.name))
    for spec in cloud:
        ms = parse_spec(spec)
        chosen.append(BenchModel(spec, ms.label, ms.provider.name))
    unique: dict[str, BenchModel] = {}
    for m in chosen:
        unique.setdefault(m.spec, m)
    return list(unique.values())
