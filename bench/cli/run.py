"""`bench run`: fine-tune and evaluate the cells of a grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.table import Table

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.method import ADAPTS
from bench.api.profiles import get_profile
from bench.cli import checks, scaleout
from bench.cli.common import DataDir, DataPath, OutsidePaths, WeightsDir, parse_pairs, split_list, stdout, table
from bench.io.progress import console

if TYPE_CHECKING:
    from bench.grid.plan import Plan
    from bench.run.record import RunRecord
    from bench.run.store import ResultStore


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
    adapt: Annotated[str, typer.Option(help=(
        "full (fine-tune everything), linear (a head on the frozen backbone) or zoobot (zoobot's own fine-tuning)."
    ))] = "full",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    data_dir: DataDir = None,
    data_path: DataPath = None,
    allow_outside_paths: OutsidePaths = False,
    weights: Annotated[list[str], typer.Option(help="METHOD=PATH weights file; repeatable.")] = [],  # noqa: B006
    weights_dir: WeightsDir = None,
    option: Annotated[list[str], typer.Option(help="Method-specific KEY=VALUE setting; repeatable.")] = [],  # noqa: B006
    epochs: Annotated[Optional[int], typer.Option(help="Override the profile's epochs.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Override the batch size.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Override the learning rate.")] = None,
    save_models: Annotated[bool, typer.Option(help="Keep fine-tuned models (for `bench search`).")] = False,
    captions: Annotated[Optional[str], typer.Option(help=(
        "Per-image captions of the cells that use them (methods trained on captions, text2image, image2text): "
        "classes, blip[:MODEL_ID] (`bench captions blip`) or a CSV file of index,caption rows "
        "(default: the dataset's own, e.g. the demo's rendered ones, else classes)."))] = None,
    grid: Annotated[Optional[str], typer.Option(help=(
        "A shipped grid (`bench grids`) or a grid .toml file; it replaces --methods, --datasets, --variants, "
        "--fractions, --seeds, --tasks and --adapt, while --init, --epochs, --batch-size, --lr, --option apply "
        "to each of its cells."))] = None,
    all_seeds: Annotated[bool, typer.Option(help=(
        "With --grid: every seed the grid file lists (a profile may run fewer: the demo runs seed 0)."))] = False,
    dry_run: Annotated[bool, typer.Option(help="Show the cells, which are done, the time left; run none.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="INDEX/COUNT: run only this share of the cells (0/4).")] = None,
    perf: Annotated[Optional[Path], typer.Option(help="`bench perf` file for --dry-run estimates.")] = None,
    executor: scaleout.Executor = None,
    workers: scaleout.Workers = None,
    devices: scaleout.Devices = "",
    partition: scaleout.Partition = None,
    account: scaleout.Account = None,
    qos: scaleout.Qos = None,
    time_limit: scaleout.TimeLimit = "4:00:00",
    cpus_per_task: scaleout.CpusPerTask = 8,
    mem_gb: scaleout.MemGb = None,
    array_parallelism: scaleout.ArrayParallelism = 256,
    sbatch: scaleout.Sbatch = [],  # noqa: B006
    setup: scaleout.Setup = [],  # noqa: B006
    gpus_per_cell: Annotated[int, typer.Option(help=(
        "Train each cell as N DDP ranks on N devices from --device on (on the CPU: N gloo processes); "
        "--adapt full only."), rich_help_panel="Scale-out")] = 1,
) -> None:
    """Fine-tune and evaluate every cell of a grid; finished cells, and cells another process is running, are
    skipped (exit 0; the last line counts the cells others hold: rerun to pick them up). A failed cell
    exits 1 after the grid; SIGINT or SIGTERM stops it at once, exit 130 or 143, keeping nothing of the
    cell it interrupted: rerun the same command to resume. With --executor local the cells run on one
    worker per device; with --executor slurm they are submitted as a job array (see README, "On a cluster")."""
    from bench.data.captions.sources import uses_captions
    from bench.grid import files as grids
    from bench.grid.expand import expand
    from bench.grid.plan import plan_summary, plan_table
    from bench.grid.shard import Shard
    from bench.run.inputs import with_inputs
    from bench.run.interrupt import exit_code, sigterm_interrupts
    from bench.run.ranks import cell_ranks
    from bench.run.runner import Runner, RunSettings, missing_weights
    from bench.run.store import ResultStore

    if init not in (None, "pretrained", "random"):
        raise BenchError(f"--init {init!r} is not pretrained or random", "pass --init pretrained or --init random")
    if adapt not in ADAPTS:
        raise BenchError(f"--adapt {adapt!r} is not one of {', '.join(ADAPTS)}", "pass e.g. --adapt full")
    overrides = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr}.items() if v is not None}
    checks.check_overrides(overrides)
    options = parse_pairs(option, "--option", "clip_tag=laion2b_s34b_b88k")
    weights_files = parse_pairs(weights, "--weights", "resnet18=/data/r18.safetensors")
    checks.check_folder(results, "--results")
    executor = scaleout.chosen_executor(executor, checks.given(context, scaleout.LOCAL_FLAGS + scaleout.SLURM_FLAGS))
    cluster = None if executor != "slurm" else scaleout.slurm_options(
        partition, account, qos, time_limit, 0 if device == "cpu" else gpus_per_cell, cpus_per_task, mem_gb,
        array_parallelism, sbatch, setup)
    if all_seeds and not grid:
        raise BenchError("--all-seeds only applies to --grid", "drop it, or list the seeds with --seeds")
    if grid:
        _refuse_cell_flags(context)
        loaded = grids.load(grid)
        specs = loaded.specs(profile, init, overrides, options, all_seeds)  # type: ignore[arg-type]
        if seeds_run := loaded.seeds_under(profile, all_seeds):
            console.print(f"profile {profile}: seed(s) {', '.join(map(str, seeds_run))} of each cell "
                          "(--all-seeds runs every seed the grid lists)")
    else:
        specs = expand(**_cell_flags(methods, datasets, fractions, seeds, tasks), variants=split_list(variants),
                       profile=profile, init=init, adapt=adapt, overrides=overrides,  # type: ignore[arg-type]
                       options=options)
    checks.check_weights(weights_files, specs, get_profile(profile).model_scale)
    if shard:
        specs = Shard.parse(shard).select(specs)
    first_device = checks.device(device, used=False)
    settings = RunSettings(
        results=results,
        data=DataOptions(data_dir=data_dir, path=data_path, allow_outside_paths=allow_outside_paths),
        device=first_device,  # where this process runs cells; a SLURM task resolves its own
        weights_files=weights_files,
        weights_dir=weights_dir,
        save_models=save_models,
        rank_devices=cell_ranks(first_device, gpus_per_cell, specs, executor),
        captions=captions,
    )
    if captions is not None and not any(uses_captions(spec.method, spec.tasks) for spec in specs):
        console.print("[yellow]warning:[/] --captions applies to no cell: none trains on captions or runs "
                      "text2image or image2text", soft_wrap=True)
    specs = with_inputs(specs, settings)
    store = ResultStore(results)
    plan = _plan(specs, store, settings, perf, "cuda" if cluster and cluster.gpus_per_task else None, gpus_per_cell)
    if dry_run:
        stdout.print(plan_table(plan))
        for line in plan_summary(plan):
            stdout.print(line, soft_wrap=True)
        if cluster is not None:
            scaleout.slurm_array(plan, settings, device, gpus_per_cell, cluster, dry_run=True)
        return
    if cluster is None and any(cell.state in ("failed", "to run") for cell in plan.cells):
        checks.device(device, used=True)  # a SLURM task checks its own
    if errors := missing_weights(specs, settings):
        for line in errors:
            console.print(f"[red]error:[/] {line}", soft_wrap=True)
        raise typer.Exit(2)
    if cluster is not None:
        scaleout.slurm_array(plan, settings, device, gpus_per_cell, cluster, dry_run=False)
        return
    if executor == "local":
        _run_workers(specs, settings, scaleout.local_devices(device, workers, devices, gpus_per_cell))
        return
    console.print(f"{len(specs)} runs on {settings.device}, results in {results}")
    runner = Runner(settings, store)
    try:
        with sigterm_interrupts():
            records = runner.run(specs, [cell.seconds for cell in plan.cells])
    except KeyboardInterrupt as interrupt:  # the runner has said which cell, and released its claim
        raise typer.Exit(exit_code(interrupt)) from None
    stdout.print(results_table(records))
    if held := len(runner.held_elsewhere):
        console.print(f"{held} cells skipped: being run by other processes; rerun to pick them up", soft_wrap=True)
    if any(r.status != "ok" for r in records):
        raise typer.Exit(1)


def _cell_flags(methods: str, datasets: str, fractions: str, seeds: str, tasks: str) -> dict[str, list[Any]]:
    """The comma-separated cell flags as expand()'s lists, each checked: none empty, every value valid."""
    from bench.api.limits import FRACTION, SEED

    chosen_tasks = checks.flag_list(tasks, "--tasks", "classify,retrieve", str)
    checks.known(chosen_tasks, registry.task_names(), "--tasks")
    return {
        "methods": checks.flag_list(methods, "--methods", "resnet18,vit16 (or all)", str),
        "datasets": checks.flag_list(datasets, "--datasets", "demo,demo_mnist", str),
        "fractions": checks.flag_list(fractions, "--fractions", "0.1,1.0", float, FRACTION),
        "seeds": checks.flag_list(seeds, "--seeds", "0,1,2", int, SEED),
        "tasks": chosen_tasks,
    }


