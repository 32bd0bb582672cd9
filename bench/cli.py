"""The `bench` command line: each command parses flags and calls the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from rich.console import Console
from rich.table import Table

from bench import registry
from bench.audit.duplicates import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD
from bench.audit.fingerprint import HASH_BITS
from bench.data.base import DataOptions
from bench.errors import BenchError
from bench.profiles import PROFILES
from bench.progress import console
from bench.tasks import TASK_METRICS, TASKS

app = typer.Typer(help="Benchmark pretrained vision models on galaxy morphology.", no_args_is_help=True)
data_app = typer.Typer(help="Datasets: fetch the real ones.", no_args_is_help=True)
app.add_typer(data_app, name="data")
weights_app = typer.Typer(help="Pretrained weights: list where each method's come from, fetch them.")
app.add_typer(weights_app, name="weights")
# Tables go to stdout, full width even when piped to a file; progress and errors go to stderr.
stdout = Console(width=None if sys.stdout.isatty() else 200)


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_pairs(values: list[str], flag: str, example: str) -> dict[str, str]:
    """``KEY=VALUE`` flags as a dict."""
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key or not setting:
            raise BenchError(f"{flag} {value!r} is not KEY=VALUE", f"write e.g. {flag} {example}")
        pairs[key] = setting
    return pairs


def _table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table


@app.command("list")
def list_command() -> None:
    """Show the registered methods, datasets, tasks and profiles."""
    methods = [registry.method_class(name) for name in registry.method_names()]
    rows = [[m.name, ", ".join(m.variants), m.summary] for m in methods]
    stdout.print(_table("Methods", ["name", "variants", "summary"], rows))
    datasets = [registry.dataset_info(name) for name in registry.dataset_names()]
    stdout.print(_table("Datasets", ["name", "summary"], [[d.name, d.summary] for d in datasets]))
    stdout.print(_table("Tasks", ["name", "metrics"], [[t, ", ".join(TASK_METRICS[t])] for t in TASKS]))
    profiles = [[p.name, p.description] for p in PROFILES.values()]
    stdout.print(_table("Profiles", ["name", "description"], profiles))


@app.command()
def run(
    context: typer.Context,
    methods: Annotated[str, typer.Option(help="Comma-separated method names, or 'all'.")] = "resnet18",
    datasets: Annotated[str, typer.Option(help="Datasets, comma-separated (demo:N: N images per class).")] = "demo",
    tasks: Annotated[str, typer.Option(help="Comma-separated tasks.")] = "classify,retrieve",
    fractions: Annotated[str, typer.Option(help="Fractions of the training split, e.g. 0.1,1.0.")] = "1.0",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0",
    variants: Annotated[str, typer.Option(help="Method variants (methods without them run their default).")] = "",
    profile: Annotated[str, typer.Option(help="demo or paper.")] = "demo",
    init: Annotated[Optional[str], typer.Option(help="pretrained or random (default: the profile's).")] = None,
    adapt: Annotated[str, typer.Option(help="full fine-tuning, or linear probe on a frozen backbone.")] = "full",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
    data_path: Annotated[Optional[str], typer.Option(help="Explicit dataset file or folder.")] = None,
    weights: Annotated[list[str], typer.Option(help="METHOD=PATH weights file; repeatable.")] = [],  # noqa: B006
    weights_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_WEIGHTS_DIR", help="Weights directory.")] = None,
    option: Annotated[list[str], typer.Option(help="Method-specific KEY=VALUE setting; repeatable.")] = [],  # noqa: B006
    epochs: Annotated[Optional[int], typer.Option(help="Override the profile's epochs.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Override the batch size.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Override the learning rate.")] = None,
    save_models: Annotated[bool, typer.Option(help="Keep fine-tuned models (for `bench search`).")] = False,
    grid: Annotated[Optional[str], typer.Option(help=(
        "A shipped grid (`bench grids`) or a grid .toml file; it replaces --methods, --datasets, --variants, "
        "--fractions, --seeds, --tasks and --adapt, while --init, --epochs, --batch-size, --lr, --option apply "
        "to each of its cells."))] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the cells, which are done, the time left; run none.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="INDEX/COUNT: run only this share of the cells (0/4).")] = None,
    perf: Annotated[Optional[Path], typer.Option(help="`bench perf` file for --dry-run estimates.")] = None,
) -> None:
    """Fine-tune and evaluate every cell of a grid; finished cells, and cells another process is running, are
    skipped."""
    from bench import grids
    from bench.grid import expand
    from bench.provenance import resolve_device
    from bench.runner import Runner, RunSettings, missing_weights
    from bench.shard import Shard

    if init not in (None, "pretrained", "random"):
        raise BenchError(f"--init {init!r} is not pretrained or random", "pass --init pretrained or --init random")
    if adapt not in ("full", "linear"):
        raise BenchError(f"--adapt {adapt!r} is not full or linear", "pass --adapt full or --adapt linear")
    overrides = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr}.items() if v is not None}
    options = parse_pairs(option, "--option", "clip_tag=laion2b_s34b_b88k")
    if grid:
        _refuse_cell_flags(context)
        specs = grids.load(grid).specs(profile, init, overrides, options)  # type: ignore[arg-type]
    else:
        specs = expand(
            split_list(methods), split_list(datasets), [float(f) for f in split_list(fractions)],
            [int(s) for s in split_list(seeds)], split_list(variants), profile, init,  # type: ignore[arg-type]
            adapt, split_list(tasks), overrides, options,  # type: ignore[arg-type]
        )
    if shard:
        specs = Shard.parse(shard).select(specs)
    settings = RunSettings(
        results=results,
        data=DataOptions(data_dir=data_dir, path=data_path),
        device=resolve_device(device),
        weights_files=parse_pairs(weights, "--weights", "resnet18=/data/r18.safetensors"),
        weights_dir=weights_dir,
        save_models=save_models,
    )
    if dry_run:
        _print_plan(specs, settings, perf)
        return
    if errors := missing_weights(specs, settings):
        for line in errors:
            console.print(f"[red]error:[/] {line}", soft_wrap=True)
        raise typer.Exit(2)
    console.print(f"{len(specs)} runs on {settings.device}, results in {results}")
    records = Runner(settings).run(specs)
    stdout.print(results_table(records))
    if any(r["status"] != "ok" for r in records):
        raise typer.Exit(1)


CELL_FLAGS = ("methods", "datasets", "variants", "fractions", "seeds", "tasks", "adapt")


def _refuse_cell_flags(context: typer.Context) -> None:
    """With --grid the grid file lists the cells: flags that would too are refused, not silently mixed in."""
    # By the source's name: typer ships its own copy of click, whose ParameterSource is not click's.
    sources = {name: getattr(context.get_parameter_source(name), "name", "DEFAULT") for name in CELL_FLAGS}
    given = [f"--{name}" for name, source in sources.items() if source not in ("DEFAULT", "DEFAULT_MAP")]
    if given:
        raise BenchError(
            f"{', '.join(given)} cannot be combined with --grid (the grid file lists its cells)",
            "drop them, or write your own grid file (format: `bench grids --help`) and pass --grid FILE.toml",
        )


def _print_plan(specs: list[Any], settings: Any, perf: Path | None) -> None:
    """The dry run: every cell's state and the estimated time left."""
    from bench.estimate import DEFAULT_PERF_FILE
    from bench.plan import make_plan, plan_summary, plan_table
    from bench.store import ResultStore

    if perf is not None and not perf.is_file():
        raise BenchError(f"perf file {perf} does not exist", "write it with `bench perf`, or leave out --perf")
    plan = make_plan(specs, ResultStore(settings.results), settings.data, str(settings.device),
                     perf or DEFAULT_PERF_FILE)
    stdout.print(plan_table(plan))
    for line in plan_summary(plan):
        stdout.print(line, soft_wrap=True)


