"""The contrastive CLIP methods (clip-vit16, paperclip-vit16, cosmoclip-vit16): one open_clip CLIP
fine-tuned with CLIP's loss on image-text pairs, predicting classes zero-shot from their descriptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, FitReport, check_options, implements
from bench.api.profiles import Profile
from bench.api.text import ClassText
from bench.api.weights import ResolvedWeights
from bench.data.captions import classes
from bench.eval import metrics
from bench.eval.crossmodal import best_positive_ranks, caption_positives, hits_at
from bench.eval.outputs import zeroshot_classifier
from bench.train.preprocess import Augmentation, Preprocessing
from methods.clip import cards
from methods.clip.base import ClipBase
from methods.clip.loss import matching_pair_contrastive
from methods.clip.model import ClipArch
from methods.clip.recipe import RECIPES, Recipe, recipe_for
from methods.clip.stage import ContrastiveCall, contrastive_objective, image_text_loss, text_table
from methods.clip.text import read_overrides

CHECKPOINT_FORMAT = "clip-checkpoint/1"
OPENAI_VIT16 = ClipArch("ViT-B-16", "openai", "clip-tiny-vit16", False)  # PAPERCLIP's base model
FINETUNE, ZEROSHOT = "finetune", "zeroshot"
VAL_RECALL_AT = 5  # caption-trained methods keep the epoch of the best val image-to-text recall@5
OPTIONS = {
    "clip_tag": "open_clip pretrained tag of the paper profile's CLIP weights",
    "prompts": "JSON file {class name: description} overriding the built-in class descriptions",
}


@dataclass
class ClipFitReport(FitReport):
    """A FitReport whose record also says what the CLIP trained on and how it predicts."""

    details: dict[str, Any] = field(default_factory=dict)


def caption_recall(image: torch.Tensor, text: torch.Tensor, caption_of: torch.Tensor, k: int) -> float:
    """Image-to-text recall@k: the share of images whose own caption (row ``caption_of[i]`` of the distinct
    captions' embeddings ``text``) is among their ``k`` most similar captions, ties counted against the image
    as the image2text task counts them (bench/eval/crossmodal.py)."""
    ranks = best_positive_ranks(image @ text.T, caption_positives(caption_of, text.shape[0]))
    return float(hits_at(ranks, k).float().mean())


class ContrastiveClip(ClipBase):
    """Shared by the contrastive CLIP methods; each says its ``recipes``, whether it trains on each image's
    own caption (``trains_on_captions``; else on its class's description), how a run gets captions
    (``caption_fix``) and its ``augmentation``; its variants are its card's, ``zeroshot`` training nothing."""

    arch = OPENAI_VIT16
    title = "CLIP"
    checkpoint_format = CHECKPOINT_FORMAT
    recipes: ClassVar[Mapping[str, Recipe]]
    trains_on_captions: ClassVar[bool] = False
    caption_fix: ClassVar[str] = ""
    augmentation: ClassVar[Augmentation] = Preprocessing.augmentation
    crop_fraction: ClassVar[float] = Preprocessing.crop_fraction

    def __init__(self) -> None:
        self.details: dict[str, Any] = {}
        self.eval_batch_size = 256

    # --- the Method protocol --------------------------------------------------------------

    def clip_tag(self, options: Mapping[str, str]) -> str | None:
        check_options(self.name, options, OPTIONS)
        return options.get("clip_tag")

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return recipe_for(self.recipes, profile).finetune_config(profile)

    def preprocessing(self, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> Preprocessing:
        return Preprocessing(image_size, mean, std, augmentation=self.augmentation, crop_fraction=self.crop_fraction)

    def build(self, ctx: BuildContext) -> ResolvedWeights:
        options = dict(ctx.options)
        clip_tag = self.clip_tag(options)
        variant = self.variants[0] if ctx.variant == "default" else ctx.variant  # BuildContext's default
        if variant not in self.variants:
            raise BenchError(f"{self.name} has no variant {variant!r}", f"use one of {', '.join(self.variants)}")
        self.variant = variant
        self.class_names = tuple(ctx.class_names)
        overrides = read_overrides(options["prompts"]) if "prompts" in options else None
        self.class_text = classes.class_text(self.class_names, ctx.text_table, overrides)  # a class without one fails
        tag = self.build_clip(ctx, clip_tag)
        self.details = {
            "variant": variant,
            "clip_model": self.model_name,
            "clip_tag": tag if self.weights.init == "pretrained" else None,
            "texts": None if variant == ZEROSHOT else "captions" if self.trains_on_captions else "class descriptions",
            "class_descriptions": list(self.class_text.descriptions),
            "zeroshot_templates": list(self.class_text.templates),
            "augmentation": self.augmentation,
        }
        return self.weights

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        """The recipe's one call of the shared loop; the zero-shot variant returns at once, untrained."""
        report = FitReport(0, 0, None, 0, 0.0)
        for call in self.objectives(train, val, cfg):
            report = call.run()
        self.model.eval()
        self.details.update(batch_size=cfg.batch_size if report.epochs_run else None,
                            val_score=self.val_score_name if report.best_val_score is not None else None)
        return ClipFitReport(report.epochs_run, report.best_epoch, report.best_val_score, report.train_images,
                             report.train_seconds, report.history, details=dict(self.details))

    def predict(self, data: GalaxyData) -> torch.Tensor:
        """(N, C) zero-shot class scores: scaled cosine similarities to CLIP's zero-shot classifier of the
        class descriptions (every template, averaged)."""
        classifier = zeroshot_classifier(self, self.class_text)
        return self.embed(data) @ classifier.T * float(self.model.logit_scale.detach().exp())

    # --- TrainsObjectives ------------------------------------------------------------------

    def objectives(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> Iterator[ContrastiveCall]:
        """The fine-tune on (image, text) pairs, one call of the shared loop; none for ``zeroshot``."""
        if self.variant == ZEROSHOT:
            return
        if cfg.adapt != "full":
            raise BenchError(f"{self.name} fine-tunes its encoders contrastively; --adapt {cfg.adapt} is not "
                             "supported", "run it with --adapt full")
        self.eval_batch_size = cfg.eval_batch_size
        pairs = text_table(train, self.texts(train))
        tokens = self._tokens(list(pairs.class_names))
        loss = image_text_loss(self.model, tokens, not self.trains_on_captions, matching_pair_contrastive)
        score = self.val_score(val) if val is not None else None
        objective = contrastive_objective(self.model, loss, cfg.weight_decay, score)
        yield ContrastiveCall(objective, pairs, cfg, self.prep, self.device, f"{self.name} {self.variant}")

    def texts(self, data: GalaxyData) -> tuple[str, ...]:
        """Each image's training text: its own caption, or its class's description in the first template."""
        if not self.trains_on_captions:
            sentences = [self.class_text.templates[0].format(d) for d in self.class_text.descriptions]
            return tuple(sentences[int(label)] for label in data.labels)
        if data.captions is None:
            raise BenchError(f"{self.name} trains on each image's caption, but {data.name} has none",
                             self.caption_fix)
        return data.captions

    @property
    def val_score_name(self) -> str:
        return f"val image2text recall@{VAL_RECALL_AT}" if self.trains_on_captions else "val zero-shot macro-F1"

    def val_score(self, val: GalaxyData) -> Callable[[], float]:
        """The score early stopping keeps the best epoch by: val image-to-text recall@5 over the val
        split's distinct captions (caption-trained), else the val zero-shot macro-F1."""
        if not self.trains_on_captions:
            return lambda: metrics.macro_f1(val.labels, self.predict(val).argmax(1), val.num_classes)
        pairs = text_table(val, self.texts(val))  # a val split without captions fails here, before training
        caption_of = torch.as_tensor(pairs.labels)

        def recall() -> float:
            return caption_recall(self.embed(pairs), self.embed_text(list(pairs.class_names)), caption_of,
                                  VAL_RECALL_AT)

        return recall

    # --- SavesModel ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """The image and text encoders, the class descriptions and zero-shot templates, in one file."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return self.write_checkpoint(
            path, state, class_names=list(self.class_names), descriptions=list(self.class_text.descriptions),
            templates=list(self.class_text.templates), details=self.details,
        )

    def load(self, path: str | Path, device: torch.device | str | None = None) -> None:
        """Restore a model written by ``save``; no build (and no pretrained weights) needed."""
        saved = self.read_checkpoint(path)
        self.restore(saved, device)
        self.class_names = tuple(saved["class_names"])
        self.class_text = ClassText(tuple(saved["descriptions"]), tuple(saved["templates"]))
        self.details = dict(saved["details"])
        self.variant = self.details["variant"]


@implements(cards.CLIP_VIT16)
class ClipViT16(ContrastiveClip):
    """OpenAI's CLIP ViT-B/16, zero-shot or fine-tuned on class captions (methods/clip/recipe.py)."""

    recipes = RECIPES
    trains_on_captions = cards.CLIP_VIT16.trains_on_captions
