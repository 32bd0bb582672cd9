"""Every run's scalar metrics as one long table, for analysis outside galaxy-bench: reports/results.<format>."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from bench.run.frame import records_frame
from bench.run.record import RunRecord

COLUMNS = ["run_id", "method", "dataset", "variant", "adapt", "init", "profile", "settings", "fraction", "seed",
           "task", "metric", "value"]
WRITERS: dict[str, Callable[[pd.DataFrame, Path], object]] = {
    "csv": lambda table, path: table.to_csv(path, index=False),
    "parquet": lambda table, path: table.to_parquet(path, index=False),  # needs pyarrow
    "json": lambda table, path: table.to_json(path, orient="records", indent=2),
}


def results_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per successful run and scalar metric (confusion matrices left out), in ``COLUMNS``."""
    return records_frame(records).reindex(columns=COLUMNS)


def write_results_table(table: pd.DataFrame, out_dir: Path, table_format: str) -> Path:
    """``table`` as ``out_dir/results.<table_format>`` (a key of WRITERS)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"results.{table_format}"
    WRITERS[table_format](table, path)
    return path
