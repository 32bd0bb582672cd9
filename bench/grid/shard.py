"""Shards: split one grid among several processes or machines writing into one results directory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.api.errors import BenchError
from bench.api.spec import RunSpec


@dataclass(frozen=True)
class Shard:
    """Share ``index`` of ``count`` (``--shard index/count``, counted from 0)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not int(match[1]) < int(match[2]):
            raise BenchError(f"--shard {text!r} is not INDEX/COUNT with 0 <= INDEX < COUNT", "write e.g. --shard 0/4")
        return cls(int(match[1]), int(match[2]))

    def select(self, specs: Sequence[RunSpec]) -> list[RunSpec]:
        """This shard's cells: every ``count``-th of the cells sorted by where their records go.

        The order depends only on the cells, so every process given the same grid agrees on
        which share is whose, and the shares of 0/n ... n-1/n together are the grid, once each.
        """
        ordered = sorted(specs, key=lambda spec: (spec.dataset, spec.method, spec.run_id))
        return ordered[self.index :: self.count]
