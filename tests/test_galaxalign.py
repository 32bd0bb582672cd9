"""GalaxAlign: text and symbols, the losses, the recipe, the stages and variants, weight loading,
save/load and search, end to end through the runner. Tiny open_clip towers on the CPU, offline."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from huggingface_hub import constants
from open_clip.loss import ClipLoss
from PIL import Image
from safetensors.torch import save_file

from bench.api import registry
from bench.api.data import DataOptions, DatasetSplits
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.data import demo, galaxy10, galaxy_mnist
from bench.data.captions import classes
from bench.eval.search import search, text_search
from bench.run.runner import Runner, RunSettings, finetune_config
from bench.train.loop import TrainsObjectives
from methods.clip.loss import MAX_LOGIT_SCALE, Contrastive, matching_pair_contrastive
from methods.galaxalign import prompts, symbols
from methods.galaxalign.loss import multi_positive_contrastive
from methods.galaxalign.model import TriModalCLIP
from methods.galaxalign.plugin import GalaxAlign, GalaxAlignConvNeXt, GalaxAlignViT16
from methods.galaxalign.stages import Modalities, stage_call
from methods.galaxalign.symbols import SYMBOL_KINDS, SymbolBank, render_symbols, write_contact_sheet
from methods.galaxalign.variants import IMAGE_SYMBOL, IMAGE_TEXT, STAGE2, SYMBOL_TEXT, VARIANTS

CPU = torch.device("cpu")
DATASET_CLASSES = {
    "demo": demo.CLASS_NAMES,
    "galaxy10_decals": galaxy10.CLASS_NAMES,
    "galaxy_mnist": galaxy_mnist.CLASS_NAMES,
}


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    return registry.load_dataset("demo:4", DataOptions())


def tiny_cfg(epochs: int = 1, **fields: object) -> FinetuneConfig:
    base = GalaxAlignViT16().default_config(PROFILES["demo"])
    return FinetuneConfig(**{**base.to_dict(), "epochs": epochs, "patience": 5, **fields})  # type: ignore[arg-type]


def build(
    cls: type[GalaxAlign] = GalaxAlignViT16, variant: str = "full", profile: str = "demo", init: str = "random",
    class_names: tuple[str, ...] = demo.CLASS_NAMES, **options: str,
) -> GalaxAlign:
    method = cls()
    if profile == "demo":
        options.setdefault("stage1_epochs", "1")
    method.build(BuildContext(class_names, PROFILES[profile], init, CPU, variant=variant, options=options))  # type: ignore[arg-type]
    return method


def snapshot(model: TriModalCLIP) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed_encoders(model: TriModalCLIP, before: dict[str, torch.Tensor]) -> set[str]:
    """The encoders with at least one parameter different from ``before``."""
    return {model.encoder_of(n) for n, p in model.named_parameters() if n in before and not torch.equal(p, before[n])}


# --- text ----------------------------------------------------------------------------------


def test_prompts_follow_the_paper_and_choose_a_or_an() -> None:
    assert prompts.class_prompts(["unbarred_spiral", "smooth_cigar"]) == [
        "A picture of an unbarred-spiral galaxy",
        "A picture of a cigar round smooth galaxy",
    ]
    assert prompts.class_prompts(["In-between Round Smooth", "Edge-on with Bulge", "Merging"]) == [
        "A picture of an in-between round smooth galaxy",
        "A picture of an edge-on galaxy with bulge",
        "A picture of a merging galaxy",
    ]
    cases = {"unbarred galaxy": "an", "uniform blob": "a", "hour-glass shape": "an", "one-armed spiral": "a",
             "elliptical": "an", "barred spiral": "a", "ring galaxy": "a", "irregular galaxy": "an"}
    assert {phrase: classes.article(phrase) for phrase in cases} == cases
    assert prompts.prompt("an odd galaxy") == "A picture of an odd galaxy"  # an article given is kept


@pytest.mark.parametrize("dataset", sorted(DATASET_CLASSES))
def test_every_known_dataset_has_a_distinct_prompt_and_symbol_per_class(dataset: str) -> None:
    names = DATASET_CLASSES[dataset]
    texts = prompts.class_prompts(names)
    assert len(set(texts)) == len(names) and all(t.startswith("A picture of a") for t in texts)
    kinds = [symbols.symbol_kind(name) for name in names]
    assert all(kind in SYMBOL_KINDS for kind in kinds) and len(set(kinds)) == len(names)


def test_prompt_override_file_and_missing_class(tmp_path: Path) -> None:
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({"Round Smooth": "elliptical galaxy", "ring": "ring galaxy"}))
    assert prompts.class_prompts(["Round Smooth", "Ring", "Merging"], path) == [
        "A picture of an elliptical galaxy", "A picture of a ring galaxy", "A picture of a merging galaxy",
    ]
    with pytest.raises(BenchError) as error:
        prompts.class_prompts(["Round Smooth", "Polar Ring"])
    assert "'Polar Ring'" in str(error.value) and "--option prompts=PATH" in str(error.value)
    path.write_text("[1, 2]")
    with pytest.raises(BenchError, match="not an object"):
        prompts.class_prompts(["Round Smooth"], path)
    with pytest.raises(BenchError, match="no text description for class 'Polar Ring'"):
        build(class_names=("Round Smooth", "Polar Ring"))  # fails at build, before any training


# --- symbols -------------------------------------------------------------------------------


def test_symbols_are_deterministic_per_seed_and_differ_between_samples() -> None:
    first = render_symbols("barred_spiral", 4, 64, seed=3)
    assert first.dtype == np.uint8 and first.shape == (4, 64, 64, 3)
    assert np.array_equal(first, render_symbols("barred_spiral", 4, 64, seed=3))
    assert not np.array_equal(first, render_symbols("barred_spiral", 4, 64, seed=4))
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(first[i].astype(int) - first[j].astype(int)).mean() > 2
    assert render_symbols("smooth_round", 1, 224).shape == (1, 224, 224, 3)


def _axis_ratio_and_area(image: np.ndarray) -> tuple[float, float]:
    """Minor/major axis ratio of the light's second moments, and the lit fraction of the image."""
    light = image[..., 0].astype(float)
    y, x = np.mgrid[0 : light.shape[0], 0 : light.shape[1]]
    total = light.sum()
    mx, my = (light * x).sum() / total, (light * y).sum() / total
    cov = np.cov(np.stack([x.ravel() - mx, y.ravel() - my]), aweights=light.ravel())
    small, large = np.linalg.eigvalsh(cov)
    return math.sqrt(small / large), float((light > 100).mean())


