"""RunSpec: everything that decides the outcome of one fine-tune and its evaluation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from bench.api.method import Adapt
from bench.api.profiles import Init

DEFAULT_TASKS = ("classify", "retrieve")  # what a run evaluates unless told otherwise


@dataclass(frozen=True)
class RunSpec:
    """One cell of a grid: a model trained once, then evaluated on every task in ``tasks``.

    ``overrides`` are FinetuneConfig fields the user set by hand (e.g. epochs) and ``options``
    method-specific settings (e.g. a CLIP tag); ``inputs`` fingerprint the files given by hand that
    change the result (a --weights file, a --data-path, the files an option names; see
    bench/run/inputs.py). All three are part of the run's identity, so a run with other settings or
    other files never masquerades as the default or as a finished run.
    """

    method: str
    dataset: str
    fraction: float = 1.0
    seed: int = 0
    variant: str = "default"
    profile: str = "demo"
    init: Init = "random"
    adapt: Adapt = "full"
    tasks: tuple[str, ...] = DEFAULT_TASKS
    overrides: tuple[tuple[str, Any], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()  # (what, fingerprint), e.g. ("weights", "sha256:...")

    def identity(self) -> dict[str, Any]:
        """The fields that decide the trained model (every field but ``tasks``)."""
        fields = asdict(self)
        fields.pop("tasks")
        fields["overrides"] = dict(self.overrides)
        fields["options"] = dict(self.options)
        fields["inputs"] = dict(self.inputs)
        if not self.inputs:  # records of runs without files stay as they were
            del fields["inputs"]
        return fields

    @property
    def run_id(self) -> str:
        """A readable file name, unique per identity."""
        name = f"{self.profile}-{self.variant}-{self.adapt}-{self.init}-f{self.fraction:g}-s{self.seed}"
        if self.overrides or self.options or self.inputs:
            settings = {"overrides": dict(self.overrides), "options": dict(self.options)}
            if self.inputs:  # absent otherwise, so runs without files keep their names
                settings["inputs"] = dict(self.inputs)
            name += "-" + hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        return name

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "tasks": list(self.tasks)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**field_values(data))


def field_values(data: dict[str, Any]) -> dict[str, Any]:
    """``RunSpec.to_dict``'s form in the dataclass's field types: the tables of settings as sorted pairs,
    the tasks as a tuple (anything else is left for the caller to check)."""
    fields = dict(data)
    for key in ("overrides", "options", "inputs"):
        if isinstance(fields.get(key), dict):
            fields[key] = tuple(sorted(fields[key].items()))
    if isinstance(fields.get("tasks"), list):
        fields["tasks"] = tuple(fields["tasks"])
    return fields
