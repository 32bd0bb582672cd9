"""CLIP's contrastive loss (open_clip's ``ClipLoss``, the symmetric InfoNCE of Radford et al. 2021), shared
by every CLIP fine-tune of the bench: with ``z_a``, ``z_b`` the L2-normalised embeddings of two modalities
and ``s = exp(logit_scale) * z_a @ z_b.T``, item i's only positive is item i of the other modality::

    L = (CE(s, diag) + CE(s.T, diag)) / 2

Over several GPUs both sides are gathered from every rank with gradient (bench.train.distributed.gather,
open_clip's ``--gather-with-grad``), so each rank computes the global batch's loss. The temperature is the
CLIP model's own learnable ``logit_scale``, clamped to at most ``MAX_LOGIT_SCALE`` after every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from bench.train.distributed import gather

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clips the learned temperature so logits scale by at most 100
INIT_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial temperature, 0.07

# (a, b, labels, logit_scale) -> loss; a and b (N, D) L2-normalised, labels (N,) the items' classes
Contrastive = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def symmetric_cross_entropy(
    a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean of the a->b and b->a cross-entropies of ``exp(logit_scale) * a @ b.T`` (``logit_scale``
    is the log of the inverse temperature) against ``targets``: class indices or a symmetric
    (N, N) matrix of row distributions, either serving both directions. ``a`` and ``b`` are the
    global batch's (see ``global_batch``)."""
    logits = logit_scale.exp() * (a.float() @ b.float().T)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def global_batch(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a``, ``b`` and ``labels`` of every rank, in rank order, the embeddings with gradient; this
    rank's own on one device."""
    return gather(a), gather(b), gather(labels)


def matching_pair_contrastive(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """open_clip's ``ClipLoss``: item i of ``a`` and item i of ``b`` are the only positive pair;
    ``labels`` play no part."""
    a, b, _ = global_batch(a, b, labels)
    return symmetric_cross_entropy(a, b, logit_scale, torch.arange(len(a), device=a.device))