def test_symbols_look_like_their_classes() -> None:
    """White on black, and the smooth and edge-on kinds get flatter in the order the guide draws them."""
    ratios = {}
    for kind in SYMBOL_KINDS:
        batch = render_symbols(kind, 6, 96, seed=0)
        corners = batch[:, :4, :4].astype(int)
        assert corners.max() < 20 and batch.max() > 200, kind  # a bright drawing on a black background
        assert np.array_equal(batch[..., 0], batch[..., 2])  # grey
        ratios[kind] = float(np.median([_axis_ratio_and_area(image)[0] for image in batch]))
    assert ratios["smooth_round"] > 0.85
    assert ratios["smooth_round"] > ratios["smooth_in_between"] > ratios["smooth_cigar"] > ratios["edge_on_no_bulge"]
    assert ratios["edge_on_no_bulge"] < 0.15 < ratios["edge_on_bulge"]
    assert ratios["tight_spiral"] > 0.6  # two arms wound round: no preferred axis


def test_symbol_bank_contact_sheet_and_overrides(tmp_path: Path) -> None:
    bank = SymbolBank.render(("Merging", "smooth_round"), 32, 5, seed=1)
    assert bank.images.shape == (2, 5, 32, 32, 3) and bank.kinds == ("merging", "smooth_round")
    drawn = bank.sample(torch.tensor([1, 1, 0]), torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 32, 32, 3)
    assert any(np.array_equal(drawn[2], bank.images[0, k]) for k in range(5))
    sheet = write_contact_sheet(demo.CLASS_NAMES, tmp_path / "sheet.png", per_class=3, size=48)
    assert Image.open(sheet).size[1] == 10 * (48 + 4) + 4
    overrides = tmp_path / "symbols.json"
    overrides.write_text(json.dumps({"Polar Ring": "smooth_round"}))
    assert symbols.symbol_kind("polar_ring", symbols.read_overrides(overrides)) == "smooth_round"
    with pytest.raises(BenchError, match="no schematic symbol for class 'Polar Ring'"):
        symbols.symbol_kind("Polar Ring")
    overrides.write_text(json.dumps({"Polar Ring": "donut"}))
    with pytest.raises(BenchError, match="symbol kind that does not exist"):
        symbols.read_overrides(overrides)
    overrides.write_bytes('{"Polar Ring": "smooth_round", "x": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(BenchError, match=r"is not UTF-8 text \(byte \d+\)\. Fix: save it as UTF-8"):
        symbols.read_overrides(overrides)


# --- the loss ------------------------------------------------------------------------------


def brute_force_loss(a: torch.Tensor, b: torch.Tensor, labels: list[int], scale: float) -> float:
    """The multi-positive loss with plain loops: every same-class pair is a positive."""
    n = len(labels)
    sim = [[scale * float(a[i] @ b[j]) for j in range(n)] for i in range(n)]

    def direction(s: list[list[float]]) -> float:
        total = 0.0
        for i in range(n):
            log_norm = math.log(sum(math.exp(s[i][k]) for k in range(n)))
            positives = [j for j in range(n) if labels[j] == labels[i]]
            total += -sum(s[i][j] - log_norm for j in positives) / len(positives)
        return total / n

    transposed = [[sim[j][i] for j in range(n)] for i in range(n)]
    return 0.5 * (direction(sim) + direction(transposed))


@pytest.mark.parametrize("labels", [[0, 0, 1, 2, 2, 2], [3, 1, 3, 1], [0, 1, 2, 3, 4]])
def test_multi_positive_loss_matches_brute_force(labels: list[int]) -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(len(labels), 8, generator=generator), dim=1)
    b = torch.nn.functional.normalize(torch.randn(len(labels), 8, generator=generator), dim=1)
    log_scale = torch.tensor(math.log(10.0))
    got = float(multi_positive_contrastive(a, b, torch.tensor(labels), log_scale))
    assert got == pytest.approx(brute_force_loss(a, b, labels, 10.0), rel=1e-5)
    clip = float(ClipLoss()(a, b, log_scale.exp()))
    if len(set(labels)) == len(labels):
        assert got == pytest.approx(clip, rel=1e-5)  # all classes distinct: exactly CLIP's loss
    else:
        assert got != pytest.approx(clip, rel=1e-3)  # CLIP would count same-class pairs as negatives


