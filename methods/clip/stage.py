"""A contrastive fine-tune of a CLIP as one call of the shared loop (bench/train/loop.py).

The loop hands a loss (images, labels); a CLIP's texts enter as a table: ``labels[i]`` indexes the row
of ``tokens`` (tokenised once) that is image i's text: its class's description (GalaxAlign, clip-vit16),
or its own caption among the training set's distinct captions (PAPERCLIP, CosmoCLIP; ``text_table``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import FitReport
from bench.train.classifier import weight_decay_groups
from bench.train.loop import FitCall, LossTerms, Objective
from methods.clip.loss import Contrastive
from methods.clip.model import ClipPair

IMAGE_TEXT = "image_text"


def item_texts(model: ClipPair, tokens: torch.Tensor, labels: torch.Tensor, per_class: bool) -> torch.Tensor:
    """Each item's text embedding, row ``labels[i]`` of ``tokens`` encoded: a table of one text per class
    whole (a few rows), a table of captions only in the rows the batch holds."""
    if per_class:
        return model.encode_text(tokens)[labels]
    rows, inverse = torch.unique(labels, return_inverse=True)
    return model.encode_text(tokens[rows])[inverse]


def image_text_loss(
    model: ClipPair, tokens: torch.Tensor, per_class: bool, contrastive: Contrastive
) -> Callable[[torch.Tensor, torch.Tensor], LossTerms]:
    """The loss of a plain CLIP fine-tune: ``contrastive`` between the images and their texts."""

    def loss(images: torch.Tensor, labels: torch.Tensor) -> LossTerms:
        scale = model.logit_scale
        term = contrastive(model.encode_image(images), item_texts(model, tokens, labels, per_class), labels, scale)
        return {IMAGE_TEXT: term, "loss": term, "logit_scale": scale.detach().exp()}

    return loss


def text_table(data: GalaxyData, texts: tuple[str, ...]) -> GalaxyData:
    """``data`` with ``texts[i]`` image i's text, relabelled to index its distinct texts (in first-seen
    order), which become its ``class_names``: what ``image_text_loss`` trains on."""
    distinct = tuple(dict.fromkeys(texts))
    row = {text: i for i, text in enumerate(distinct)}
    return replace(data, labels=np.array([row[text] for text in texts], dtype=np.int64), class_names=distinct)


def contrastive_objective(
    model: ClipPair,
    loss: Callable[[torch.Tensor, torch.Tensor], LossTerms],
    weight_decay: float,
    score: Callable[[], float] | None,
) -> Objective:
    """What a CLIP fine-tune trains: every parameter (no weight decay on biases, norms, embeddings and
    the temperature), the temperature clamped after every step as CLIP does."""
    return Objective(module=model, parameters=weight_decay_groups(model, weight_decay), loss=loss, score=score,
                     after_step=model.clamp_logit_scale)


@dataclass(frozen=True, kw_only=True)
class ContrastiveCall(FitCall):
    """The shared loop's call of a contrastive fine-tune; running out of memory is a BenchError naming
    the batch size to lower (``batch_note`` adds the recipe's own batch, e.g. the paper's)."""

    batch_note: str = ""

    def run(self) -> FitReport:
        try:
            return super().run()
        except torch.OutOfMemoryError as error:
            raise out_of_memory(self.description, self.cfg.batch_size, self.batch_note) from error


def out_of_memory(description: str, batch_size: int, note: str = "") -> BenchError:
    """The one-line error of a fine-tune that ran out of memory at ``batch_size``."""
    return BenchError(
        f"{description} ran out of memory at batch size {batch_size}",
        f"pass a --batch-size N below {batch_size}{note}, or split each batch over GPUs with --gpus-per-cell 2",
    )
