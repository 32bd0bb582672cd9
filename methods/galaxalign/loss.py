"""The contrastive loss between two modalities that every GalaxAlign stage sums over its pairs.

The paper's code. GalaxAlign trains with open_clip's training script (its README:
``torchrun --nproc_per_node 2 -m open_clip_train.main ...``), so each pair's loss is open_clip's
``ClipLoss``, the paper's section-3 loss: with ``z_a``, ``z_b`` the L2-normalised embeddings of the
two modalities and ``s = exp(logit_scale) * z_a @ z_b.T``, item i's only positive is item i of the
other modality (the matching pair, the diagonal)::

    L = (CE(s, diag) + CE(s.T, diag)) / 2

Stage 1 applies it to image-text and symbol-text pairs (one shared image encoder), stage 2 adds
image-symbol pairs (a symbol encoder of its own). A batch holds many galaxies of one class, each
carrying that class's prompt and a symbol of that class, so same-class items in other rows count
as negatives.

Ours. ``matching_pair`` (the default, ``--option loss=matching_pair``) is that loss: same form,
the diagonal as target, checked against open_clip's ``ClipLoss`` in the tests. ``multi_positive``
(``--option loss=multi_positive``) is our alternative, the multi-positive ("UniCL") loss of Yang
et al. 2022: with ``P(i) = {j : y_j == y_i}`` the target of row i spreads evenly over ``P(i)``::

    L_ab = -1/N sum_i 1/|P(i)| sum_{j in P(i)} log softmax_j(s[i, :])[j]
    L    = (L_ab + L_ba) / 2

so every same-class pair is a positive; with every item of its own class it is the matching-pair
loss.

Where they differ. ``multi_positive`` only in its targets, and in effect only on the image-symbol
term: one prompt per class makes a class's texts one embedding, repeated, and where one side
repeats within each class the two losses are equal (the softmax mass on a repeated column is the
same whichever copy is the target). A class's symbols are different drawings, so there the paper's
loss pushes a galaxy away from the other symbols of its class and ours pulls it towards them.
``matching_pair`` differs only in how a batch over several GPUs is back-propagated. The paper's 512
were global over 2 GPUs: open_clip gathers both GPUs' features, so each loss sees 512 x 512 logits,
and by its default, without ``--gather-with-grad``, each GPU back-propagates through its own 256 only
and DDP averages the two: the gradient of the 512, halved. Ours is the objective of the whole batch
on one device, or on several (``bench run --gpus-per-cell 2``): both losses gather every rank's
features with gradient (bench.train.distributed.gather, open_clip's ``--gather-with-grad``), so each
rank computes the global batch's loss and DDP's average is its full gradient, as on one device.

Temperature: all three pairs share the CLIP model's own learnable ``logit_scale`` (the pretrained
value, or CLIP's 1/0.07 at random init), clamped to at most ``MAX_LOGIT_SCALE`` after every
optimiser step, as CLIP and open_clip do. The shared pieces (the matching-pair loss, the gather, the
temperature bounds) are every CLIP method's: methods/clip/loss.py.
"""

from __future__ import annotations

import torch

from methods.clip.loss import Contrastive, global_batch, matching_pair_contrastive, symmetric_cross_entropy


def positive_targets(labels: torch.Tensor) -> torch.Tensor:
    """(N, N) rows that spread probability 1 evenly over each item's same-class items."""
    same = (labels[:, None] == labels[None, :]).float()
    return same / same.sum(dim=1, keepdim=True)


def multi_positive_contrastive(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE: every pair of items of one class is a positive."""
    a, b, labels = global_batch(a, b, labels)
    return symmetric_cross_entropy(a, b, logit_scale, positive_targets(labels))


MATCHING_PAIR, MULTI_POSITIVE = "matching_pair", "multi_positive"
LOSSES: dict[str, Contrastive] = {MATCHING_PAIR: matching_pair_contrastive, MULTI_POSITIVE: multi_positive_contrastive}
DEFAULT_LOSS = MATCHING_PAIR  # the paper's code, in every profile
