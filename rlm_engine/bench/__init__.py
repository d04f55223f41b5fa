"""Benchmarks: seeded long-context tasks, model selection, a runner, results."""

from .models import BenchModel, select_models
from .results import MODES, BenchResults, ModelRow, TrialResult, load_results, wilson
from .prices import Price, load_prices
from .runner import BenchRunner
from .tasks import TASK_KINDS, Task, make_task

__all__ = ["BenchModel", "BenchResults", "BenchRunner", "MODES", "ModelRow", "Price",
           "TASK_KINDS", "Task", "TrialResult", "load_prices", "load_results", "make_task",
           "select_models", "wilson"]
