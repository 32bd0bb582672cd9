"""The text outputs of compute_outputs (the zero-shot classifier, the test captions) and the tasks that read
them, on a fake text-capable method: no model, no training."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.api import registry
from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.data.captions.classes import class_text
from bench.eval import outputs as outputs_module
from bench.eval.crossmodal import image_to_text, text_to_image, zeroshot_metrics
from bench.eval.outputs import compute_outputs, evaluate
from bench.run.runner import Runner, RunSettings

CLASSES = ("smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral")  # GalaxyMNIST's
CAPTIONS = ("a", "b", "a", "c", "b", "d", "a", "c")


def text_vector(text: str, dim: int = 6) -> torch.Tensor:
    """A fixed pseudo-random vector per text, not normalised (so that the normalisation is checked)."""
    return torch.randn(dim, generator=torch.Generator().manual_seed(zlib.crc32(text.encode()))) * 3


class TextMethod:
    """Image i embeds as its caption's text vector (a perfect retriever); records every embed_text call."""

    name = "text-method"

    def __init__(self) -> None:
        self.text_calls: list[list[str]] = []

    def embed(self, data: GalaxyData) -> torch.Tensor:
        assert data.captions is not None
        return F.normalize(torch.stack([text_vector(c) for c in data.captions]), dim=1)

    def predict(self, data: GalaxyData) -> torch.Tensor:
        return torch.zeros(len(data), data.num_classes)

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        self.text_calls.append(list(texts))
        return torch.stack([text_vector(t) for t in texts])


class ImageOnly(TextMethod):
    embed_text = None  # type: ignore[assignment]  # not EmbedsText


def data(captions: tuple[str, ...] | None = CAPTIONS, classes: tuple[str, ...] = CLASSES) -> GalaxyData:
    labels = np.arange(len(CAPTIONS)) % len(classes)
    images = np.zeros((len(CAPTIONS), 4, 4, 3), np.uint8)
    return GalaxyData(ArraySource(images), labels, classes, "fake test", captions=captions)


def test_zeroshot_classifier_is_clips_template_average(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs_module, "TEXT_BATCH", 3)
    method, test = TextMethod(), data()
    text = class_text(CLASSES, "galaxy_mnist")
    out = compute_outputs(method, test, ["zeroshot"], class_text=text)  # type: ignore[arg-type]
    assert len(text.templates) > 1 and all(len(call) <= 3 for call in method.text_calls)
    assert [t for call in method.text_calls for t in call] == [p for c in range(4) for p in text.prompts(c)]
    expected = torch.stack([F.normalize(F.normalize(torch.stack([text_vector(p) for p in text.prompts(c)]), dim=1)
                                        .mean(dim=0), dim=0) for c in range(4)])
    assert out.class_text is not None and torch.allclose(out.class_text, expected, atol=1e-6)
    assert out.caption_text is None and out.scores is None  # only what zeroshot needs
    found = registry.task("zeroshot").evaluate(out, test.labels)
    assert out.embeddings is not None
    assert found == zeroshot_metrics(out.embeddings @ expected.T, torch.as_tensor(test.labels))


def test_captions_are_embedded_once_each_in_first_seen_order() -> None:
    method, test = TextMethod(), data()
    out = compute_outputs(method, test, ["text2image", "image2text"])  # type: ignore[arg-type]
    assert method.text_calls == [["a", "b", "c", "d"]]
    assert out.caption_of is not None and out.caption_of.tolist() == [0, 1, 0, 2, 1, 3, 0, 2]
    assert out.caption_text is not None and torch.allclose(out.caption_text.norm(dim=1), torch.ones(4))
    result = evaluate(out, test.labels, ["text2image", "image2text"])
    assert result.undefined == {}
    assert result.metrics["image2text"]["recall@1"] == 1.0 and result.metrics["text2image"]["recall@1"] == 1.0
    assert "recall@5" not in result.metrics["image2text"]  # only four distinct captions to rank
    # A test subset ranks its own images' captions only.
    rows = np.array([1, 3, 5])
    part = out.rows(rows)
    assert part.caption_of is not None and part.caption_text is not None and part.embeddings is not None
    assert part.caption_of.tolist() == [0, 1, 2] and torch.equal(part.caption_text, out.caption_text[[1, 2, 3]])
    assert image_to_text(part.embeddings, part.caption_text, part.caption_of) == text_to_image(
        part.embeddings, part.caption_text, part.caption_of)


def test_one_distinct_caption_leaves_retrieval_undefined() -> None:
    out = compute_outputs(TextMethod(), data(("same",) * len(CAPTIONS)), ["image2text"])  # type: ignore[arg-type]
    assert "at least two candidates" in evaluate(out, data().labels, ["image2text"]).undefined["image2text"]


def test_text_tasks_name_what_is_missing() -> None:
    with pytest.raises(BenchError, match=r"cannot embed text for zeroshot.*EmbedsText"):
        compute_outputs(ImageOnly(), data(), ["classify", "zeroshot"])  # type: ignore[arg-type]
    assert compute_outputs(ImageOnly(), data(), ["classify"]).scores is not None  # type: ignore[arg-type]
    with pytest.raises(BenchError, match=r"test split of fake test has no captions.*--captions"):
        compute_outputs(TextMethod(), data(captions=None), ["text2image"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the dataset's class text"):  # the caller's bug, not the user's
        compute_outputs(TextMethod(), data(), ["zeroshot"])  # type: ignore[arg-type]
    with pytest.raises(BenchError, match="no text description for class 'quasar'"):
        class_text(("smooth_round", "quasar"), "galaxy_mnist")  # what the runner asks before training


def test_a_text_task_on_an_image_only_method_fails_before_training(tmp_path: Path) -> None:
    [record] = Runner(RunSettings(results=tmp_path)).run([RunSpec("resnet18", "demo:5", tasks=("zeroshot",))])
    assert record.status == "failed" and record.error is not None
    assert "resnet18 cannot embed text for zeroshot" in record.error and "galaxalign-vit16" in record.error
    assert record.fit is None
