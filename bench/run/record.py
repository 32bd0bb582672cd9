"""RunRecord: what one run leaves in results/<dataset>/<method>/<run_id>.json, and the one way to read it.

Every reader goes through ``read_record`` (or ``ResultStore.records``), which checks the record's
``schema`` version: an older version is brought up to date through ``MIGRATIONS``, a newer one is
refused, and a file that is not a valid record raises ``RecordError`` naming the file and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from rich.markup import escape

from bench.api.errors import BenchError
from bench.api.spec import RunSpec, field_values
from bench.api.weights import ResolvedWeights
from bench.io.progress import console

SCHEMA_VERSION = 1
# version N -> a function turning a version-N record (a dict) into version N + 1; none yet.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

REDO = "delete it, or run its cell again with `bench run` (which replaces it)"


def _spec_fields(value: object) -> object:
    return field_values(value) if isinstance(value, dict) else value


def _is_numeric(value: object) -> bool:
    if isinstance(value, list):
        return all(_is_numeric(item) for item in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metric_value(value: object) -> object:
    if not _is_numeric(value):
        raise ValueError(f"{value!r} is not a number (nor a list of numbers)")
    return value


Spec = Annotated[RunSpec, BeforeValidator(_spec_fields), PlainSerializer(RunSpec.to_dict)]
# A number, or (nested) lists of numbers such as a confusion matrix.
MetricValue = Annotated[int | float | list[Any], PlainValidator(_metric_value)]


class RunData(BaseModel):
    """The data a run was trained and tested on."""

    model_config = ConfigDict(frozen=True)

    protocol: str  # how the splits were made
    train: int  # training images used (the run's fraction of train_full)
    train_full: int
    val: int
    test: int
    class_names: list[str] | None = None  # hand-written records may leave it out
    image_size: int | None = None  # side in pixels of the stored test images (the data's resolution)
    captions: str | None = None  # the caption source of a cell that uses captions (e.g. "rendered", "classes")


class RunRecord(BaseModel):
    """One run's outcome. A failed run has its error and traceback, and none of the results."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    version: int = Field(SCHEMA_VERSION, alias="schema")
    run_id: str
    spec: Spec
    status: Literal["ok", "failed"]
    error: str | None = None  # one line, with the fix where it is known
    traceback: str | None = None
    metrics: dict[str, dict[str, MetricValue]] = Field(default_factory=dict)  # task -> metric -> value
    # The same model's metrics on named subsets of the test split (e.g. the images that duplicate no
    # training image): subset -> task -> metric -> value.
    subset_metrics: dict[str, dict[str, dict[str, MetricValue]]] = Field(default_factory=dict)
    # Tasks the test data could not define (``task``, or ``subset/task``) -> why; the others are in metrics.
    undefined_tasks: dict[str, str] = Field(default_factory=dict)
    artifacts: str | None = None  # the saved test outputs, relative to the record's folder
    model_path: str | None = None  # the fine-tuned model, when kept
    weights: ResolvedWeights | None = None  # what the run started from
    config: dict[str, Any] | None = None  # the FinetuneConfig used
    fit: dict[str, Any] | None = None  # the FitResult
    train_images_per_s: float | None = None
    data: RunData | None = None
    environment: dict[str, Any] | None = None  # package versions, git commit, device
    started_at: str | None = None  # ISO 8601, UTC
    finished_at: str | None = None
    wall_seconds: float | None = None
    peak_memory_mb: float | None = None
    memory_kind: str | None = None  # cuda_allocated or process_rss

    @model_validator(mode="after")
    def _finished_runs_have_data(self) -> RunRecord:
        if self.status == "ok" and self.data is None:
            raise ValueError("a successful run without its data")
        return self

    @property
    def ok_data(self) -> RunData:
        """The data of a successful run (validation makes sure it has them)."""
        if self.data is None:
            raise BenchError(f"run {self.run_id} failed: it has no data", "read the data of successful runs only")
        return self.data

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form: the fields that were set (a failed run has no metrics) and the schema version."""
        return {**self.model_dump(mode="json", by_alias=True, exclude_unset=True), "schema": self.version}


class RecordError(BenchError):
    """A file that is not a record this galaxy-bench can read."""

    def __init__(self, path: Path, problem: str, fix: str = REDO) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}", fix)


def read_record(path: Path) -> RunRecord:
    """The record in ``path``: FileNotFoundError when there is none, RecordError when it is not valid."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(path, f"unreadable ({error})") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RecordError(path, f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise RecordError(path, f"not a JSON object but a {type(data).__name__}")
    try:
        return RunRecord.model_validate(migrate(data, path))
    except ValidationError as error:
        raise RecordError(path, describe(error)) from None


def migrate(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` in the current schema: an older version goes through MIGRATIONS one version at a time."""
    version = data.get("schema")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordError(path, "no schema version (not a record galaxy-bench wrote)")
    if version > SCHEMA_VERSION:
        raise RecordError(path, f"schema version {version}: written by a newer galaxy-bench",
                          f"read it with that galaxy-bench (this one reads up to version {SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise RecordError(path, f"unknown schema version {version}")
        data = {**MIGRATIONS[version](data), "schema": version + 1}
        version += 1
    return data


def describe(error: ValidationError) -> str:
    """Every problem pydantic found, as 'where: what', on one line."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        what = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {what}" if where else what)
    return "; ".join(problems)


def report_skipped(error: RecordError) -> None:
    """The one line that says a record was skipped, and why."""
    console.print(f"[yellow]skipped[/] {escape(str(error))}", soft_wrap=True)
