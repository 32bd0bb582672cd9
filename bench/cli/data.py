"""`bench data fetch` and `bench audit`: the datasets and their duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.api.data import DataOptions
from bench.cli import checks
from bench.cli.common import DataDir, DataPath, OutsidePaths, stdout, table
from bench.data.duplicates.find import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD
from bench.data.duplicates.fingerprint import HASH_BITS
from bench.io.progress import console


def data_fetch(
    name: Annotated[str, typer.Argument(help="galaxy10_decals, galaxy_mnist or galaxy_mnist_224.")],
    data_dir: Annotated[Optional[Path], typer.Option(envvar="BENCH_DATA_DIR", help="Where to put the files.")] = None,
) -> None:
    """Download a dataset's files (needs internet), verifying their checksums."""
    from bench.data.fetch import DEFAULT_DATA_DIR, fetch

    target = data_dir or DEFAULT_DATA_DIR
    for path in fetch(name, target):
        console.print(f"have {path}")
    if data_dir is None:
        console.print(f"set BENCH_DATA_DIR={target} so that `bench run` finds it")


def audit(
    dataset: Annotated[str, typer.Option(help="Dataset to audit, e.g. demo, galaxy10_decals, folder.")] = "demo",
    out: Annotated[Path, typer.Option(help="Folder for audit_<dataset>.md and .png.")] = Path("reports"),
    threshold: Annotated[int, typer.Option(help=f"Most bits (of {HASH_BITS}) in which duplicates' hashes differ.")] = (
        DEFAULT_THRESHOLD
    ),
    similarity: Annotated[float, typer.Option(help="Least embedding cosine confirming a pair.")] = DEFAULT_SIMILARITY,
    method: Annotated[Optional[str], typer.Option(help="Confirm with this method's pretrained embeddings.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ... (for --method)")] = "auto",
    data_dir: DataDir = None,
    data_path: DataPath = None,
    allow_outside_paths: OutsidePaths = False,
) -> None:
    """Leakage audit: exact and near-duplicate images, and whether the splits put a group in train and test."""
    from bench.audit.audit import run_audit
    from bench.audit.report import write_audit_report
    from bench.data.duplicates.find import DuplicateSettings
    checks.check_folder(out, "--out")
    chosen = checks.device(device, used=method is not None)
    settings = DuplicateSettings(threshold, similarity)
    data = DataOptions(data_dir=data_dir, path=data_path, allow_outside_paths=allow_outside_paths)
    found = run_audit(dataset, data, settings, method, chosen)
    rows = [[name, f"{value:,}"] for name, value in found.counts().items()]
    stdout.print(table(f"Leakage audit: {dataset} ({found.duplicates.criterion()})", ["count", "value"], rows))
    markdown, sheet = write_audit_report(found, out)
    console.print(f"wrote {markdown} and {sheet}")
