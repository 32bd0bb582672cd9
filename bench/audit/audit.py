"""The leakage audit of one dataset: its duplicates, and where its splits put them.

The dataset is loaded twice: once as loaders split it without duplicate groups (the group-unaware split
of before), once as they split it now. Duplicates are searched among every image of the first load; the
second is matched to it by byte digest (identical images always share a group, so a group's parts are
exact). A group *straddles* train and test when it has members in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.api import registry
from bench.api.data import ArraySource, DataOptions, DatasetSplits, GalaxyData
from bench.api.method import BuildContext, Method
from bench.api.profiles import PROFILES
from bench.data.duplicates.cache import ignoring_duplicates
from bench.data.duplicates.find import Duplicates, DuplicateSettings, Embedder, find_duplicates
from bench.data.duplicates.fingerprint import fingerprint
from bench.data.duplicates.pool import pooled
from bench.train.weights import for_run

PART_NAMES = ("train", "val", "test")
TRAIN, TEST = 1 << 0, 1 << 2  # bits of a part mask


class MethodEmbedding:
    """A built method's retrieval embeddings of images."""

    def __init__(self, method: Method, class_names: tuple[str, ...]) -> None:
        self.method = method
        self.class_names = class_names
        self.name = method.name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        data = GalaxyData(ArraySource(images), np.zeros(len(images), dtype=np.int64), self.class_names, "audit")
        return self.method.embed(data).float().cpu().numpy()


def require_pretrained_weights(name: str) -> None:
    """A BenchError naming every place looked when method ``name``'s pretrained (paper profile) weights are
    missing: checked before a long hashing pass."""
    for_run(name, registry.create_method(name).weights_spec(PROFILES["paper"]), "pretrained", None, None)


def pretrained_embedding(name: str, class_names: tuple[str, ...], device: torch.device) -> MethodEmbedding:
    """Method ``name``'s pretrained backbone (paper profile) as an embedder; a BenchError naming every place
    looked when its weights are missing (never random weights)."""
    method = registry.create_method(name)
    method.build(BuildContext(class_names, PROFILES["paper"], "pretrained", device))
    return MethodEmbedding(method, class_names)


def part_masks(splits: DatasetSplits, name: str) -> tuple[GalaxyData, np.ndarray]:
    """(every image of ``splits`` as one set, a mask per image with bit k set for part k of train/val/test)."""
    parts = (splits.train, splits.val, splits.test)
    masks = np.concatenate([np.full(len(part), 1 << k, dtype=np.int64) for k, part in enumerate(parts)])
    return pooled(parts, name), masks


def masks_by_digest(digests: np.ndarray, splits: DatasetSplits) -> np.ndarray:
    """For each of ``digests``, the parts of ``splits`` holding an image with that digest (0: none: dropped)."""
    split_pool, split_masks = part_masks(splits, "the loaders' split")
    keys, inverse = np.unique(np.concatenate([digests, fingerprint(split_pool).digests]), return_inverse=True)
    key_masks = np.zeros(len(keys), dtype=np.int64)
    np.bitwise_or.at(key_masks, inverse[len(digests) :], split_masks)
    return key_masks[inverse[: len(digests)]]


def describe_mask(mask: int) -> str:
    """'train', 'train+test', or 'dropped' for a part mask."""
    return "+".join(name for k, name in enumerate(PART_NAMES) if mask >> k & 1) or "dropped"


@dataclass(frozen=True)
class Audit:
    """What the audit of one dataset found.

    ``pool`` holds every image (the group-unaware split's train, val, test in turn); ``naive`` and
    ``aware`` are per-image part masks in the group-unaware and the loaders' (group-aware) split.
    """

    dataset: str
    pool: GalaxyData
    duplicates: Duplicates
    naive: np.ndarray
    aware: np.ndarray
    naive_protocol: str
    aware_protocol: str

    def group_masks(self, masks: np.ndarray) -> list[int]:
        """The parts each duplicate group occupies (OR of its members' masks)."""
        return [int(np.bitwise_or.reduce(masks[group])) for group in self.duplicates.members()]

    def straddling(self, masks: np.ndarray, parts: int = TRAIN | TEST) -> int:
        """Groups with members in every part of ``parts``."""
        return sum(mask & parts == parts for mask in self.group_masks(masks))

    def counts(self) -> dict[str, int]:
        groups = self.duplicates.members()
        return {
            "images": len(self.pool),
            "exact duplicate pairs": self.duplicates.exact_pairs,
            "near-duplicate pairs (not identical)": len(self.duplicates.near_pairs),
            "hash pairs the embedding rejected": self.duplicates.candidates - len(self.duplicates.near_pairs),
            "duplicate groups": len(groups),
            "images in groups": sum(len(group) for group in groups),
            "groups with more than one class": sum(len(np.unique(self.pool.labels[g])) > 1 for g in groups),
            "groups straddling train/test, group-unaware split": self.straddling(self.naive),
            "groups straddling train/test, loaders' split": self.straddling(self.aware),
            "groups in more than one part, loaders' split": sum(m & (m - 1) != 0 for m in self.group_masks(self.aware)),
            "images dropped by the loaders' split": int(np.sum(self.aware == 0)),
        }


def run_audit(
    dataset: str,
    options: DataOptions,
    settings: DuplicateSettings = DuplicateSettings(),
    method: str | None = None,
    device: torch.device = torch.device("cpu"),
) -> Audit:
    """Audit ``dataset``: its duplicates under ``settings`` (confirmed by the pixel embedding, or by
    ``method``'s pretrained embeddings), and where the group-unaware and the loaders' splits put them."""
    if method:
        require_pretrained_weights(method)
    with ignoring_duplicates():
        naive_splits = registry.load_dataset(dataset, options)
    aware_splits = registry.load_dataset(dataset, options)
    pool, naive = part_masks(naive_splits, dataset)
    embed: Embedder | None = pretrained_embedding(method, pool.class_names, device) if method else None
    found = fingerprint(pool)
    return Audit(
        dataset=dataset,
        pool=pool,
        duplicates=find_duplicates(pool, settings, embed, found),
        naive=naive,
        aware=masks_by_digest(found.digests, aware_splits),
        naive_protocol=naive_splits.protocol,
        aware_protocol=aware_splits.protocol,
    )
