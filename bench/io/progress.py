"""The rich console and progress bars every long step uses."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def progress_bar(transient: bool = True, eta: bool = True) -> Progress:
    """A progress bar on stderr; silent when BENCH_NO_PROGRESS is set. ``eta=False`` leaves out rich's
    time-remaining guess, for callers that show their own in the status field."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        *([TimeRemainingColumn()] if eta else []),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
        disable=bool(os.environ.get("BENCH_NO_PROGRESS")),
    )
