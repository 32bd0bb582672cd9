"""Evaluation tasks: each turns a fine-tuned method and a test set into a metrics dict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.data.base import GalaxyData
from bench.method import Method
from bench.tasks import classify, retrieve

Task = Callable[[Method, GalaxyData], dict[str, Any]]

TASKS: dict[str, Task] = {"classify": classify.evaluate, "retrieve": retrieve.evaluate}

# The headline numbers of each task, in table order.
TASK_METRICS: dict[str, tuple[str, ...]] = {"classify": ("accuracy", "macro_f1"), "retrieve": ("map@5", "map")}
