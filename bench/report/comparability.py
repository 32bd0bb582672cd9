"""The comparability card above each paper table: per aspect of a protocol, the paper's setting with its
source, ours as our records show it, and whether they match; and which aspects a table line differs in.

The paper's side comes from the reference file (``[protocols]``, ``[data]``, ``[metrics]`` in
bench/report/reference/galaxalign.toml); ours is read from the run records, never from what the code
would do by default, so the card describes the runs the table shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from bench.api import registry
from bench.api.method import ADAPT_TITLES
from bench.api.profiles import PROFILES
from bench.report.reference import PaperAspect, Protocol, Reference
from bench.report.tables import markdown_table
from bench.run.record import RunRecord

Per = Literal["run", "method", "dataset"]  # what a per-key setting of the reference file is keyed by
MATCH, DIFFERS, UNSTATED, UNRECORDED = "✓", "✗ differs", "— (not stated)", "— (not recorded)"
NOT_RECORDED = "not recorded"  # what ours reads when a record lacks the field (hand-written or old records)
SCHEDULES = {"linear": "linear decay, no warm-up", "constant": "constant"}
LOSSES = {"matching_pair": "matching-pair contrastive", "multi_positive": "multi-positive contrastive"}


def _config(record: RunRecord) -> dict[str, object]:
    return record.config or {}


def _setting_of(record: RunRecord, name: str) -> object:
    """A FinetuneConfig field of the run, or NOT_RECORDED."""
    return _config(record).get(name, NOT_RECORDED)


def _details(record: RunRecord) -> dict[str, object]:
    details = (record.fit or {}).get("details")
    return details if isinstance(details, dict) else {}


def weights_of(record: RunRecord) -> str:
    weights = record.weights
    if weights is None:
        return NOT_RECORDED
    return (weights.identifier or "pretrained") if weights.init == "pretrained" else "random init"


def input_size_of(record: RunRecord) -> str:
    """The profile's input side; every bench method normalises with its weights' mean and std."""
    profile = PROFILES.get(record.spec.profile)
    return f"{profile.image_size} px, normalised" if profile else NOT_RECORDED


def resolution_of(record: RunRecord) -> str:
    size = record.ok_data.image_size
    return f"{size} px" if size else NOT_RECORDED


def batch_of(record: RunRecord) -> str:
    return str(_setting_of(record, "batch_size"))


def lr_schedule_of(record: RunRecord) -> str:
    config = _config(record)
    if "lr" not in config:
        return NOT_RECORDED
    schedule = str(config.get("schedule", "warmup_cosine"))  # records before FinetuneConfig.schedule
    steps = config.get("warmup_steps")
    warmup = f"{steps:,}-step" if steps is not None else f"{config.get('warmup_epochs', 1.0):g}-epoch"
    shape = SCHEDULES.get(schedule, f"{warmup} warm-up + {'constant' if schedule == 'warmup_constant' else 'cosine'}")
    return f"lr {config['lr']:g}, wd {config.get('weight_decay', 0.0):g}, {shape}"


def epochs_of(record: RunRecord) -> str:
    config, details = _config(record), _details(record)
    if "epochs" not in config:
        return NOT_RECORDED
    epochs, patience = config["epochs"], config.get("patience")
    text = f"{epochs} epochs, last kept" if patience is None else f"≤ {epochs} epochs, early stop (patience {patience})"
    stage1 = details.get("stage1_epochs")
    return f"stage 1: {stage1} epochs; {text}" if stage1 else text


def loss_of(record: RunRecord) -> str:
    loss = _details(record).get("loss")
    if loss is not None:
        return LOSSES.get(str(loss), str(loss))
    smoothing = _config(record).get("label_smoothing") or 0.0
    return "cross-entropy" + (f", label smoothing {smoothing:g}" if smoothing else "")


@dataclass(frozen=True)
class Aspect:
    """One thing two protocols can differ in, and how to read ours from a record."""

    name: str  # the key in the reference file
    title: str
    ours: Callable[[RunRecord], str]
    per: Per = "run"


PROTOCOL_ASPECTS = (
    Aspect("weights", "Weights", weights_of, "method"),
    Aspect("adaptation", "Adaptation", lambda record: ADAPT_TITLES.get(record.spec.adapt, record.spec.adapt)),
    Aspect("input_size", "Input size", input_size_of),
    Aspect("batch", "Batch", batch_of),
    Aspect("lr_schedule", "Learning rate and schedule", lr_schedule_of),
    Aspect("epochs_stopping", "Epochs and stopping", epochs_of),
    Aspect("loss", "Loss", loss_of),
)
DATA_ASPECTS = (
    Aspect("data_resolution", "Data resolution", resolution_of, "dataset"),
    Aspect("split", "Split and test set", lambda record: f"{record.ok_data.test} test images", "dataset"),
)


@dataclass(frozen=True)
class PlacedRun:
    """A record and the paper dataset its dataset stands for."""

    record: RunRecord
    paper_dataset: str

    def key(self, per: Per) -> str:
        return self.record.spec.method if per == "method" else self.paper_dataset


def verdict(aspect: Aspect, paper: PaperAspect, runs: Iterable[PlacedRun]) -> str:
    """✓ when every run shows the setting the paper states exactly, ✗ when one does not, — when the
    paper does not state it exactly."""
    expected = [(paper.expect_for(run.key(aspect.per)), aspect.ours(run.record)) for run in runs]
    stated = [(expect, ours) for expect, ours in expected if expect is not None]
    if not stated:
        return UNSTATED
    recorded = [(expect, ours) for expect, ours in stated if ours != NOT_RECORDED]
    if not recorded:
        return UNRECORDED
    return MATCH if all(expect == ours for expect, ours in recorded) else DIFFERS


def differences(protocol: Protocol, runs: list[PlacedRun], reference: Reference) -> list[str]:
    """The aspects, stated exactly by the paper, in which ``runs`` differ from its protocol."""
    checks = [(a, protocol.aspects.get(a.name)) for a in PROTOCOL_ASPECTS]
    checks += [(a, reference.data_aspects.get(a.name)) for a in DATA_ASPECTS]
    return [aspect.title for aspect, paper in checks if paper is not None and verdict(aspect, paper, runs) == DIFFERS]


def _setting(paper: PaperAspect, keys: list[str]) -> str:
    if isinstance(paper.paper, str):
        return paper.paper
    return "; ".join(f"{key}: {paper.paper_for(key) or 'not stated'}" for key in keys)


def _ours(aspect: Aspect, runs: list[PlacedRun], keys: list[str]) -> str:
    if aspect.per == "run":
        return "; ".join(sorted({aspect.ours(run.record) for run in runs}))
    by_key = {key: sorted({aspect.ours(run.record) for run in runs if run.key(aspect.per) == key}) for key in keys}
    return "; ".join(f"{key}: {', '.join(values) or 'no runs'}" for key, values in by_key.items())


def _row(aspect: Aspect, paper: PaperAspect, runs: list[PlacedRun], keys: list[str]) -> list[str]:
    """One aspect's line; ``keys`` are the methods or datasets a per-method or per-dataset aspect lists."""
    return [aspect.title, _setting(paper, keys), paper.source, _ours(aspect, runs, keys), verdict(aspect, paper, runs)]


