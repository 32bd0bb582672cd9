"""A dataset's classes as text: what zero-shot classification and the text-trained methods read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassText:
    """One description per class, in class order: a noun phrase with its article ("a barred spiral
    galaxy"); and the zero-shot prompt templates, each holding "{}" where a description goes."""

    descriptions: tuple[str, ...]
    templates: tuple[str, ...]

    def prompts(self, class_index: int) -> list[str]:
        """Every template filled with the description of class ``class_index``."""
        return [template.format(self.descriptions[class_index]) for template in self.templates]
