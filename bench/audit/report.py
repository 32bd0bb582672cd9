"""The audit as markdown (counts, the splits' protocols, one row per group) and a PNG of each group's images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench.api.data import ImageSource, SubsetSource
from bench.audit.audit import TEST, TRAIN, Audit, describe_mask
from bench.data.duplicates.pool import ConcatSource
from bench.data.folder import FolderImageSource
from bench.data.hdf5 import H5ImageSource
from bench.report import markdown_table

TABLE_GROUPS = 200  # groups listed in the markdown
SHEET_GROUPS = 24  # groups drawn in the PNG
SHEET_MEMBERS = 8  # images drawn per group
THUMBNAIL = 128
CAPTION_LINES = 3


def origin(source: ImageSource, index: int) -> str:
    """Where image ``index`` of ``source`` comes from: its file, or its index in the HDF5 file or array."""
    if isinstance(source, ConcatSource):
        which = int(np.searchsorted(source.offsets, index, side="right")) - 1
        return origin(source.sources[which], index - int(source.offsets[which]))
    if isinstance(source, SubsetSource):
        return origin(source.parent, int(source.indices[index]))
    if isinstance(source, FolderImageSource):
        return f"{source.paths[index].parent.name}/{source.paths[index].name}"
    if isinstance(source, H5ImageSource):
        return f"{source.path.name}[{index}]"
    return f"#{index}"


def ordered_groups(audit: Audit) -> list[np.ndarray]:
    """The duplicate groups, those straddling the group-unaware split's train and test first, larger first."""
    groups = audit.duplicates.members()
    naive = audit.group_masks(audit.naive)
    order = sorted(range(len(groups)), key=lambda g: (naive[g] & (TRAIN | TEST) != TRAIN | TEST, -len(groups[g]), g))
    return [groups[g] for g in order]


def _pair_extremes(audit: Audit, group: np.ndarray) -> tuple[str, str]:
    """(largest hash distance, smallest cosine) of the group's near pairs; identical images count 0 and 1."""
    pairs = audit.duplicates.near_pairs
    inside = np.isin(pairs[:, 0], group)
    if not inside.any():
        return "0", "identical"
    return str(int(pairs[inside, 2].max())), f"{audit.duplicates.similarity[inside].min():.4f}"


def _fit(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int, keep_end: bool = False) -> str:
    """``text`` shortened with an ellipsis (at its start when ``keep_end``) to at most ``width`` pixels."""
    shortened = text
    while font.getlength(shortened) > width and len(text) > 1:
        text = text[1:] if keep_end else text[:-1]
        shortened = f"…{text}" if keep_end else f"{text}…"
    return shortened


def _part_change(audit: Audit, index: int) -> str:
    return f"{describe_mask(int(audit.naive[index]))} -> {describe_mask(int(audit.aware[index]))}"


def audit_markdown(audit: Audit, sheet_name: str) -> str:
    """The report: counts, both protocols, the groups table and the PNG."""
    found = audit.duplicates
    lines = [
        f"# Leakage audit: {audit.dataset}",
        "",
        f"Duplicates: {found.criterion()}. Exact duplicates are identical pixel arrays; near duplicates are "
        "pairs of other images whose perceptual hashes match in some rotation or flip and whose embeddings "
        "confirm it; groups join every pair (union-find).",
        "",
        markdown_table(["count", "value"], [[name, f"{value:,}"] for name, value in audit.counts().items()]),
        "",
        f"- Group-unaware split: {audit.naive_protocol}.",
        f"- Loaders' split: {audit.aware_protocol}.",
    ]
    groups = ordered_groups(audit)
    if not groups:
        return "\n".join([*lines, "", "No duplicate groups.", ""])
    rows = []
    for number, group in enumerate(groups[:TABLE_GROUPS], start=1):
        classes = sorted({audit.pool.class_names[label] for label in audit.pool.labels[group]})
        naive, aware = (describe_mask(int(np.bitwise_or.reduce(masks[group]))) for masks in (audit.naive, audit.aware))
        rows.append(
            [
                str(number),
                ", ".join(origin(audit.pool.source, int(i)) for i in group),
                "; ".join(classes),
                naive,
                aware,
                *_pair_extremes(audit, group),
            ]
        )
    headers = ["group", "images", "classes", "group-unaware split", "loaders' split", "max hash bits", "min cosine"]
    shown = f"the first {TABLE_GROUPS} of {len(groups)}" if len(groups) > TABLE_GROUPS else f"all {len(groups)}"
    lines += [
        "",
        f"## Groups ({shown}; straddling the group-unaware train/test first)",
        "",
        markdown_table(headers, rows),
    ]
    return "\n".join([*lines, "", f"![duplicate groups]({sheet_name})", ""])


def write_sheet(audit: Audit, path: Path) -> Path:
    """A PNG with one row per group (at most ``SHEET_GROUPS``): its images side by side, each captioned with
    where it comes from, its part in the group-unaware -> the loaders' split, and its class."""
    groups = ordered_groups(audit)[:SHEET_GROUPS]
    font = ImageFont.load_default(size=12)
    gap, label_width, header, line = 8, 110, 46, 14
    row_height = THUMBNAIL + CAPTION_LINES * line + 2 * gap
    columns = min(SHEET_MEMBERS, max((len(group) for group in groups), default=1))
    width = max(label_width + columns * (THUMBNAIL + gap) + gap, 640)
    sheet = Image.new("RGB", (width, header + max(len(groups), 1) * row_height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    total = len(audit.duplicates.members())
    title = f"Leakage audit: {audit.dataset}: {audit.duplicates.describe()}"
    draw.text(
        (gap, 6),
        title + (f", the first {len(groups)} shown" if total > len(groups) else ""),
        fill=(255, 255, 255),
        font=ImageFont.load_default(size=16),
    )
    draw.text((gap, 28), audit.duplicates.criterion(), fill=(170, 170, 170), font=font)
    for number, group in enumerate(groups):
        top = header + number * row_height
        members = group[:SHEET_MEMBERS]
        draw.text((gap, top + gap), f"group {number + 1}", fill=(255, 255, 255), font=font)
        draw.text((gap, top + gap + line), f"{len(group)} images", fill=(170, 170, 170), font=font)
        for column, (index, image) in enumerate(zip(members, audit.pool.read(members), strict=True)):
            left = label_width + column * (THUMBNAIL + gap)
            sheet.paste(Image.fromarray(image).resize((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS), (left, top))
            captions = (
                _fit(origin(audit.pool.source, int(index)), font, THUMBNAIL, keep_end=True),
                _fit(_part_change(audit, int(index)), font, THUMBNAIL),
                _fit(audit.pool.class_names[int(audit.pool.labels[index])], font, THUMBNAIL),
            )
            for k, caption in enumerate(captions):
                draw.text((left, top + THUMBNAIL + 2 + k * line), caption, fill=(200, 200, 200), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def write_audit_report(audit: Audit, out_dir: Path) -> tuple[Path, Path]:
    """``out_dir/audit_<dataset>.md`` and its PNG of the groups; returns both paths."""
    stem = f"audit_{audit.dataset.replace(':', '_')}"
    sheet = write_sheet(audit, out_dir / f"{stem}.png")
    markdown = out_dir / f"{stem}.md"
    markdown.write_text(audit_markdown(audit, sheet.name))
    return markdown, sheet
