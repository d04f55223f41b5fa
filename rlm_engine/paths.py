"""Where rlm-tui keeps things on disk: the one place that knows.

  data dir    $RLM_TUI_DATA_DIR, else platformdirs' user data dir for "rlm-tui":
              trajectories/ (runs), benchmarks/ (results, trials/), clipboard.txt,
              the prompt history
  config dir  $RLM_TUI_CONFIG_DIR, else platformdirs' user config dir: keys.toml

The engine owns it because both the engine (trajectories, benchmarks) and the app (config,
clipboard) need it, and the engine must not import the app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import platformdirs

APP_NAME = "rlm-tui"


def data_dir() -> Path:
    override = os.environ.get("RLM_TUI_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    override = os.environ.get("RLM_TUI_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def trajectories_dir() -> Path:
    return data_dir() / "trajectories"


def benchmarks_dir(root: Optional[Path] = None) -> Path:
    """Saved benchmark results (bench_*.json) and, under trials/, their trials' runs."""
    return (root or data_dir()) / "benchmarks"


def saved_benchmarks(root: Optional[Path] = None) -> list[Path]:
    """Saved benchmark results, oldest first (their names start with a timestamp)."""
    return sorted(benchmarks_dir(root).glob("bench_*.json"))
