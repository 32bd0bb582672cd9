"""The rich console and progress bars every long step uses."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def progress_bar(transient: bool = True) -> Progress:
    """A progress bar on stderr; silent when BENCH_NO_PROGRESS is set."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=bool(os.environ.get("BENCH_NO_PROGRESS")),
    )
