"""Text-to-image search (`bench search`): the galaxies whose image embedding is closest to a text query's,
for any method with the EmbedsText capability."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from bench.api.capabilities import EmbedsText, PhrasesQueries
from bench.api.data import GalaxyData
from bench.api.errors import BenchError


@dataclass(frozen=True)
class SearchResult:
    query: str  # as the user typed it
    text: str  # as it was embedded
    indices: np.ndarray  # (top,) indices into the searched data, best first
    scores: np.ndarray  # (top,) cosine similarities


def query_text(method: EmbedsText, query: str) -> str:
    """The text embedded for ``query``: the method's own phrasing of it (its training prompts' form, the
    PhrasesQueries capability), else the query as typed."""
    query = query.strip()
    return method.query_text(query) if isinstance(method, PhrasesQueries) else query


def text_search(
    method: EmbedsText,
    data: GalaxyData,
    query: str,
    top: int = 16,
    as_prompt: bool = True,
    image_embeddings: torch.Tensor | None = None,
) -> SearchResult:
    """The ``top`` images of ``data`` most similar to ``query`` under a built or loaded ``method`` (any with
    the EmbedsText capability); ``as_prompt``: phrased as the method phrases queries (``query_text``).

    ``image_embeddings`` (``method.embed(data)``) can be passed to search one set many times.
    """
    if not query.strip():
        raise BenchError("the search query is empty", 'pass a description, e.g. --query "barred spiral"')
    if top < 1:
        raise BenchError(f"--top {top} is not positive", "ask for at least one match")
    text = query_text(method, query) if as_prompt else query.strip()
    images = image_embeddings if image_embeddings is not None else method.embed(data)
    similarity = images @ method.embed_text([text])[0]
    scores, indices = torch.topk(similarity, min(top, len(data)))
    return SearchResult(query, text, indices.numpy(), scores.numpy())


def write_search_grid(
    data: GalaxyData, result: SearchResult, out_path: str | Path, columns: int = 8, thumbnail: int = 128
) -> Path:
    """A PNG: the query as title, then the matches best first, each with its score (and class)."""
    count = len(result.indices)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    title_height, caption, gap = 44, 30, 6
    width = columns * (thumbnail + gap) + gap
    sheet = Image.new("RGB", (width, title_height + rows * (thumbnail + caption + gap) + gap), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 6), f'"{result.query}"', fill=(255, 255, 255), font=ImageFont.load_default(size=18))
    draw.text((gap, 28), f"embedded as: {result.text}", fill=(170, 170, 170), font=ImageFont.load_default(size=11))
    small = ImageFont.load_default(size=12)
    images = data.read(result.indices)
    for rank, (index, score) in enumerate(zip(result.indices, result.scores, strict=True)):
        left = gap + (rank % columns) * (thumbnail + gap)
        top = title_height + (rank // columns) * (thumbnail + caption + gap)
        tile = Image.fromarray(images[rank]).resize((thumbnail, thumbnail), Image.Resampling.LANCZOS)
        sheet.paste(tile, (left, top))
        draw.text((left, top + thumbnail + 2), f"#{rank + 1}  score {score:.3f}", fill=(255, 255, 255), font=small)
        label = data.class_names[int(data.labels[index])]
        draw.text((left, top + thumbnail + 16), label[:22], fill=(160, 160, 160), font=small)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path


def search(method: EmbedsText, data: GalaxyData, query: str, out_path: str | Path, top: int = 16) -> SearchResult:
    """``text_search`` and its PNG grid at ``out_path``."""
    result = text_search(method, data, query, top)
    write_search_grid(data, result, out_path)
    return result