CELL_FLAGS = ("methods", "datasets", "variants", "fractions", "seeds", "tasks", "adapt")


def _refuse_cell_flags(context: typer.Context) -> None:
    """With --grid the grid file lists the cells: flags that would too are refused, not silently mixed in."""
    if given := [f"--{name}" for name in checks.given(context, CELL_FLAGS)]:
        raise BenchError(
            f"{', '.join(given)} cannot be combined with --grid (the grid file lists its cells)",
            "drop them, or write your own grid file (format: `bench grids --help`) and pass --grid FILE.toml",
        )


def _run_workers(specs: list[Any], settings: Any, devices: list[Any]) -> None:
    """``--executor local``: the cells on one worker per device, then a table of all their records; exit 1
    when a cell or a worker failed, 130 or 143 when interrupted."""
    from bench.run.executors.local import run_workers
    from bench.run.interrupt import exit_code, sigterm_interrupts
    from bench.run.store import ResultStore

    try:
        with sigterm_interrupts():
            failed_workers = run_workers(specs, settings, devices)
    except KeyboardInterrupt as interrupt:
        console.print("interrupted: the workers stopped, keeping nothing of the cells they were running; rerun the "
                      "same command to resume", soft_wrap=True)
        raise typer.Exit(exit_code(interrupt)) from None
    store = ResultStore(settings.results)
    records = [record for spec in specs if (record := store.load(spec)) is not None]
    stdout.print(results_table(records))
    for log in failed_workers:
        console.print(f"[red]a worker failed[/]: its log is {log}", soft_wrap=True)
    if held := len(specs) - len(records):
        console.print(f"{held} cells not recorded: being run by other processes (`bench status` shows them); rerun "
                      "to pick them up", soft_wrap=True)
    if failed_workers or any(r.status != "ok" for r in records):
        raise typer.Exit(1)


