"""`bench weights` and `bench weights fetch`: where each method's pretrained weights come from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bench.api import registry
from bench.api.errors import BenchError
from bench.api.profiles import PROFILES
from bench.cli.common import WeightsDir, split_list, stdout, table
from bench.io.progress import console


def _paper_weights(methods: str) -> list[tuple[str, Any, str]]:
    """(method, WeightsSpec of its default paper-profile weights or None, how to pick others) for the
    selected methods."""
    from bench.api.capabilities import SelectsWeights

    paper = PROFILES["paper"]
    names = registry.method_names() if methods == "all" else split_list(methods)
    found = []
    for name in names:
        method = registry.create_method(name)
        choice = method.weights_choice(paper) if isinstance(method, SelectsWeights) else None
        others = f"--option {choice.option}=" + " | ".join(choice.tags[1:]) if choice and choice.tags[1:] else ""
        found.append((name, method.weights_spec(paper), others))
    return found


def weights_list(
    context: typer.Context,
    weights_dir: WeightsDir = None,
) -> None:
    """Show every method's pretrained weights: exact identifier, hub location, the other tags an
    --option picks, and where they were found."""
    if context.invoked_subcommand is not None:
        return
    from bench.train.weights import locate

    rows = []
    for name, spec, others in _paper_weights("all"):
        if spec is None:
            rows.append([name, "(none)", "", "", "no published weights"])
            continue
        found = locate(spec, None, Path(weights_dir) if weights_dir else None)
        where = f"{found[0]}: {found[1]}" if found else "[red]missing[/]: `bench weights fetch`"
        rows.append([name, spec.identifier, spec.hub_repo, others, where])
    headers = ["method", "identifier (default)", "hub repo", "other tags", "status"]
    stdout.print(table("Pretrained weights (paper profile)", headers, rows))


def weights_fetch(
    methods: Annotated[str, typer.Option(help="Comma-separated method names, or 'all'.")] = "all",
) -> None:
    """Download the paper profile's pretrained weights into the Hugging Face cache (needs internet)."""
    from bench.train.weights import download, is_online

    if not is_online():
        raise BenchError("cannot reach huggingface.co (offline, or HF_HUB_OFFLINE is set)",
                         "run this where there is internet, then copy ~/.cache/huggingface here")
    for name, spec, _ in _paper_weights(methods):
        if spec is not None:
            console.print(f"{name}: {download(spec)}")