def metric_convention(task: str, paper: PaperAspect | None) -> list[str]:
    """The card's line on the metrics: the paper's words, and our definitions (bench/eval/tasks)."""
    ours = "; ".join(f"{metric.title}: {metric.definition}"
                     for metric in registry.task(task).metrics)
    words = (paper.paper_for(task) or "") if paper else "not stated"
    return ["Metric convention", words, paper.source if paper else "—", ours, UNSTATED]


HEADERS = ["Aspect", "Paper", "Paper's source", "Ours (from the records)", "Match"]


def card(
    protocols: list[Protocol], runs: dict[str, list[PlacedRun]], task: str, datasets: list[str], reference: Reference
) -> list[str]:
    """Markdown lines of the comparability card: the data and metric aspects over ``datasets`` (the table's
    paper datasets), then one table per protocol with runs (``runs`` maps a protocol key to the records of
    the lines the paper's numbers sit beside); a protocol without runs gets one line."""
    every = [run for protocol in protocols for run in runs.get(protocol.key, [])]
    shared = [_row(aspect, paper, every, datasets)
              for aspect in DATA_ASPECTS if (paper := reference.data_aspects.get(aspect.name))]
    shared.append(metric_convention(task, reference.metric_aspects.get(task)))
    lines = ["**Comparability card**, generated from the reference file's protocols and our records: each "
             "aspect's setting in the paper with its source, ours, and whether they match (✗: our runs differ "
             "from what the source states exactly).", "",
             f"*Data and metrics* (paper: {reference.version})", "", markdown_table(HEADERS, shared)]
    for protocol in protocols:
        adapt = ADAPT_TITLES.get(protocol.adapt, protocol.adapt)
        lines += ["", f"*{protocol.title}* ({', '.join(protocol.methods)}): the paper's numbers sit beside our "
                      f"**{adapt}** runs, because {protocol.reason}."]
        if not (own := runs.get(protocol.key, [])):
            lines += ["", "No runs of ours under this protocol here."]
            continue
        methods = list(dict.fromkeys(run.record.spec.method for run in own))
        rows = [_row(aspect, paper, own, methods)
                for aspect in PROTOCOL_ASPECTS if (paper := protocol.aspects.get(aspect.name))]
        lines += ["", markdown_table(HEADERS, rows)]
    return lines
