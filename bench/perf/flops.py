"""FLOPs of one training step, counted from the model by torch's FlopCounterMode, and model FLOP
utilisation (achieved FLOP/s over the device's peak)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten


def _attention(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return int(sdpa_flop_count(query, key, value))


def _attention_backward(
    grad_out: Any, query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    return int(sdpa_backward_flop_count(grad_out, query, key, value))


# torch counts the CUDA kernels of scaled-dot-product attention but not the CPU one: the same
# formulas for it (called with shapes, like torch's own).
CPU_ATTENTION: dict[Any, Callable[..., int]] = {
    aten._scaled_dot_product_flash_attention_for_cpu: _attention,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward,
}


@dataclass(frozen=True)
class FlopCount:
    """FLOPs (multiply and add counted separately) of what ran, and whether attention ran fused."""

    flops: int
    fused_attention: bool  # a scaled-dot-product attention kernel ran (False: none, e.g. a CNN)


def count_flops(run: Callable[[], object]) -> FlopCount:
    """The FLOPs of matmuls, convolutions and attention that ``run()`` executes, forward and backward."""
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
        run()
    ops = counter.get_flop_counts().get("Global", {})
    return FlopCount(counter.get_total_flops(), any("attention" in str(op) for op in ops))


def mfu(flops_per_image: float, images_per_s: float, peak_flops_per_s: float | None) -> float | None:
    """Model FLOP utilisation: the FLOP/s the images imply over the peak (None without a peak)."""
    if not peak_flops_per_s:
        return None
    return flops_per_image * images_per_s / peak_flops_per_s
