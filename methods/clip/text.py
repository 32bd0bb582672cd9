"""The text side of the CLIP methods: class descriptions a user overrides."""

from __future__ import annotations

from pathlib import Path

from bench.data.captions.tables import read_mapping


def read_overrides(path: str | Path) -> dict[str, str]:
    """``{class name: description}`` from a JSON file (``--option prompts=PATH``), checked."""
    fix = 'write a JSON object {"class name": "description", ...}'
    return read_mapping(
        path, "prompts", fix, lambda value: bool(value.strip()), "is not an object of non-empty strings"
    )
