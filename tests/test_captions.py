"""Per-image captions: the demo's, written from what the renderer drew; the caption sources a run takes
(classes, a user CSV, BLIP's cache); their place in the run identity and record; BLIP captioning through the
real transformers path on a tiny random model saved by the test."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.api import registry
from bench.api.data import DataOptions, DatasetSplits
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.cli import app
from bench.data import demo, demo_mnist
from bench.data.captions import classes, rendered, sources
from bench.data.demo import Drawn
from bench.run.inputs import fingerprint, with_inputs
from bench.run.runner import Runner, RunSettings

# sha256 of the images before the renderer recorded what it draws: recording must change no random draw.
DEMO_IMAGES_SHA256 = "5c64a85c384e1f0c587ebc80a6dd5d7f274ab345af4febaec662a2b05cf89b4f"
DEMO_MNIST_IMAGES_SHA256 = "a052570b6d4991e0af2e2eec0ee76f0980156b27e220ab76896372cb8bd8b84f"
# sha256 of the captions of demo:3 at rendered.VERSION 1: a change of the text must bump the version.
CAPTIONS_V1_SHA256 = "4fa3a39da20aa266c82bf7485ca2cccadd4e39c153af6eb2d4f5a8147e04b9ae"
PER_CLASS = 3
Drawing = tuple[np.ndarray, np.ndarray, list[Drawn]]


@pytest.fixture(scope="module")
def drawn() -> Drawing:
    return demo.draw_images(demo.DEMO_SOURCES, PER_CLASS)


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    return registry.load_dataset(f"demo:{PER_CLASS}", DataOptions())


@pytest.fixture(autouse=True)
def fresh_fingerprints() -> None:
    fingerprint.cache_clear()  # files are rewritten within one test


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_recording_what_is_drawn_leaves_the_images_as_they_were(drawn: Drawing) -> None:
    images, _, _ = drawn
    assert sha256(images.tobytes()) == DEMO_IMAGES_SHA256
    assert sha256(demo.make_demo_images(PER_CLASS)[0].tobytes()) == DEMO_IMAGES_SHA256
    mnist_sources = [[demo.CLASS_NAMES.index(s) for s in demo_mnist.SOURCES[n]] for n in demo_mnist.CLASS_NAMES]
    assert sha256(demo.make_images(mnist_sources, PER_CLASS, seed=demo_mnist.SEED)[0].tobytes()) == (
        DEMO_MNIST_IMAGES_SHA256
    )


def test_the_record_holds_the_values_the_random_draws_took(drawn: Drawing) -> None:
    """Replays the first draws of each image's stream by hand (jitter, angle, then the class's own)."""
    _, labels, shown = drawn
    for index, (label, record) in enumerate(zip(labels.tolist(), shown, strict=True)):
        rng = np.random.default_rng([0, index])
        rng.uniform(-3.0, 3.0, 2), rng.uniform(0.0, 2.0 * math.pi)
        name = demo.CLASS_NAMES[label]
        if name in ("Round Smooth", "In-between Round Smooth", "Cigar Shaped Smooth"):
            shape = {"Round Smooth": demo._ROUND_SMOOTH, "In-between Round Smooth": demo._IN_BETWEEN_SMOOTH,
                     "Cigar Shaped Smooth": demo._CIGAR_SMOOTH}[name]
            expected = (rng.uniform(*shape.axis_ratio), rng.uniform(*shape.radius), rng.uniform(*shape.index),
                        math.exp(rng.uniform(math.log(shape.flux[0]), math.log(shape.flux[1]))))
            assert (record.shape, record.axis_ratio, record.radius, record.sersic_index, record.flux) == (
                "smooth", *expected)
        elif "Spiral" in name:
            spiral = {"Barred Spiral": demo._BARRED_SPIRAL, "Unbarred Tight Spiral": demo._TIGHT_SPIRAL,
                      "Unbarred Loose Spiral": demo._LOOSE_SPIRAL}[name]
            axis_ratio, length = rng.uniform(0.45, 1.0), rng.uniform(1.8, 3.4)
            rng.uniform(*(spiral.bar_length or (1.5, 3.0)))  # the bar's length, or where unbarred arms start
            assert (record.shape, record.axis_ratio, record.radius) == ("spiral", axis_ratio, length)
            assert (record.arms, record.pitch_degrees, record.bar) == (
                2, rng.uniform(*spiral.pitch_degrees), name == "Barred Spiral")
        elif name.startswith("Edge-on"):
            length, thinness = rng.uniform(3.0, 7.0), rng.uniform(0.06, 0.14)
            assert (record.shape, record.radius, record.axis_ratio) == ("edge-on", length, thinness)
            assert (record.bulge_fraction > 0) == (name == "Edge-on with Bulge")
        elif name == "Merging":
            assert (record.shape, record.separation) == ("merger", 2.0 * rng.uniform(2.5, 7.5))
        else:
            assert (record.shape, record.radius) == ("irregular", rng.uniform(3.0, 5.5))
            assert 2 <= record.lumps <= 4 and 3 <= record.clumps <= 8


def test_captions_say_what_was_drawn(drawn: Drawing) -> None:
    _, _, shown = drawn
    for record in shown:
        text = rendered.caption(record)
        assert text[0].isupper() and text.endswith(".") and text.count(".") == 1
        assert ("field star" in text) == (record.field_stars > 0)
        assert ("background galax" in text) == (record.field_galaxies > 0)
        assert ("a bright star" in text) == record.bright_star
        before = text.split(" galax")[0]  # the adjectives of the galaxy itself
        assert ("faint " in before, "bright " in before) == (record.flux < 2.8e4, record.flux >= 5.5e4)
        if record.shape == "spiral":
            assert (" barred spiral" in text) == record.bar and ("unbarred" in text) == (not record.bar)
            pitch = record.pitch_degrees
            winding = "tightly" if pitch < 13 else "moderately" if pitch < 21 else "loosely"
            assert f"two {winding} wound arms" in text
            assert ("face-on" in text) == (record.axis_ratio >= 0.85)
            assert ("bright knot" in text) == (record.knots > 0)
        elif record.shape == "merger":
            assert text.startswith("Two ") and ("tidal bridge" in text) == record.bridge
            assert ("tidal tail" in text) == (record.tails > 0)
        elif record.shape == "edge-on":
            assert ("no bulge" in text) == (record.bulge_fraction == 0)
            assert ("dust lane" in text) == (record.dust_lane >= 0.2)
        elif record.shape == "smooth":
            assert ("cigar-shaped" in text) == (record.axis_ratio < 0.4) and (" round smooth" in text) == (
                record.axis_ratio >= 0.85)
        else:
            assert f"{rendered._NUMBERS[record.lumps]} diffuse lump" in text and ("plume" in text) == (record.tails > 0)


def test_numbers_and_lists_read_as_english() -> None:
    spiral = Drawn(shape="spiral", axis_ratio=0.5, radius=3.0, bulge_fraction=0.3, arms=2, pitch_degrees=10.0,
                   knots=1, field_galaxies=1, flux=4e4)
    assert rendered.caption(spiral) == ("A large steeply inclined unbarred spiral galaxy with two tightly wound arms, "
                                        "a bright bulge and one bright knot, beside one background galaxy.")
    merger = Drawn(shape="merger", radius=2.0, separation=6.0, field_stars=13, flux=2e4)
    assert rendered.caption(merger) == ("Two overlapping faint small galaxies merging with no tidal features, "
                                        "beside 13 field stars.")
    assert rendered.caption(Drawn(shape="edge-on", radius=6.0, axis_ratio=0.07, flux=8e4)) == (
        "A bright long very thin edge-on disk galaxy with no bulge.")


def test_the_longest_caption_fits_clips_77_tokens() -> None:
    import open_clip

    longest = Drawn(shape="spiral", axis_ratio=0.5, radius=2.5, bulge_fraction=0.2, arms=2, pitch_degrees=17.0,
                    knots=9, field_stars=12, field_galaxies=12, bright_star=True)
    irregular = dataclasses.replace(longest, shape="irregular", lumps=4, clumps=8, tails=1)
    tokens = open_clip.tokenize([rendered.caption(longest), rendered.caption(irregular)])
    assert (tokens[:, -1] == 0).all()  # room to spare: nothing cut off


def test_the_demo_splits_carry_their_images_captions(
    splits: DatasetSplits, drawn: Drawing
) -> None:
    _, _, shown = drawn
    texts = []
    for part in (splits.train, splits.val, splits.test):
        assert part.captions == tuple(rendered.caption(shown[i]) for i in part.image_ids.tolist())
        texts += part.captions
    assert len(set(texts)) == len(texts)  # every galaxy told apart: not a lookup of its class
    whole = tuple(rendered.caption(record) for record in shown)
    assert sha256("\n".join(whole).encode()) == CAPTIONS_V1_SHA256
    again = registry.load_dataset(f"demo:{PER_CLASS}", DataOptions())
    assert again.test.captions == splits.test.captions
    mnist = registry.load_dataset("demo_mnist:3", DataOptions())
    assert mnist.train.captions is not None and len(mnist.train.captions) == len(mnist.train)


def test_the_default_source_is_the_datasets_own_else_its_classes(tmp_path: Path) -> None:
    options = DataOptions(data_dir=str(tmp_path))
    assert sources.resolve(None, "demo:3", options) == sources.CaptionSource("rendered")
    assert sources.resolve(None, "galaxy10_decals", options) == sources.CaptionSource("classes")
    assert sources.resolve("rendered", "demo", options).kind == "rendered"
    blip = sources.resolve("blip", "demo:3", options)
    assert blip.model == sources.DEFAULT_BLIP_MODEL
    assert blip.path == tmp_path / "captions" / "demo-3.blip-Salesforce--blip-image-captioning-base.csv"
    assert sources.resolve("blip:me/tiny", "demo", options).describe() == "blip me/tiny"
    with pytest.raises(BenchError, match="galaxy10_decals has no rendered captions"):
        sources.resolve("rendered", "galaxy10_decals", options)
    with pytest.raises(BenchError, match="no such source or file"):
        sources.resolve(str(tmp_path / "absent.csv"), "demo", options)


def test_classes_caption_each_image_by_its_class_description(splits: DatasetSplits) -> None:
    captioned = sources.attach(splits, sources.CaptionSource("classes"), "demo:3", DataOptions())
    descriptions = classes.class_text(demo.CLASS_NAMES, "galaxy10").descriptions
    for part in (captioned.train, captioned.val, captioned.test):
        assert part.captions == tuple(descriptions[label] for label in part.labels.tolist())
    assert captioned.test.captions is not None and captioned.test.captions[0].startswith(("a ", "an "))


def write_csv(path: Path, rows: list[tuple[object, str]], header: str = "index,caption") -> Path:
    lines = [header] + [f"{index},{text}" for index, text in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_csv_captions_each_image_by_its_dataset_index(tmp_path: Path, splits: DatasetSplits) -> None:
    path = write_csv(tmp_path / "c.csv", [(i, f'"galaxy number {i}, as I saw it"') for i in range(30)])
    captioned = sources.attach(splits, sources.resolve(str(path), "demo:3", DataOptions()), "demo:3", DataOptions())
    for part in (captioned.train, captioned.val, captioned.test):
        assert part.captions == tuple(f"galaxy number {i}, as I saw it" for i in part.image_ids.tolist())
    # an image the loader dropped (a duplicate) may keep its row: the range is the whole dataset's
    assert len(sources.read_csv(path, np.arange(29), 30, "fix")) == 30


GOOD = [(i, f"galaxy {i}") for i in range(30)]


@pytest.mark.parametrize(("rows", "header", "error"), [
    (GOOD[1:], "index,caption", "has no caption for 1 image\\(s\\): 0"),
    ([*GOOD, (3, "again")], "index,caption", "line 32: index 3 is captioned twice"),
    ([*GOOD, (30, "beyond")], "index,caption", "index 30 is out of range \\(the dataset's images are 0..29\\)"),
    ([*GOOD[:5], (5, " "), *GOOD[6:]], "index,caption", "line 7: the caption of image 5 is empty"),
    ([*GOOD[:5], ("five", "x"), *GOOD[6:]], "index,caption", "index 'five' is not a whole number"),
    ([*GOOD[:5], (5, "a,b"), *GOOD[6:]], "index,caption", "line 7 has 3 fields, not 2"),
    (GOOD, "id,text", "does not start with the header line index,caption"),
])
def test_bad_caption_files_are_refused_in_one_line(
    tmp_path: Path, splits: DatasetSplits, rows: list[tuple[object, str]], header: str, error: str
) -> None:
    source = sources.CaptionSource("file", write_csv(tmp_path / "c.csv", rows, header))
    with pytest.raises(BenchError, match=error) as raised:
        sources.attach(splits, source, "demo:3", DataOptions())
    assert "\n" not in str(raised.value) and "Fix:" in str(raised.value)


def test_a_caption_file_that_is_not_utf8_is_refused(tmp_path: Path, splits: DatasetSplits) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"index,caption\n0,caf\xe9\n")
    with pytest.raises(BenchError, match="is not UTF-8 text"):
        sources.attach(splits, sources.CaptionSource("file", path), "demo:3", DataOptions())


def captions_card(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """``method``'s card as that of a method trained on each image's caption."""
    card = dataclasses.replace(registry.method_card(method), trains_on_captions=True)
    real = registry.method_card
    monkeypatch.setattr(registry, "method_card", lambda name: card if name == method else real(name))


def test_cells_that_use_captions_carry_their_source_in_their_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = RunSpec("resnet18", "demo:3", tasks=("classify", "retrieve"))
    [unchanged] = with_inputs([plain], RunSettings(results=tmp_path, captions="classes"))
    assert unchanged == plain  # a cell that reads no captions keeps its identity and run id
    retrieval = RunSpec("resnet18", "demo:3", tasks=("image2text",))
    [own] = with_inputs([retrieval], RunSettings(results=tmp_path))
    assert dict(own.inputs) == {"captions": f"rendered, version {rendered.VERSION}"}
    [by_class] = with_inputs([retrieval], RunSettings(results=tmp_path, captions="classes"))
    assert dict(by_class.inputs)["captions"].startswith("classes, tables sha256 ")
    path = write_csv(tmp_path / "c.csv", GOOD)
    [first] = with_inputs([retrieval], RunSettings(results=tmp_path, captions=str(path)))
    assert dict(first.inputs)["captions"].startswith("file, sha256 ")  # its text counts, not where it lies
    write_csv(path, [*GOOD[:-1], (29, "another text")])
    fingerprint.cache_clear()
    [second] = with_inputs([retrieval], RunSettings(results=tmp_path, captions=str(path)))
    assert len({own.run_id, by_class.run_id, first.run_id, second.run_id}) == 4
    captions_card(monkeypatch, "resnet18")
    [trained] = with_inputs([plain], RunSettings(results=tmp_path))
    assert dict(trained.inputs) == dict(own.inputs)
    with pytest.raises(BenchError, match="bench captions blip --dataset demo:3"):
        with_inputs([retrieval], RunSettings(results=tmp_path, captions="blip", data=DataOptions(str(tmp_path))))


def test_the_runner_attaches_the_source_and_the_record_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.train.classifier import BackboneClassifier

    captions_card(monkeypatch, "resnet18")
    seen: list[tuple[str, ...] | None] = []
    finetune = BackboneClassifier.finetune
    monkeypatch.setattr(BackboneClassifier, "finetune",
                        lambda self, train, val, cfg: seen.append(train.captions) or finetune(self, train, val, cfg))
    settings = RunSettings(results=tmp_path, captions="classes")
    fast = (("batch_size", 16), ("epochs", 1))
    [spec] = with_inputs([RunSpec("resnet18", "demo:3", tasks=("classify",), overrides=fast)], settings)
    [record] = Runner(settings).run([spec])
    assert record.status == "ok", record.error
    assert record.data is not None and record.data.captions == "classes"
    descriptions = classes.class_text(demo.CLASS_NAMES, "galaxy10").descriptions
    assert seen and seen[0] is not None and set(seen[0]) <= set(descriptions)


# A tiny random BLIP in the upstream layout: what `bench captions blip` reads from a Hub folder.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "galaxy", "spiral", "with", "arms", "bright",
         "round", "smooth", "disk", "of", "stars", "the", "two", "blue"]


def save_tiny_blip(folder: Path) -> None:
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor

    folder.mkdir()
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab), bos_token="[DEC]")
    ids = {token: VOCAB.index(token) for token in ("[PAD]", "[SEP]", "[DEC]")}
    config = BlipConfig(
        text_config={"vocab_size": len(VOCAB), "hidden_size": 32, "encoder_hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64,
                     "pad_token_id": ids["[PAD]"], "sep_token_id": ids["[SEP]"], "bos_token_id": ids["[DEC]"]},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(config)
    with torch.no_grad():  # words only: the random decoder never stops early nor writes special tokens alone
        model.text_decoder.cls.predictions.bias[:6] = -1e4
    model.save_pretrained(folder)
    # As the Hub repo holds them: preprocessor_config.json and the tokenizer's files beside the model's.
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def test_blip_captions_every_image_through_the_real_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_NO_PROGRESS", "1")
    save_tiny_blip(tmp_path / "tiny-blip")
    data = tmp_path / "data"
    args = ["captions", "blip", "--dataset", "demo:3", "--model", "test/tiny-blip", "--batch-size", "8",
            "--device", "cpu", "--weights", f"blip={tmp_path / 'tiny-blip'}", "--data-dir", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    options = DataOptions(data_dir=str(data))
    source = sources.resolve("blip:test/tiny-blip", "demo:3", options)
    assert source.path is not None and source.path.is_file()
    about = json.loads(source.path.with_suffix(".json").read_text())
    assert (about["model"], about["images"], about["weights_source"]) == ("test/tiny-blip", 30, "explicit")
    splits = sources.attach(registry.load_dataset("demo:3", options), source, "demo:3", options)
    words = set(VOCAB[6:]) | {"##" + w for w in VOCAB[6:]}
    for part in (splits.train, splits.val, splits.test):
        assert part.captions is not None and all(text and set(text.split()) <= words for text in part.captions)
    [spec] = with_inputs([RunSpec("resnet18", "demo:3", tasks=("text2image",))],
                         RunSettings(results=tmp_path, captions="blip:test/tiny-blip", data=options))
    assert dict(spec.inputs)["captions"].startswith("blip test/tiny-blip, sha256 ")


def test_blip_weights_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    from bench.data.captions.blip import load_captioner

    save_tiny_blip(tmp_path / "tiny-blip")
    from safetensors.torch import load_file, save_file

    file = tmp_path / "tiny-blip" / "model.safetensors"
    tensors = load_file(file)
    save_file({k: v for k, v in tensors.items() if not k.startswith("vision_model.encoder")}, file,
              metadata={"format": "pt"})
    with pytest.raises(BenchError, match="does not hold this model's weights"):
        load_captioner(str(tmp_path / "tiny-blip"))


def test_blip_without_its_weights_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    args = ["captions", "blip", "--dataset", "demo:3", "--model", "test/absent-blip", "--device", "cpu",
            "--weights-dir", str(tmp_path), "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no pretrained weights for test/absent-blip" in result.output
    assert "put its folder in BENCH_WEIGHTS_DIR as absent-blip/" in result.output
    result = CliRunner().invoke(app, [*args, "--weights", f"resnet18={tmp_path}"])
    assert result.exit_code == 2 and "names no captioning model" in result.output


def test_bench_run_takes_captions_for_the_cells_that_use_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["run", "--methods", "resnet18", "--datasets", "demo:3", "--tasks", "classify", "--results",
            str(tmp_path), "--dry-run"]
    result = CliRunner().invoke(app, [*args, "--captions", "classes"])
    assert result.exit_code == 0 and "--captions applies to no cell" in result.output
    captions_card(monkeypatch, "resnet18")
    result = CliRunner().invoke(app, [*args, "--captions", str(tmp_path / "absent.csv")])
    assert result.exit_code == 2 and "no such source or file" in result.output


def test_cosmoclip_cells_take_blips_captions_at_full_size_and_the_datasets_own_in_the_demo(tmp_path: Path) -> None:
    data = DataOptions(str(tmp_path))
    demo_cell = RunSpec("cosmoclip-vit16", "demo:3", tasks=("zeroshot",))
    paper_cell = dataclasses.replace(demo_cell, profile="paper", init="pretrained")
    assert sources.cell_source(None, "cosmoclip-vit16", "demo", "demo:3", data).kind == "rendered"
    recipe = sources.cell_source(None, "cosmoclip-vit16", "paper", "demo:3", data)
    assert recipe.kind == "blip" and recipe.model == sources.DEFAULT_BLIP_MODEL
    assert sources.cell_source("classes", "cosmoclip-vit16", "paper", "demo:3", data).kind == "classes"
    [demo_input, paper_input] = with_inputs([demo_cell, paper_cell], RunSettings(results=tmp_path, data=data))
    assert dict(demo_input.inputs)["captions"].startswith("rendered")
    # not written yet: the grid goes on and this cell alone fails, naming `bench captions blip`
    assert dict(paper_input.inputs)["captions"] == f"blip {sources.DEFAULT_BLIP_MODEL}, not written yet"