@pytest.mark.parametrize(("n", "scale"), [(1, 1.0), (6, 14.3), (33, 100.0)])
def test_matching_pair_loss_equals_open_clip_clip_loss(n: int, scale: float) -> None:
    """Value and gradients (the embeddings' and the log temperature's) equal open_clip's ClipLoss,
    whatever the labels: same-class items in other rows stay negatives."""
    generator = torch.Generator().manual_seed(n)
    a = torch.nn.functional.normalize(torch.randn(n, 16, generator=generator), dim=1).requires_grad_()
    b = torch.nn.functional.normalize(torch.randn(n, 16, generator=generator), dim=1).requires_grad_()
    log_scale = torch.tensor(math.log(scale), requires_grad=True)
    labels = torch.zeros(n, dtype=torch.long)  # one class: the case where the two losses differ most
    ours = matching_pair_contrastive(a, b, labels, log_scale)
    grads = torch.autograd.grad(ours, (a, b, log_scale))
    reference = ClipLoss()
    theirs = reference(a, b, log_scale.exp())
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-5)
    for got, expected in zip(grads, torch.autograd.grad(theirs, (a, b, log_scale)), strict=True):
        assert torch.allclose(got, expected, atol=1e-6)
    per_image, per_text = reference.get_logits(a, b, log_scale.exp())
    halves = [float(torch.nn.functional.cross_entropy(logits, torch.arange(n)).detach())
              for logits in (per_image, per_text)]
    if n > 1:  # a loss of one direction only would fail above: the halves differ
        assert halves[0] != pytest.approx(halves[1], rel=1e-3)
    assert float(ours.detach()) == pytest.approx(sum(halves) / 2, rel=1e-5)
    swapped = matching_pair_contrastive(b, a, labels, log_scale)
    assert float(swapped.detach()) == pytest.approx(float(ours.detach()), rel=1e-5)


