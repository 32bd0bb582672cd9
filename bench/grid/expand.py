"""Grids: the cross product of methods, datasets, fractions, seeds and variants, as RunSpecs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.method import Adapt
from bench.api.profiles import Init, get_profile
from bench.api.spec import DEFAULT_TASKS, RunSpec


def method_variants(method: str, requested: Sequence[str], init: Init) -> list[str]:
    """The requested variants this method has, or its default when none was requested; under random init a
    variant identical to another there (MethodCard.random_init_aliases) runs as that other, once."""
    card = registry.method_card(method)
    chosen = [v for v in requested if v in card.variants] or [card.variants[0]]
    if init == "random":
        aliases = dict(card.random_init_aliases)
        chosen = [aliases.get(v, v) for v in chosen]
    return list(dict.fromkeys(chosen))


def expand(
    methods: Sequence[str],
    datasets: Sequence[str],
    fractions: Sequence[float] = (1.0,),
    seeds: Sequence[int] = (0,),
    variants: Sequence[str] = (),
    profile: str = "demo",
    init: Init | None = None,
    adapt: Adapt = "full",
    tasks: Sequence[str] = DEFAULT_TASKS,
    overrides: dict[str, Any] | None = None,
    options: dict[str, str] | None = None,
) -> list[RunSpec]:
    """Every cell of the grid. ``methods`` may be ["all"]; ``init`` defaults to the profile's."""
    names = registry.method_names() if list(methods) == ["all"] else list(methods)
    for name in names:
        registry.method_card(name)  # unknown names fail here, before anything runs
    for dataset in datasets:  # unknown names, and arguments only synthetic sets take, fail here
        registry.dataset_info(dataset)
        registry.dataset_options(dataset, DataOptions())
    known_variants = {v for name in names for v in registry.method_card(name).variants}
    if unknown := sorted(set(variants) - known_variants):
        raise BenchError(f"no selected method has variant(s) {unknown}", f"choose from {sorted(known_variants)}")
    start = init or get_profile(profile).default_init
    frozen_overrides = tuple(sorted((overrides or {}).items()))
    frozen_options = tuple(sorted((options or {}).items()))
    return [
        RunSpec(
            method, dataset, fraction, seed, variant, profile, start, adapt, tuple(tasks),
            frozen_overrides, frozen_options,
        )
        for method, dataset in itertools.product(names, datasets)
        for variant in method_variants(method, variants, start)
        for fraction, seed in itertools.product(fractions, seeds)
    ]


def deduplicate(specs: Sequence[RunSpec]) -> list[RunSpec]:
    """One spec per run identity, in first-seen order, asking for the union of the duplicates' tasks:
    one fine-tuned model serves every task, so a cell is never trained twice."""
    merged: dict[str, RunSpec] = {}
    for spec in specs:
        key = json.dumps(spec.identity(), sort_keys=True, default=str)
        if key in merged:
            tasks = (*merged[key].tasks, *(task for task in spec.tasks if task not in merged[key].tasks))
            spec = replace(merged[key], tasks=tasks)
        merged[key] = spec
    return list(merged.values())
