"""Contrastive loss between two modalities when many items of a batch share a class.

Form: the multi-positive ("UniCL") symmetric InfoNCE of Yang et al. 2022, *Unified Contrastive
Learning in Image-Text-Label Space*. With ``z_a``, ``z_b`` the L2-normalised embeddings of the
two modalities, ``s = scale * z_a @ z_b.T`` and ``P(i) = {j : y_j == y_i}``::

    L_ab = -1/N sum_i 1/|P(i)| sum_{j in P(i)} log softmax_j(s[i, :])[j]
    L_ba = -1/N sum_j 1/|P(j)| sum_{i in P(j)} log softmax_i(s[:, j])[i]
    L    = (L_ab + L_ba) / 2

i.e. a cross-entropy against the target distribution spread evenly over every same-class item.
Why this form: a GalaxAlign batch holds many galaxies of one class, and all of them carry the
same class prompt and a symbol of the same class. CLIP's loss (open_clip ``ClipLoss``) takes only
the diagonal as positive, so it would push a galaxy *away* from its own class prompt sitting in
another row, a contradictory target that grows with the batch. Treating every same-class pair as
positive removes the contradiction, keeps the batch-level (not class-level) contrast of the
paper's loss, and reduces exactly to CLIP's loss when every item has its own class, so nothing
changes where the paper's formula was already right. Contrasting each image against the C
class prompts instead is close to the image->text half of this loss with duplicates merged, but
has no batch-level text->image or image<->symbol counterpart, so we keep the paper's batch form.

Temperature: all three pairs share the CLIP model's own learnable ``logit_scale`` (the pretrained
value, or CLIP's 1/0.07 at random init), clamped to at most ``MAX_LOGIT_SCALE`` after every
optimiser step, as CLIP and open_clip do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clips the learned temperature so logits scale by at most 100
INIT_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial temperature, 0.07


def positive_targets(labels: torch.Tensor) -> torch.Tensor:
    """(N, N) rows that spread probability 1 evenly over each item's same-class items."""
    same = (labels[:, None] == labels[None, :]).float()
    return same / same.sum(dim=1, keepdim=True)


def multi_positive_contrastive(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE between L2-normalised ``a`` and ``b`` (N, D), item i of
    both having class ``labels[i]``; ``logit_scale`` is the log of the inverse temperature."""
    logits = logit_scale.exp() * (a.float() @ b.float().T)
    targets = positive_targets(labels)  # symmetric, so its transpose is the column targets too
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