def test_the_two_losses_agree_where_one_side_repeats_per_class() -> None:
    """One prompt per class: every same-class text is the same embedding, so counting them all as
    positives changes nothing; distinct same-class items (symbols) are where the losses part."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    a = torch.nn.functional.normalize(torch.randn(6, 8, generator=generator), dim=1)
    per_class = torch.nn.functional.normalize(torch.randn(3, 8, generator=generator), dim=1)
    log_scale = torch.tensor(math.log(20.0))
    for b, same in ((per_class[labels], True), (per_class[labels] + 0.3 * a, False)):
        b = torch.nn.functional.normalize(b, dim=1)
        pair, multi = (float(loss(a, b, labels, log_scale)) for loss in (matching_pair_contrastive,
                                                                        multi_positive_contrastive))
        assert (pair == pytest.approx(multi, rel=1e-5)) is same


@pytest.mark.parametrize(("option", "chosen", "other"), [
    (None, matching_pair_contrastive, multi_positive_contrastive),
    ("multi_positive", multi_positive_contrastive, matching_pair_contrastive),
])
def test_the_loss_option_sets_every_stage_term_and_is_recorded(
    option: str | None, chosen: Contrastive, other: Contrastive, splits: DatasetSplits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    method = build(variant="full", **({"loss": option} if option else {}))
    assert method.details["loss"] == (option or "matching_pair")
    [_, stage2] = method.objectives(splits.train, None, tiny_cfg())
    encoded: list[torch.Tensor] = []
    encode_symbol = method.model.encode_symbol
    monkeypatch.setattr(method.model, "encode_symbol", lambda x: encoded.append(encode_symbol(x)) or encoded[-1])
    labels = torch.tensor([0, 0, 1, 1, 1, 2])  # shared classes: the two losses can differ
    images = method.prep(splits.train.read(np.arange(len(labels))), CPU)
    method.model.eval()
    with torch.no_grad():
        method.model.clip.logit_scale.fill_(MAX_LOGIT_SCALE)  # near-random embeddings: sharpen the contrast
        terms = stage2.objective.loss(images, labels)
        image = method.model.encode_image(images)
        text = method.model.encode_text(method._tokens(method.prompts))[labels]
        [symbol] = encoded
        scale = method.model.logit_scale
        pairs = {IMAGE_TEXT: (image, text), SYMBOL_TEXT: (symbol, text), IMAGE_SYMBOL: (image, symbol)}
        for pair, (a, b) in pairs.items():
            assert float(terms[pair]) == pytest.approx(float(chosen(a, b, labels, scale)), rel=1e-5)
        # the option changes the image-symbol term; the text terms are the same under both (see above)
        assert float(terms[IMAGE_SYMBOL]) != pytest.approx(float(other(image, symbol, labels, scale)), rel=1e-4)


# --- the recipe ----------------------------------------------------------------------------


def test_the_paper_profile_batches_512_the_demo_its_profiles_64_and_both_can_be_lowered() -> None:
    method = GalaxAlignViT16()  # not built: the recipe needs no model
    assert method.default_config(PROFILES["paper"]).batch_size == 512
    assert method.default_config(PROFILES["demo"]).batch_size == PROFILES["demo"].batch_size == 64
    assert method.default_config(PROFILES["paper"]).epochs == PROFILES["paper"].epochs
    for profile in ("paper", "demo"):
        spec = RunSpec("galaxalign-vit16", "demo", profile=profile, overrides=(("batch_size", 32),))
        assert finetune_config(method, spec, train_size=100).batch_size == 32


def test_running_out_of_memory_names_the_batch_size_to_lower(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(model: TriModalCLIP, images: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(TriModalCLIP, "encode_image", out_of_memory)
    spec = RunSpec("galaxalign-vit16", "demo:20", variant="full", overrides=(("batch_size", 48),))
    [record] = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec])]
    assert record["status"] == "failed"
    error = record["error"]
    assert "\n" not in error and error.startswith("galaxalign-vit16 full stage 1 ran out of memory at batch size 48")
    assert "Fix: pass a --batch-size N below 48" in error and "512 was global" in error
    assert "OutOfMemoryError" in record["traceback"]  # the cause is kept for whoever debugs it


# --- stages and variants -------------------------------------------------------------------


@pytest.mark.slow
def test_stage2_symbol_encoder_starts_as_the_stage1_image_encoder_then_diverges(
    splits: DatasetSplits, monkeypatch: pytest.MonkeyPatch
) -> None:
    method = build(variant="full")
    at_split: dict[str, dict[str, torch.Tensor]] = {}
    original = TriModalCLIP.split_symbol_encoder

    def recording_split(model: TriModalCLIP) -> None:
        original(model)
        assert model.symbol_visual is not None
        at_split["image"] = {k: v.clone() for k, v in model.clip.visual.state_dict().items()}
        at_split["symbol"] = {k: v.clone() for k, v in model.symbol_visual.state_dict().items()}

    monkeypatch.setattr(TriModalCLIP, "split_symbol_encoder", recording_split)
    before_stage1 = {k: v.clone() for k, v in method.model.clip.visual.state_dict().items()}
    method.finetune(splits.train, splits.val, tiny_cfg(epochs=2))
    image, symbol = at_split["image"], at_split["symbol"]
    assert image.keys() == symbol.keys()
    assert all(torch.equal(image[k], symbol[k]) for k in image)  # a parameter-wise copy...
    assert any(not torch.equal(image[k], before_stage1[k]) for k in image)  # ...of the *trained* stage-1 encoder
    assert method.model.symbol_visual is not None
    now = method.model.symbol_visual.state_dict()
    assert any(not torch.equal(now[k], symbol[k]) for k in symbol)  # trained in stage 2
    image_now = method.model.clip.visual.state_dict()
    assert any(not torch.equal(now[k], image_now[k]) for k in now)  # and no longer the image encoder
    assert method.model.symbol_visual.conv1.weight.data_ptr() != method.model.clip.visual.conv1.weight.data_ptr()


EXPECTED = {  # variant: (encoders updated, has a symbol encoder, loss terms, stages)
    "clip": ({"image", "text"}, False, {"image_text"}, [1.0]),
    "v1": ({"image", "text"}, False, {"image_text", "symbol_text"}, [1.0]),
    "v3": ({"image", "text"}, False, {"image_text", "symbol_text"}, [1.0]),
    "v2": ({"image", "text", "symbol"}, True, {"image_text", "symbol_text", "image_symbol"}, [2.0]),
    "full": ({"image", "text", "symbol"}, True, {"image_text", "symbol_text", "image_symbol"}, [1.0, 2.0]),
    "zeroshot": (set(), False, set(), []),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_variant_trains_only_its_parts(
    variant: str, splits: DatasetSplits, monkeypatch: pytest.MonkeyPatch
) -> None:
    updated, separate, terms, stages = EXPECTED[variant]
    method = build(variant=variant)
    start = snapshot(method.model)
    original = TriModalCLIP.split_symbol_encoder

    def split(model: TriModalCLIP) -> None:  # the symbol encoder's start is its copy at the split
        assert separate, f"{variant} must never create a symbol encoder"
        original(model)
        start.update({n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("symbol_visual.")})

    monkeypatch.setattr(TriModalCLIP, "split_symbol_encoder", split)
    report = method.finetune(splits.train, splits.val, tiny_cfg(epochs=1))
    assert method.model.has_symbol_encoder is separate
    assert changed_encoders(method.model, start) - {"temperature"} == updated
    history = report.history
    assert sorted({h["stage"] for h in history}) == stages
    assert {k for h in history for k in h if k in ("image_text", "symbol_text", "image_symbol")} == terms
    if variant == "zeroshot":
        assert report.train_images == 0 and report.best_val_score is not None
    if variant == "v1":  # a fixed warm-up: no early stopping, no validation per epoch
        assert all("val_score" not in h for h in history)
    if variant in ("v3", "clip"):
        assert all("val_score" in h for h in history)
    details = report.details  # type: ignore[attr-defined]
    rule = details["prediction_rule"]
    assert rule in (("text", "text+symbols") if terms - {"image_text"} else ("text",))
    if variant in ("v1", "zeroshot"):  # nothing stopped early: the score is the final model's
        assert report.best_val_score == details["val_macro_f1_by_rule"][rule]


@pytest.mark.slow
def test_full_runs_its_fixed_warmup_then_stage2_and_records_the_rule(splits: DatasetSplits) -> None:
    method = build(variant="full", stage1_epochs="2")
    report = method.finetune(splits.train, splits.val, tiny_cfg(epochs=2))
    assert [h["stage"] for h in report.history] == [1.0, 1.0, 2.0, 2.0]
    stage2 = [h for h in report.history if h["stage"] == 2.0]
    assert all("val_macro_f1[text]" in h and "val_macro_f1[text+symbols]" in h for h in stage2)
    details = report.details  # type: ignore[attr-defined]
    chosen = details["val_macro_f1_by_rule"]
    assert details["prediction_rule"] == max(chosen, key=lambda r: (chosen[r], r == "text"))
    assert report.best_val_score == pytest.approx(max(chosen.values()))
    assert details["stage1_epochs"] == 2 and [s["epochs_run"] for s in details["stages"]] == [2, 2]
    assert details["loss"] == "matching_pair" and details["batch_size"] == tiny_cfg().batch_size == 64
    scores = method.predict(splits.test)
    assert scores.shape == (len(splits.test), 10) and torch.isfinite(scores).all()
    embedded = method.embed(splits.test)
    assert torch.allclose(embedded.norm(dim=1), torch.ones(len(splits.test)), atol=1e-5)


@pytest.mark.slow
def test_the_prediction_rule_is_chosen_on_validation(splits: DatasetSplits, monkeypatch: pytest.MonkeyPatch) -> None:
    method = build(variant="v1")
    method.finetune(splits.train, splits.val, tiny_cfg(epochs=1))
    assert method.bank is not None and method.prototypes is not None
    flat, classes = method.bank.flat()
    with torch.no_grad():
        symbol = method.model.encode_symbol(method.prep(flat, CPU))
    prototypes = torch.stack([symbol[torch.as_tensor(classes) == c].mean(0) for c in range(10)])
    prototypes = torch.nn.functional.normalize(prototypes, dim=1)
    assert torch.allclose(method.prototypes, prototypes, atol=1e-5)
    image = method.embed(splits.test)
    text = method.embed_text(method.prompts)
    scale = float(method.model.logit_scale.detach().exp())

    monkeypatch.setattr(method, "_rule_f1", lambda val: {"text": 0.2, "text+symbols": 0.6})
    method._choose_rule(splits.val)
    assert method.rule == "text+symbols"
    expected = 0.5 * (image @ text.T + image @ prototypes.T) * scale
    assert torch.allclose(method.predict(splits.test), expected, atol=1e-4)
    monkeypatch.setattr(method, "_rule_f1", lambda val: {"text": 0.6, "text+symbols": 0.6})
    method._choose_rule(splits.val)
    assert method.rule == "text"  # ties go to the paper's rule
    assert torch.allclose(method.predict(splits.test), image @ text.T * scale, atol=1e-4)


@pytest.mark.slow
def test_without_validation_training_runs_its_epochs_and_predicts_by_text(splits: DatasetSplits) -> None:
    method = build(variant="v3")
    report = method.finetune(splits.train, None, tiny_cfg(epochs=2))
    assert report.epochs_run == 2 and report.best_val_score is None
    assert method.rule == "text" and method.prototypes is not None and method.prototypes.shape == (10, 64)


@pytest.mark.slow
def test_the_temperature_is_clamped_as_in_clip(splits: DatasetSplits) -> None:
    method = build(variant="v2")
    with torch.no_grad():
        method.model.clip.logit_scale.fill_(8.0)  # a scale of e^8, above CLIP's cap of 100
    bank = SymbolBank.render(demo.CLASS_NAMES, 64, 2)
    modalities = Modalities(method._tokens(method.prompts), bank, method.prep, CPU)
    report = stage_call(method.model, STAGE2, modalities, splits.train, tiny_cfg(epochs=1), 1, None, "test",
                        contrastive=matching_pair_contrastive).run()
    assert float(method.model.logit_scale.detach()) <= MAX_LOGIT_SCALE + 1e-6
    assert report.history[0]["logit_scale"] > 100  # the first step ran at the unclamped scale


def test_objectives_hand_over_every_stage_without_training(splits: DatasetSplits) -> None:
    method = build(variant="full")
    assert isinstance(method, TrainsObjectives)
    before = {k: v.clone() for k, v in method.model.state_dict().items()}
    calls = list(method.objectives(splits.train, None, tiny_cfg(epochs=3)))
    assert [(call.stage.number, call.cfg.epochs) for call in calls] == [(1, 1), (2, 3)]  # stage 1: its warm-up
    assert method.model.has_symbol_encoder  # taking stage 2 made its symbol encoder
    assert all(torch.equal(before[k], v) for k, v in method.model.state_dict().items() if k in before)
    with pytest.raises(BenchError, match="--adapt linear is not supported"):
        list(method.objectives(splits.train, None, tiny_cfg(adapt="linear")))


@pytest.mark.slow
def test_scratch_is_random_init_whatever_the_run_init(tmp_path: Path) -> None:
    """Scratch builds without pretrained weights even where the run asks for them (and none exist)."""
    for profile in ("demo", "paper"):
        method = GalaxAlignViT16()
        ctx = BuildContext(demo.CLASS_NAMES, PROFILES[profile], "pretrained", CPU, variant="scratch")
        assert method.build(ctx).init == "random"
        assert method.details["clip_tag"] is None
    with pytest.raises(BenchError, match="no published pretrained weights"):
        GalaxAlignViT16().build(BuildContext(demo.CLASS_NAMES, PROFILES["demo"], "pretrained", CPU, variant="full"))


def test_options_are_checked() -> None:
    with pytest.raises(BenchError, match=r"no option\(s\) \['clip_tga'\]"):
        build(clip_tga="openai")
    with pytest.raises(BenchError, match="applies to the paper profile"):
        build(clip_tag="openai")
    with pytest.raises(BenchError, match="stage1_epochs=0 is not a positive"):
        build(stage1_epochs="0")
    with pytest.raises(BenchError, match=r"no loss 'clip'.*one of: matching_pair, multi_positive$"):
        build(loss="clip")
    with pytest.raises(BenchError, match="no pretrained tag 'nope'"):
        GalaxAlignViT16().build(BuildContext(demo.CLASS_NAMES, PROFILES["paper"], "pretrained", CPU,
                                             variant="full", options={"clip_tag": "nope"}))
    assert GalaxAlignViT16.variants == VARIANTS and VARIANTS[0] == "full"


# --- pretrained weights, offline -----------------------------------------------------------

HUB = {  # method: (open_clip model, default tag, Hub repo, the file that repo holds)
    GalaxAlignViT16: ("ViT-B-16", "laion2b_s34b_b88k", "laion/CLIP-ViT-B-16-laion2B-s34B-b88K",
                      "open_clip_model.safetensors"),
    GalaxAlignConvNeXt: ("convnext_base", "laion400m_s13b_b51k", "laion/CLIP-convnext_base-laion400M-s13B-b51K",
                         "open_clip_pytorch_model.bin"),
}


@pytest.fixture
def hub_cache() -> Iterator[Path]:
    root = Path(constants.HF_HUB_CACHE)
    yield root
    for repo in root.glob("models--laion--CLIP-*"):
        shutil.rmtree(repo)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [GalaxAlignViT16, GalaxAlignConvNeXt], ids=["vit16", "convnext"])
def test_full_size_clip_loads_from_an_explicit_file_and_the_hub_cache(
    cls: type[GalaxAlign], tmp_path: Path, hub_cache: Path
) -> None:
    """A random state_dict in open_clip's checkpoint layout, loaded offline through open_clip."""
    model_name, tag, repo, filename = HUB[cls]
    spec = cls().weights_spec(PROFILES["paper"])
    assert spec is not None and (spec.hub_repo, spec.hub_filename) == (repo, filename)
    assert open_clip.get_pretrained_cfg(model_name, tag)["hf_hub"] == repo + "/"  # open_clip agrees
    reference = open_clip.create_model(model_name)
    state = reference.state_dict()
    saved = tmp_path / filename
    if filename.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in state.items()}, str(saved))
    else:
        torch.save(state, saved)
    probe = "visual.conv1.weight" if model_name.startswith("ViT") else "visual.trunk.stem.0.weight"
    for source in ("explicit", "cache"):
        if source == "cache":  # the layout huggingface_hub writes: snapshots/<revision>/<file> + refs/main
            repo_dir = hub_cache / f"models--{repo.replace('/', '--')}"
            (repo_dir / "refs").mkdir(parents=True)
            (repo_dir / "refs" / "main").write_text("0123abcd")
            (repo_dir / "snapshots" / "0123abcd").mkdir(parents=True)
            target = repo_dir / "snapshots" / "0123abcd" / filename
            try:
                os.link(saved, target)  # no second 600 MB write where the file system allows
            except OSError:
                shutil.copyfile(saved, target)
        method = cls()
        ctx = BuildContext(demo.CLASS_NAMES, PROFILES["paper"], "pretrained", CPU, variant="full",
                           weights_file=str(saved) if source == "explicit" else None)
        weights = method.build(ctx)
        identifier = f"open_clip/{model_name}.{tag}"
        assert (weights.init, weights.source, weights.identifier) == ("pretrained", source, identifier)
        assert Path(weights.path).name == filename  # type: ignore[arg-type]
        assert torch.equal(method.model.clip.state_dict()[probe], state[probe])
        assert torch.equal(method.model.clip.logit_scale, state["logit_scale"])
        assert method.prep.image_size == 224 and method.prep.mean == (0.48145466, 0.4578275, 0.40821073)
        assert method.details["clip_tag"] == tag
        with torch.no_grad():
            assert method.model.encode_image(torch.zeros(1, 3, 224, 224)).shape == (1, 512)
        del method