def results_table(records: list[dict[str, Any]]) -> Table:
    headers = ["method", "dataset", "variant", "fraction", "seed", "status",
               "accuracy", "macro_f1", "map@5", "map", "img/s", "seconds"]
    rows = []
    for r in records:
        spec, flat = r["spec"], {k: v for task in r.get("metrics", {}).values() for k, v in task.items()}
        rows.append([spec["method"], spec["dataset"], spec["variant"], f"{spec['fraction']:g}", str(spec["seed"]),
                     r["status"], *(f"{flat[m]:.4f}" if m in flat else "" for m in headers[6:10]),
                     f"{r.get('train_images_per_s', 0):.0f}", f"{r['wall_seconds']:.0f}"])
    return _table("This run", headers, rows)


@app.command()
def report(
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    out: Annotated[Path, typer.Option(help="Where the markdown goes.")] = Path("reports"),
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
) -> None:
    """Write reports/leaderboard.md (the paper's tables beside ours, every other run) and its figures."""
    from bench.report import write_report

    if not results.is_dir():
        raise BenchError(f"results directory {results} does not exist", "run `bench run` first or pass --results DIR")
    console.print(f"wrote {write_report(results, out, DataOptions(data_dir=data_dir))}")


@app.command("grids")
def grids_command() -> None:
    """List the shipped grids (run one with `bench run --grid NAME`).

    A grid file is TOML: a description, optional include = [grid names or paths], and [[cells]]
    blocks, each the cross product of its methods, datasets, variants, fractions, seeds (and tasks,
    adapt, options, overrides). The full format is in bench/grids/__init__.py.
    """
    from bench import grids

    rows = []
    for name, path in sorted(grids.shipped().items()):
        grid = grids.load(str(path))
        rows.append([name, str(len(grid.specs("paper"))), grid.description])
    stdout.print(_table("Shipped grids", ["name", "cells", "description"], rows))


