"""The contrastive CLIP methods (clip-vit16, paperclip-vit16, cosmoclip-vit16): their recipes, training on
captions or class descriptions, zero-shot prediction, the weights chain, save/load, and a run through the
runner. Tiny open_clip towers on the CPU, offline; the captions are made here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from safetensors.torch import save_file

from bench.api import registry
from bench.api.capabilities import EmbedsText, SavesModel
from bench.api.data import DataOptions, DatasetSplits, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.data import demo
from bench.data.captions import classes
from bench.eval.outputs import zeroshot_classifier
from bench.run.runner import Runner, RunSettings
from bench.train.loop import TrainsObjectives, lr_factor
from methods.clip.plugin import ClipViT16, ContrastiveClip, caption_recall
from methods.clip.stage import text_table
from methods.cosmoclip.plugin import CosmoclipViT16
from methods.paperclip.plugin import PaperclipViT16

CPU = torch.device("cpu")
METHODS = {"clip-vit16": ClipViT16, "paperclip-vit16": PaperclipViT16, "cosmoclip-vit16": CosmoclipViT16}


def captioned(data: GalaxyData) -> GalaxyData:
    """Each image's caption: its class's description and its own number (distinct per image)."""
    texts = classes.class_text(data.class_names, "galaxy10").descriptions
    return data.with_captions(tuple(f"{texts[label]}, galaxy number {i}"
                                    for label, i in zip(data.labels, data.image_ids, strict=True)))


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    loaded = registry.load_dataset("demo:4", DataOptions())
    return DatasetSplits(captioned(loaded.train), captioned(loaded.val), captioned(loaded.test), loaded.protocol)


def build(
    cls: type[ContrastiveClip], variant: str = "default", profile: str = "demo", **options: str
) -> ContrastiveClip:
    method = cls()
    method.build(BuildContext(demo.CLASS_NAMES, PROFILES[profile], "random", CPU, variant=variant, options=options,
                              text_table="galaxy10"))
    return method


def cfg(method: ContrastiveClip, epochs: int = 1, **fields: object) -> FinetuneConfig:
    base = method.default_config(PROFILES["demo"])
    return FinetuneConfig(**{**base.to_dict(), "epochs": epochs, "patience": 5, **fields})  # type: ignore[arg-type]


def parameters(method: ContrastiveClip) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in method.model.named_parameters()}


# --- the recipes -----------------------------------------------------------------------------------


def test_the_recipes_hold_their_sources_settings() -> None:
    paper = PROFILES["paper"]
    pc = PaperclipViT16().default_config(paper)  # PAPERCLIP's configs/base.py
    assert (pc.lr, pc.weight_decay, pc.batch_size, pc.schedule, pc.warmup_steps) == (
        1e-5, 1e-3, 32, "warmup_constant", 2000)
    assert (PaperclipViT16.augmentation, PaperclipViT16.crop_fraction) == ("rot90_crop", 224 / 256)
    for cls in METHODS.values():
        assert (cls.arch.paper_model, cls.arch.default_tag) == ("ViT-B-16", "openai")  # PAPERCLIP's base
        assert cls().default_config(paper).epochs == paper.epochs
    cards = {name: registry.method_card(name) for name in METHODS}
    assert [name for name, card in cards.items() if card.trains_on_captions] == ["paperclip-vit16", "cosmoclip-vit16"]
    assert cards["paperclip-vit16"].recipe_source == "PAPERCLIP (Mishra-Sharma et al. 2024)"
    assert "CosmoCLIP" in (cards["cosmoclip-vit16"].recipe_source or "") and cards["clip-vit16"].recipe_source is None
    assert cards["clip-vit16"].variants == ("finetune", "zeroshot")


def test_warmup_constant_rises_linearly_then_holds() -> None:
    factor = lr_factor("warmup_constant", total_steps=10, warmup_steps=4)
    assert [factor(step) for step in range(8)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0]


# --- texts, scores and the validation score -----------------------------------------------------------


def test_caption_recall_matches_brute_force_with_pessimistic_ties() -> None:
    generator = torch.Generator().manual_seed(0)
    for n, m, k in ((12, 5, 1), (9, 9, 3), (20, 7, 5)):
        image = torch.randint(0, 3, (n, 4), generator=generator).float()  # small integers: many ties
        text = torch.randint(0, 3, (m, 4), generator=generator).float()
        caption_of = torch.randint(0, m, (n,), generator=generator)
        hits = 0
        for i in range(n):
            own = float(image[i] @ text[caption_of[i]])
            tied_or_higher = sum(float(image[i] @ text[j]) >= own for j in range(m) if j != caption_of[i])
            hits += tied_or_higher < k
        assert caption_recall(image, text, caption_of, k) == pytest.approx(hits / n)
    tied = torch.ones(3, 2)
    assert caption_recall(tied, torch.ones(4, 2), torch.tensor([0, 1, 2]), 1) == 0.0  # every other caption ties


def test_text_table_indexes_distinct_texts_in_first_seen_order(splits: DatasetSplits) -> None:
    pairs = text_table(splits.train.subset(np.arange(4)), ("b", "a", "b", "c"))
    assert pairs.class_names == ("b", "a", "c") and list(pairs.labels) == [0, 1, 0, 2]


def test_clip_trains_on_class_sentences_and_predicts_zero_shot(splits: DatasetSplits) -> None:
    method = build(ClipViT16)
    texts = method.texts(splits.train)
    first = classes.class_text(demo.CLASS_NAMES, "galaxy10")
    assert texts[0] == first.templates[0].format(first.descriptions[int(splits.train.labels[0])])
    image = method.embed(splits.test)
    expected = []
    for c in range(len(demo.CLASS_NAMES)):  # CLIP's prompt ensemble, by hand
        prompts = method.embed_text(first.prompts(c))
        expected.append(torch.nn.functional.normalize(prompts.mean(0), dim=0))
    classifier = torch.stack(expected)
    assert torch.allclose(zeroshot_classifier(method, method.class_text), classifier, atol=1e-6)
    scale = float(method.model.logit_scale.detach().exp())
    assert torch.allclose(method.predict(splits.test), image @ classifier.T * scale, atol=1e-4)


# --- training -------------------------------------------------------------------------------------


def test_zeroshot_trains_nothing(splits: DatasetSplits) -> None:
    method = build(ClipViT16, "zeroshot")
    before = parameters(method)
    assert list(method.objectives(splits.train, splits.val, cfg(method))) == []
    report = method.finetune(splits.train, splits.val, cfg(method))
    assert (report.epochs_run, report.train_images, report.best_val_score) == (0, 0, None)
    assert all(torch.equal(before[name], p) for name, p in method.model.named_parameters())


@pytest.mark.parametrize("cls", [PaperclipViT16, CosmoclipViT16])
def test_caption_methods_refuse_data_without_captions(cls: type[ContrastiveClip], splits: DatasetSplits) -> None:
    method = build(cls)
    bare = GalaxyData(splits.train.source, splits.train.labels, splits.train.class_names, "demo train")
    with pytest.raises(BenchError) as error:
        method.finetune(bare, None, cfg(method))
    message = str(error.value)
    assert "\n" not in message and "demo train has none" in message
    assert ("--captions FILE" if cls is PaperclipViT16 else "bench captions blip --dataset NAME") in message


def test_paperclip_fine_tunes_on_captions_saves_and_loads(splits: DatasetSplits, tmp_path: Path) -> None:
    method = build(PaperclipViT16)
    assert isinstance(method, TrainsObjectives) and isinstance(method, EmbedsText) and isinstance(method, SavesModel)
    [call] = method.objectives(splits.train, splits.val, cfg(method, epochs=2))
    assert call.train.class_names == tuple(dict.fromkeys(splits.train.captions or ()))  # one row per caption
    assert call.prep.augmentation == "rot90_crop" and call.cfg.schedule == "warmup_constant"
    before = parameters(method)
    report = method.finetune(splits.train, splits.val, cfg(method, epochs=2))
    assert report.epochs_run == 2 and report.train_images > 0
    steps = math.ceil(len(splits.train) / 32)  # the recipe's 20 warm-up steps, then constant
    assert [h["lr"] for h in report.history] == pytest.approx([1e-3 * min(1, (e * steps + 1) / 20) for e in (1, 2)])
    assert all("val_score" in h and "image_text" in h for h in report.history)
    assert report.best_val_score == max(h["val_score"] for h in report.history)
    assert report.details["val_score"] == "val image2text recall@5"  # type: ignore[attr-defined]
    changed = {method.model.encoder_of(n) for n, p in method.model.named_parameters() if not torch.equal(p, before[n])}
    assert {"image", "text"} <= changed

    path = method.save(tmp_path / "paperclip.pt")
    loaded = PaperclipViT16()
    loaded.load(path)
    assert torch.allclose(loaded.embed(splits.test), method.embed(splits.test), atol=1e-6)
    assert torch.allclose(loaded.embed_text(["a barred spiral"]), method.embed_text(["a barred spiral"]), atol=1e-6)
    assert torch.allclose(loaded.predict(splits.test), method.predict(splits.test), atol=1e-5)
    with pytest.raises(BenchError, match="not cosmoclip-vit16"):
        CosmoclipViT16().load(path)
    foreign = tmp_path / "foreign.pt"
    torch.save({"x": 1}, foreign)
    with pytest.raises(BenchError, match="is not a saved CLIP model"):
        loaded.load(foreign)


def test_options_and_variants_are_checked() -> None:
    with pytest.raises(BenchError, match=r"no option\(s\) \['loss'\]"):
        build(PaperclipViT16, loss="x")
    with pytest.raises(BenchError, match="has no variant 'full'"):
        build(ClipViT16, "full")
    with pytest.raises(BenchError, match="applies to the paper profile"):
        build(ClipViT16, clip_tag="openai")
    method = build(ClipViT16)
    with pytest.raises(BenchError, match="--adapt linear is not supported"):
        list(method.objectives(GalaxyData(None, np.zeros(2), ("a",), "x"), None, cfg(method, adapt="linear")))  # type: ignore[arg-type]


# --- the weights chain ------------------------------------------------------------------------------


@pytest.mark.slow
def test_openai_vit16_loads_a_checkpoint_in_open_clips_layout(tmp_path: Path) -> None:
    """A random ViT-B-16 state_dict saved as the openai tag's Hub file, loaded through the weights chain."""
    spec = PaperclipViT16().weights_spec(PROFILES["paper"])
    assert spec is not None and spec.identifier == "open_clip/ViT-B-16.openai"
    hub = open_clip.get_pretrained_cfg("ViT-B-16", "openai")["hf_hub"]
    assert spec.hub_repo == hub.rstrip("/") and spec.hub_filename == "open_clip_model.safetensors"
    for cls in METHODS.values():  # one base model for the three
        other = cls().weights_spec(PROFILES["paper"])
        assert other is not None and (other.identifier, other.hub_filename) == (spec.identifier, spec.hub_filename)
    state = open_clip.create_model("ViT-B-16", force_quick_gelu=True).state_dict()
    path = tmp_path / spec.hub_filename
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    method = PaperclipViT16()
    ctx = BuildContext(demo.CLASS_NAMES, PROFILES["paper"], "pretrained", CPU, weights_file=str(path),
                       text_table="galaxy10")
    weights = method.build(ctx)
    assert (weights.init, weights.source, weights.identifier) == ("pretrained", "explicit", spec.identifier)
    probe = "visual.transformer.resblocks.0.mlp.c_fc.weight"
    assert torch.equal(method.model.clip.state_dict()[probe], state[probe])
    assert method.quick_gelu and method.details["clip_tag"] == "openai"  # OpenAI's weights use QuickGELU
    assert method.prep.image_size == 224 and method.prep.mean == (0.48145466, 0.4578275, 0.40821073)
    with torch.no_grad():
        assert method.model.encode_image(torch.zeros(1, 3, 224, 224)).shape == (1, 512)


# --- end to end -------------------------------------------------------------------------------------


def test_a_run_through_the_runner_trains_on_captions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load = registry.load_dataset

    def with_captions(name: str, options: DataOptions) -> DatasetSplits:
        s = load(name, options)
        return DatasetSplits(captioned(s.train), captioned(s.val), captioned(s.test), s.protocol, s.test_subsets)

    monkeypatch.setattr(registry, "load_dataset", with_captions)
    spec = RunSpec("paperclip-vit16", "demo:8", tasks=("classify",), overrides=(("epochs", 1),))
    [record] = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec])]
    assert record["status"] == "ok", record.get("error")
    assert 0.0 <= record["metrics"]["classify"]["accuracy"] <= 1.0
    assert record["fit"]["details"]["texts"] == "captions" and record["config"]["warmup_steps"] == 20
    assert not math.isnan(record["fit"]["history"][0]["loss"])
