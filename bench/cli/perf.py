"""`bench perf`: throughput, memory and MFU of each method."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.api import registry
from bench.cli import checks
from bench.cli.common import split_list, stdout, table
from bench.io.progress import console


def perf(
    methods: Annotated[str, typer.Option(help="Comma-separated method names, or 'all'.")] = "all",
    profile: Annotated[str, typer.Option(help="paper (full-size models, 224 px) or demo (tiny, 64 px).")] = "paper",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    steps: Annotated[Optional[int], typer.Option(help="Timed steps [CUDA 30, CPU 5].")] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Untimed steps before them [CUDA 10, CPU 1].")] = None,
    images: Annotated[Optional[int], typer.Option(help="Synthetic cutouts [CUDA 2048, CPU 128].")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Override each method's training batch size.")] = None,
    compile: Annotated[bool, typer.Option("--compile", help="Also time the step with torch.compile.")] = False,
    workers: Annotated[Optional[int], typer.Option(help="Reference DataLoader workers [CUDA 8, CPU 0].")] = None,
    out: Annotated[Path, typer.Option(help="Perf JSON; the markdown goes beside it.")] = Path("reports/perf.json"),
) -> None:
    """Training and embedding throughput, peak GPU memory and MFU of each method, against a naive loop."""
    from bench.api.profiles import get_profile
    from bench.perf.measure import PerfSettings, measure
    from bench.perf.report import HEADERS, method_row, write_perf
    checks.check_overrides({"batch_size": batch_size} if batch_size is not None else {})
    checks.check_folder(out.parent, "--out")
    settings = PerfSettings.for_device(get_profile(profile), checks.device(device, used=True), steps=steps,
                                       warmup_steps=warmup,
                                       images=images, batch_size=batch_size, compile=compile, reference_workers=workers)
    names = registry.method_names() if methods == "all" else [registry.method_card(m).name
                                                               for m in split_list(methods)]
    result = measure(names, settings)
    rows = [method_row(name, numbers) for name, numbers in result["methods"].items()]
    title = f"bench perf, {result['device']} (random weights: speed does not depend on them)"
    stdout.print(table(title, HEADERS, rows))
    given = {"--steps": steps, "--warmup": warmup, "--images": images, "--batch-size": batch_size, "--workers": workers}
    flags = [f"{flag} {value}" for flag, value in given.items() if value is not None] + ["--compile"] * compile
    command = " ".join([f"bench perf --methods {methods} --profile {profile} --device {device}", *flags])
    json_path, markdown_path = write_perf(result, out, command)
    console.print(f"wrote {json_path} and {markdown_path}")