@app.command("merge")
def merge_command(
    sources: Annotated[list[Path], typer.Argument(help="Results directories to merge from.")],
    into: Annotated[Path, typer.Option(help="Results directory to merge into (created when missing).")],
) -> None:
    """Merge results directories (e.g. from several machines): of two records of one cell the successful,
    else the newer, is kept; every file is written atomically."""
    from bench.merge import merge

    report = merge(sources, into)
    for path in report.conflicts:
        console.print(f"[yellow]conflict:[/] two different successful records of {path}; kept the newer",
                      soft_wrap=True)
    for path in report.unreadable:
        console.print(f"[yellow]skipped unreadable record[/] {path}", soft_wrap=True)
    console.print(f"merged into {into}: {report.summary()}")


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="galaxy10_decals or galaxy_mnist.")],
    data_dir: Annotated[Optional[Path], typer.Option(envvar="BENCH_DATA_DIR", help="Where to put the files.")] = None,
) -> None:
    """Download a dataset's files (needs internet), verifying their checksums."""
    from bench.data.fetch import fetch

    target = data_dir or Path.home() / "galaxy-bench-data"
    for path in fetch(name, target):
        console.print(f"have {path}")
    if data_dir is None:
        console.print(f"set BENCH_DATA_DIR={target} so that `bench run` finds it")


def _paper_weights(methods: str) -> list[tuple[str, Any]]:
    """(method, WeightsSpec of its paper-profile weights or None) for the selected methods."""
    names = registry.method_names() if methods == "all" else split_list(methods)
    return [(name, registry.create_method(name).weights_spec(PROFILES["paper"])) for name in names]


@weights_app.callback(invoke_without_command=True)
def weights_list(
    context: typer.Context,
    weights_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_WEIGHTS_DIR", help="Weights directory.")] = None,
) -> None:
    """Show every method's pretrained weights: exact identifier, hub location, and where they were found."""
    if context.invoked_subcommand is not None:
        return
    from bench.weights import locate

    rows = []
    for name, spec in _paper_weights("all"):
        if spec is None:
            rows.append([name, "(none)", "", "no published weights"])
            continue
        found = locate(spec, None, Path(weights_dir) if weights_dir else None)
        where = f"{found[0]}: {found[1]}" if found else "[red]missing[/]: `bench weights fetch`"
        rows.append([name, spec.identifier, spec.hub_repo, where])
    stdout.print(_table("Pretrained weights (paper profile)", ["method", "identifier", "hub repo", "status"], rows))


@weights_app.command("fetch")
def weights_fetch(
    methods: Annotated[str, typer.Option(help="Comma-separated method names, or 'all'.")] = "all",
) -> None:
    """Download the paper profile's pretrained weights into the Hugging Face cache (needs internet)."""
    from bench.weights import download, is_online

    if not is_online():
        raise BenchError("cannot reach huggingface.co (offline, or HF_HUB_OFFLINE is set)",
                         "run this where there is internet, then copy ~/.cache/huggingface here")
    for name, spec in _paper_weights(methods):
        if spec is not None:
            console.print(f"{name}: {download(spec)}")


@app.command()
def symbols(
    dataset: Annotated[str, typer.Option(help="Dataset whose classes to draw.")] = "demo",
    out: Annotated[Path, typer.Option(help="PNG contact sheet to write.")] = Path("symbols.png"),
    per_class: Annotated[int, typer.Option(help="Symbols per class.")] = 8,
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
    data_path: Annotated[Optional[str], typer.Option(help="Explicit dataset file or folder.")] = None,
) -> None:
    """Write a contact sheet of GalaxAlign's schematic symbols for every class of a dataset."""
    from methods.galaxalign.symbols import write_contact_sheet

    splits = registry.load_dataset(dataset, DataOptions(data_dir=data_dir, path=data_path))
    console.print(f"wrote {write_contact_sheet(splits.class_names, out, per_class=per_class)}")