def _plan(
    specs: list[Any], store: ResultStore, settings: Any, perf: Path | None, device: str | None, ranks: int
) -> Plan:
    """Every cell's state and estimated time, from the results so far, the timings file and the perf file,
    on ``device`` (default: this process's) with ``ranks`` DDP ranks per cell."""
    from bench.grid.estimate import DEFAULT_PERF_FILE, TIMINGS_FILE, device_type
    from bench.grid.plan import make_plan

    if perf is not None and not perf.is_file():
        raise BenchError(f"perf file {perf} does not exist", "write it with `bench perf`, or leave out --perf")
    perf = perf or DEFAULT_PERF_FILE
    return make_plan(specs, store, settings.data, device_type(device or str(settings.device), ranks), perf,
                     perf.with_name(TIMINGS_FILE))


def results_table(records: list[RunRecord]) -> Table:
    """This call's runs, with the headline metrics of every task they evaluated (as the tasks declare them)."""
    tasks = [registry.task(name) for name in dict.fromkeys(task for r in records for task in r.spec.tasks)]
    columns = [(task.name, metric) for task in tasks for metric in task.metrics]
    headers = ["method", "dataset", "variant", "fraction", "seed", "status",
               *(metric.title for _, metric in columns), "img/s", "seconds"]
    rows = []
    for r in records:
        spec = r.spec
        values = [r.metrics.get(task, {}).get(metric.name) for task, metric in columns]
        rows.append([spec.method, spec.dataset, spec.variant, f"{spec.fraction:g}", str(spec.seed), r.status,
                     *("" if value is None else f"{value:.4f}" for value in values),
                     f"{r.train_images_per_s or 0:.0f}", f"{r.wall_seconds or 0:.0f}"])
    return table("This run", headers, rows)
