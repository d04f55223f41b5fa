"""Benchmarks: seeded long-context tasks, model selection, a runner, results."""

from .models import BenchModel, select_models
from .results import BenchResults, ModelRow, TrialResult, load_results
from .runner import BenchRunner
from .tasks import TASK_KINDS, Task, make_task

__all__ = ["BenchModel", "BenchResults", "BenchRunner", "ModelRow", "TASK_KINDS", "Task",
           "TrialResult", "load_results", "make_task", "select_models"]
