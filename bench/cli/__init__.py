"""The `bench` command line: thin Typer commands over the library, one module per group of commands.

Plugins add their own commands through the ``bench.commands`` entry-point group: each entry point
names a ``register(app)`` function that adds commands to the Typer app (see bench/api/registry.py).
Importing this package imports no torch: every command imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from bench.api import registry
from bench.api.errors import BenchError
from bench.cli import captions, catalog, data, perf, results, run, search, status, weights
from bench.io.progress import console


class BenchGroup(TyperGroup):
    """The top-level command group. Typer reports usage errors itself (its usage line, exit 2); a
    user-facing error of the library becomes one red line and exit code 2, whether the app runs as
    the ``bench`` script or under a test's CliRunner."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except BenchError as error:
            console.print(f"[red]error:[/] {error}", soft_wrap=True)
            sys.exit(2)


app = typer.Typer(
    cls=BenchGroup, help="Benchmark pretrained vision models on galaxy morphology.", no_args_is_help=True
)
app.command("list")(catalog.list_command)
app.command("grids")(catalog.grids_command)
app.command("run")(run.run)
app.command("report")(results.report)
app.command("merge")(results.merge_command)
app.command("status")(status.status)
app.command("audit")(data.audit)
app.command("perf")(perf.perf)
app.command("search")(search.search)

data_app = typer.Typer(help="Datasets: fetch the real ones.", no_args_is_help=True)
data_app.command("fetch")(data.data_fetch)
app.add_typer(data_app, name="data")

weights_app = typer.Typer(help="Pretrained weights: list where each method's come from, fetch them.")
weights_app.callback(invoke_without_command=True)(weights.weights_list)
weights_app.command("fetch")(weights.weights_fetch)
app.add_typer(weights_app, name="weights")

captions_app = typer.Typer(help="Per-image captions: write a dataset's BLIP captions.", no_args_is_help=True)
captions_app.command("blip")(captions.captions_blip)
app.add_typer(captions_app, name="captions")

for problem in registry.register_plugin_commands(app):
    console.print(f"[yellow]warning:[/] {problem}", soft_wrap=True)


def main() -> None:
    """Entry point (the ``bench`` script): the app in standalone mode, which exits with its exit code."""
    app()