def test_missing_clip_weights_name_the_hub_file_and_the_fix() -> None:
    ctx = BuildContext(demo.CLASS_NAMES, PROFILES["paper"], "pretrained", CPU, variant="clip",
                       options={"clip_tag": "datacomp_xl_s13b_b90k"})
    with pytest.raises(BenchError) as error:
        GalaxAlignViT16().build(ctx)
    message = str(error.value)
    for expected in ("open_clip/ViT-B-16.datacomp_xl_s13b_b90k", "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K",
                     "open_clip_model.safetensors", "--weights galaxalign-vit16=PATH", "--init random"):
        assert expected in message


# --- save, load and search -----------------------------------------------------------------


@pytest.mark.slow
def test_save_load_and_text_search(splits: DatasetSplits, tmp_path: Path) -> None:
    method = build(variant="v2")
    method.finetune(splits.train, splits.val, tiny_cfg(epochs=1))
    path = method.save(tmp_path / "model.pt")
    loaded = GalaxAlignViT16()
    loaded.load(path)
    assert torch.allclose(loaded.embed(splits.test), method.embed(splits.test), atol=1e-6)
    assert torch.allclose(loaded.predict(splits.test), method.predict(splits.test), atol=1e-5)
    assert loaded.rule == method.rule and not loaded.model.has_symbol_encoder  # prototypes suffice
    assert loaded.prototypes is not None and torch.equal(loaded.prototypes, method.prototypes)
    with_symbols = GalaxAlignViT16()
    with_symbols.load(method.save(tmp_path / "with_symbols.pt", include_symbol_encoder=True))
    assert with_symbols.model.has_symbol_encoder
    assert method.model.symbol_visual is not None and with_symbols.model.symbol_visual is not None
    assert torch.equal(with_symbols.model.symbol_visual.conv1.weight, method.model.symbol_visual.conv1.weight)
    with pytest.raises(BenchError, match="not galaxalign-convnext"):
        GalaxAlignConvNeXt().load(path)

    result = search(loaded, splits.test, "barred spiral with loose arms", tmp_path / "search.png", top=4)
    assert result.text == "A picture of a barred spiral with loose arms"
    expected = loaded.embed(splits.test) @ loaded.embed_text([result.text])[0]
    assert list(result.indices) == list(torch.argsort(expected, descending=True)[:4].numpy())
    assert np.allclose(result.scores, expected[result.indices].numpy(), atol=1e-6)
    assert Image.open(tmp_path / "search.png").size[0] == 4 * (128 + 6) + 6
    assert len(text_search(loaded, splits.test, "merging", top=100).indices) == len(splits.test)
    with pytest.raises(BenchError, match="query is empty"):
        text_search(loaded, splits.test, "  ")


# --- end to end ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("method", ["galaxalign-vit16", "galaxalign-convnext"])
def test_a_full_run_through_the_runner_writes_a_complete_record(method: str, tmp_path: Path) -> None:
    spec = RunSpec(method, "demo:20", variant="full", overrides=(("epochs", 1),))
    [record] = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec])]
    assert record["status"] == "ok", record.get("error")
    assert set(record["metrics"]) == {"classify", "retrieve"}
    assert 0.0 <= record["metrics"]["classify"]["accuracy"] <= 1.0
    assert 0.0 <= record["metrics"]["retrieve"]["map"] <= 1.0
    assert record["weights"]["init"] == "random"
    fit = record["fit"]
    assert [h["stage"] for h in fit["history"]] == [1.0, 1.0, 2.0]  # demo warm-up of 2, then 1 epoch
    assert fit["details"]["prediction_rule"] in ("text", "text+symbols")
    assert (fit["details"]["loss"], fit["details"]["batch_size"], fit["details"]["stage1_epochs"]) == (
        "matching_pair", 64, 2)
    assert record["config"]["epochs"] == 1
