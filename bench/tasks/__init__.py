"""Evaluation tasks: each turns a model's test outputs and the test labels into a metrics dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.tasks import classify, retrieve
from bench.tasks.outputs import TASK_NEEDS, ModelOutputs, compute_outputs

Task = Callable[[ModelOutputs, np.ndarray], dict[str, Any]]

TASKS: dict[str, Task] = {"classify": classify.evaluate, "retrieve": retrieve.evaluate}

# The headline numbers of each task, in table order.
TASK_METRICS: dict[str, tuple[str, ...]] = {"classify": ("accuracy", "macro_f1"), "retrieve": ("map@5", "map")}

__all__ = ["TASKS", "TASK_METRICS", "TASK_NEEDS", "ModelOutputs", "Task", "compute_outputs"]
