"""What a method's pretrained weights are (a small PretrainedCfg) and what a run started from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.api.profiles import Init


@dataclass(frozen=True)
class WeightsSpec:
    """Where a method's published weights live.

    ``hub_repo``/``hub_filename`` name the weights file on the Hugging Face Hub (where timm,
    open_clip and transformers publish); ``local_names`` are the names looked for in the weights
    directory. A single-file spec resolves to the weights file. A spec with ``hub_config_files``
    resolves to a folder holding those files and the weights (``hub_filename``, or one of
    ``weights_aliases``, other names its loader reads the same weights under); its
    ``local_names`` are then folder names.
    """

    method: str
    identifier: str
    hub_repo: str
    hub_filename: str
    local_names: tuple[str, ...]
    hub_config_files: tuple[str, ...] = ()
    weights_aliases: tuple[str, ...] = ()

    @property
    def is_folder(self) -> bool:
        return bool(self.hub_config_files)

    @property
    def hub_files(self) -> tuple[str, ...]:
        """Every file to fetch from ``hub_repo``: the config files, then the weights."""
        return (*self.hub_config_files, self.hub_filename)

    def describe_files(self) -> str:
        """The files looked for, for messages: ``a + b + (c or d)``."""
        weights = " or ".join((self.hub_filename, *self.weights_aliases))
        weights = f"({weights})" if self.weights_aliases and self.hub_config_files else weights
        return " + ".join((*self.hub_config_files, weights))

    def complete_folder(self, folder: Path) -> bool:
        """Whether ``folder`` holds every config file and the weights under one of their names."""
        return (
            folder.is_dir()
            and all((folder / name).is_file() for name in self.hub_config_files)
            and any((folder / name).is_file() for name in (self.hub_filename, *self.weights_aliases))
        )


@dataclass(frozen=True)
class WeightsChoice:
    """Published weights a method can load instead of its default: ``--option {option}=TAG``, TAG one
    of ``tags`` (the default first)."""

    option: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedWeights:
    """What a run started from; stored in its record."""

    init: Init
    source: str | None = None  # explicit | weights_dir | cache | download
    path: str | None = None  # the weights file, or for a folder spec the folder
    identifier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RANDOM_INIT = ResolvedWeights(init="random")