@app.command()
def search(
    query: Annotated[str, typer.Option(help="Free text, e.g. 'barred spiral with loose arms'.")],
    method: Annotated[str, typer.Option(help="A text-capable method, e.g. galaxalign-vit16.")] = "galaxalign-vit16",
    dataset: Annotated[str, typer.Option(help="Dataset to search (its test split).")] = "demo",
    model: Annotated[Optional[Path], typer.Option(help="Saved model (.pt from `bench run --save-models`).")] = None,
    results: Annotated[Path, typer.Option(help="Where to find the newest saved model.")] = Path("results"),
    top: Annotated[int, typer.Option(help="How many matches.")] = 16,
    out: Annotated[Path, typer.Option(help="PNG grid to write.")] = Path("search.png"),
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
    data_path: Annotated[Optional[str], typer.Option(help="Explicit dataset file or folder.")] = None,
) -> None:
    """Text-to-image search with a fine-tuned model: writes a PNG grid of the best matches."""
    from methods.galaxalign.search import search as text_to_image

    saved = model or _newest_model(results, dataset, method)
    searcher = registry.create_method(method)
    if not hasattr(searcher, "load"):
        raise BenchError(f"{method} cannot search by text", "use a GalaxAlign method, e.g. galaxalign-vit16")
    searcher.load(saved)
    splits = registry.load_dataset(dataset, DataOptions(data_dir=data_dir, path=data_path))
    result = text_to_image(searcher, splits.test, query, out, top=top)  # type: ignore[arg-type]
    console.print(f"wrote {out}: best score {float(result.scores[0]):.3f} for {result.text!r}")


@app.command()
def audit(
    dataset: Annotated[str, typer.Option(help="Dataset to audit, e.g. demo, galaxy10_decals, folder.")] = "demo",
    out: Annotated[Path, typer.Option(help="Folder for audit_<dataset>.md and .png.")] = Path("reports"),
    threshold: Annotated[int, typer.Option(help=f"Most bits (of {HASH_BITS}) in which duplicates' hashes differ.")] = (
        DEFAULT_THRESHOLD
    ),
    similarity: Annotated[float, typer.Option(help="Least embedding cosine confirming a pair.")] = DEFAULT_SIMILARITY,
    method: Annotated[Optional[str], typer.Option(help="Confirm with this method's pretrained embeddings.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda ... (for --method)")] = "auto",
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
    data_path: Annotated[Optional[str], typer.Option(help="Explicit dataset file or folder.")] = None,
) -> None:
    """Leakage audit: exact and near-duplicate images, and whether the splits put a group in train and test."""
    from bench.audit.audit import run_audit
    from bench.audit.duplicates import DuplicateSettings
    from bench.audit.report import write_audit_report
    from bench.provenance import resolve_device

    settings = DuplicateSettings(threshold, similarity)
    found = run_audit(dataset, DataOptions(data_dir=data_dir, path=data_path), settings, method, resolve_device(device))
    rows = [[name, f"{value:,}"] for name, value in found.counts().items()]
    stdout.print(_table(f"Leakage audit: {dataset} ({found.duplicates.criterion()})", ["count", "value"], rows))
    markdown, sheet = write_audit_report(found, out)
    console.print(f"wrote {markdown} and {sheet}")


@app.command()
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
    from bench.perf.measure import PerfSettings, measure
    from bench.perf.report import HEADERS, method_row, write_perf
    from bench.profiles import get_profile
    from bench.provenance import resolve_device

    settings = PerfSettings.for_device(get_profile(profile), resolve_device(device), steps=steps, warmup_steps=warmup,
                                       images=images, batch_size=batch_size, compile=compile, reference_workers=workers)
    names = registry.method_names() if methods == "all" else [registry.method_class(m).name
                                                               for m in split_list(methods)]
    result = measure(names, settings)
    rows = [method_row(name, numbers) for name, numbers in result["methods"].items()]
    title = f"bench perf, {result['device']} (random weights: speed does not depend on them)"
    stdout.print(_table(title, HEADERS, rows))
    given = {"--steps": steps, "--warmup": warmup, "--images": images, "--batch-size": batch_size, "--workers": workers}
    flags = [f"{flag} {value}" for flag, value in given.items() if value is not None] + ["--compile"] * compile
    command = " ".join([f"bench perf --methods {methods} --profile {profile} --device {device}", *flags])
    json_path, markdown_path = write_perf(result, out, command)
    console.print(f"wrote {json_path} and {markdown_path}")


def _newest_model(results: Path, dataset: str, method: str) -> Path:
    folder = results / dataset.replace(":", "_") / method
    models = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise BenchError(
            f"no saved {method} model for {dataset} in {folder}",
            f"run `bench run --methods {method} --datasets {dataset} --save-models` first, or pass --model PATH",
        )
    return models[-1]


def main() -> None:
    """Entry point: user-facing errors become one red line and exit code 2."""
    try:
        result = app(standalone_mode=False)
    except BenchError as error:
        console.print(f"[red]error:[/] {error}", soft_wrap=True)
        sys.exit(2)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
