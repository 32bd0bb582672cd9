"""Per-run test outputs saved beside the record (``<run_id>.npz``), for figures and later analysis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api.task import ModelOutputs
from bench.io.atomic import write_atomically
from bench.run.record import RunRecord
from bench.run.store import ResultStore


@dataclass(frozen=True)
class RunArtifacts:
    """Row i is test image ``indices[i]`` of the dataset's test split."""

    indices: np.ndarray  # (N,) int64 positions in the test split
    labels: np.ndarray  # (N,) true classes
    embeddings: np.ndarray | None = None  # (N, D) float16, L2-normalised before rounding
    predicted: np.ndarray | None = None  # (N,) predicted classes


def from_outputs(outputs: ModelOutputs, labels: np.ndarray) -> RunArtifacts:
    """The artifacts of one run: the outputs it computed, with the test split's labels, in order."""
    predicted = outputs.predicted
    return RunArtifacts(
        indices=np.arange(len(labels), dtype=np.int64),
        labels=np.asarray(labels, dtype=np.int64),
        embeddings=None if outputs.embeddings is None else outputs.embeddings.detach().cpu().numpy().astype(np.float16),
        predicted=None if predicted is None else predicted.detach().cpu().numpy().astype(np.int64),
    )


def save_artifacts(path: Path, artifacts: RunArtifacts) -> Path:
    """Write ``artifacts`` to ``path`` (.npz) atomically: temp file in the same folder, fsync, rename."""
    arrays = {name: value for name, value in vars(artifacts).items() if value is not None}
    return write_atomically(path, lambda file: np.savez(file, **arrays))


def load_artifacts(path: Path) -> RunArtifacts:
    with np.load(path) as saved:
        return RunArtifacts(**{name: saved[name] for name in saved.files})


def artifacts_of(record: RunRecord, results_dir: Path) -> RunArtifacts | None:
    """The saved artifacts of ``record`` from the results folder; None when it has none."""
    if not record.artifacts:
        return None
    path = ResultStore(results_dir).path_for(record.spec).parent / record.artifacts
    return load_artifacts(path) if path.is_file() else None
