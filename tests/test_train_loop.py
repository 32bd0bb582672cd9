"""The shared loop's batching: full passes, and stretched epochs for small training sets."""

import numpy as np
import torch

from bench.train.loop import epoch_batches


def test_epoch_is_one_shuffled_pass_when_the_set_gives_enough_steps() -> None:
    batches = list(epoch_batches(10, 4, steps=3, generator=torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))


def test_small_set_gets_the_minimum_number_of_full_batches_from_whole_passes() -> None:
    batches = list(epoch_batches(10, 4, steps=7, generator=torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4] * 7
    flat = np.concatenate(batches)
    for start in range(0, 20, 10):  # the first two passes are each a permutation
        assert sorted(flat[start : start + 10].tolist()) == list(range(10))
