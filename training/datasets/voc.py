"""PASCAL VOC segmentation data set (VOCdevkit layout).

    root/VOCdevkit/VOC{year}/ImageSets/Segmentation/{split}.txt
                            /JPEGImages/{id}.jpg
                            /SegmentationClass/{id}.png

`root` may also point at VOCdevkit or at VOCdevkit/VOC{year} directly. Masks are palette PNGs whose
indices are the class ids (read directly, never through their colours); grey index PNGs (e.g.
SegmentationClassAug) work too, and RGB colour masks are decoded with one vectorised lookup
(unknown colours -> void). Index 255 (object borders, difficult regions) is void: all zeros in the
one-hot, never background, and left at 255 by `sample_indices` so evaluation can ignore it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.palette import VOC_CLASSES, VOC_VOID, voc_palette
from training.datasets.common import DatasetError, read_index_mask
from training.datasets.pairs import ImageMaskPairs

__all__ = ["VOC", "read_ids", "resolve_voc_dir", "validate_voc_classes", "voc_split_file"]

log = logging.getLogger(__name__)

VOC_COLORS = voc_palette(256)[: len(VOC_CLASSES)]
VOC_VOID_COLOR = tuple(int(c) for c in voc_palette(256)[VOC_VOID])  # (224, 224, 192)
CACHE_VERSION = 1


def resolve_voc_dir(root: str | Path, year: str | None = "2012") -> Path:
    """Find the VOC folder: VOC{year} (or a folder named `year`) under root or root/VOCdevkit,
    or root itself; without a year, root itself, else the one VOC folder (VOC2012 of several)."""
    root = Path(root).expanduser()

    def is_voc(folder: Path) -> bool:
        return (folder / "ImageSets").is_dir() or (folder / "JPEGImages").is_dir()

    if year is not None:
        names = [f"VOC{year}", str(year)]
        candidates = [base / name for name in names for base in (root / "VOCdevkit", root)]
        for candidate in [*candidates, root]:
            if is_voc(candidate):
                return candidate
        raise DatasetError(
            f"no VOC{year} data set under {root} (looked for {candidates[0]}, {candidates[1]} "
            f"and {root} with ImageSets/ and JPEGImages/)"
        )
    if is_voc(root):
        return root
    found = sorted(folder for base in (root / "VOCdevkit", root) if base.is_dir()
                   for folder in base.iterdir() if folder.is_dir() and is_voc(folder))
    preferred = [folder for folder in found if folder.name == "VOC2012"]
    if len(found) == 1 or preferred:
        return (preferred or found)[0]
    if found:
        raise DatasetError(f"several VOC data sets under {root} "
                           f"({', '.join(f.name for f in found)}): set data.year")
    raise DatasetError(f"no VOC-layout data set under {root} (a folder with JPEGImages/ and "
                       f"ImageSets/Segmentation/, itself or in {root / 'VOCdevkit'})")


def voc_split_file(voc_dir: Path, split: str) -> Path:
    """A split name's file (ImageSets/Segmentation/<split>.txt), or a .txt path under voc_dir."""
    if split.endswith(".txt") or "/" in split:
        path = Path(split).expanduser()
        return path if path.is_absolute() else voc_dir / path
    return voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"


def validate_voc_classes(classes: Sequence[str]) -> list[str]:
    """Check chosen class names against VOC_CLASSES; background is implicit (the extra channel)."""
    if isinstance(classes, str):  # a lone string would otherwise be read letter by letter
        classes = [classes]
    classes = list(classes)
    if not classes:
        raise DatasetError("no VOC classes chosen; valid names: " + ", ".join(VOC_CLASSES[1:]))
    unknown = [name for name in classes if name not in VOC_CLASSES]
    if unknown:
        raise DatasetError(
            f"unknown VOC class {', '.join(map(repr, unknown))}; valid names: "
            + ", ".join(VOC_CLASSES[1:])
        )
    if "background" in classes:
        raise DatasetError(
            "do not list 'background' in VOC classes: with more than one class it is added "
            "as the last channel automatically"
        )
    if len(set(classes)) != len(classes):
        raise DatasetError(f"VOC classes listed twice: {classes}")
    return classes


def read_ids(split_file: Path) -> list[str]:
    if not split_file.is_file():
        raise DatasetError(f"split file not found: {split_file}")
    try:
        lines = split_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read split file {split_file}: {exc}") from exc
    ids = [line.split()[0] for line in lines if line.strip()]
    if not ids:
        raise DatasetError(f"split file lists no ids: {split_file}")
    return ids


class VOC(ImageMaskPairs):
    """PASCAL VOC segmentation: `ds[i] -> (image (H,W,3) uint8 RGB, mask (H,W,N) float32)`.

    N = len(classes), plus a last background channel when more than one class is chosen. Only
    file lists are read in __init__; the exception is `only_with_classes` (default: on for a single
    class), which reads every mask of the split once to keep just the ids containing a chosen
    class, and caches that list as JSON in `cache_dir` (default root/.segcam-cache) so the next
    construction reads no masks. An unwritable cache dir only means no caching.
    `sample_indices` gives the raw class-index mask (0..20, 255 void).
    """

    def __init__(
        self,
        root: str | Path,
        year: str = "2012",
        split: str = "train",
        classes: Sequence[str] = ("person",),
        only_with_classes: bool | None = None,
        cache_dir: str | Path | None = None,
        masks_subdir: str = "SegmentationClass",
        images_subdir: str = "JPEGImages",
    ) -> None:
        self.root = Path(root).expanduser()
        self.year = None if year is None else str(year)
        self.split = split
        self.classes = validate_voc_classes(classes)
        self.class_values = [VOC_CLASSES.index(name) for name in self.classes]
        self.void = VOC_VOID
        self.voc_dir = resolve_voc_dir(self.root, self.year)
        self.images_dir = self.voc_dir / images_subdir
        self.masks_dir = self.voc_dir / masks_subdir
        self.split_file = voc_split_file(self.voc_dir, split)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / ".segcam-cache"

        ids = read_ids(self.split_file)
        if only_with_classes is None:
            only_with_classes = len(self.classes) == 1
        self.only_with_classes = only_with_classes
        self.ids = self._ids_with_classes(ids) if only_with_classes else ids
        if not self.ids:
            raise DatasetError(
                f"no image in {self.split_file} contains {', '.join(self.classes)} "
                f"(masks in {self.masks_dir})"
            )

    # -- paths and masks -----------------------------------------------------------------------
    def image_path(self, i: int) -> Path:
        return self.images_dir / f"{self.ids[i]}.jpg"

    def mask_path(self, i: int) -> Path:
        return self.masks_dir / f"{self.ids[i]}.png"

    def _read_mask(self, i: int) -> np.ndarray:
        return self._read_voc_mask(self.mask_path(i))

    @staticmethod
    def _read_voc_mask(path: Path) -> np.ndarray:
        mask = read_index_mask(
            path, colors=VOC_COLORS, void_color=VOC_VOID_COLOR, void=VOC_VOID, palette_as_index=True
        )
        # indices 21..254 cannot be VOC classes: treat them as void rather than background
        stray = (mask >= len(VOC_CLASSES)) & (mask != VOC_VOID)
        if stray.any():
            mask = mask.copy()
            mask[stray] = VOC_VOID
        return mask

    # -- only_with_classes scan and its cache --------------------------------------------------
    def _cache_path(self) -> Path:
        safe_split = re.sub(r"[^A-Za-z0-9_.-]", "_", self.split)
        return (self.cache_dir /
                f"voc{self.year or self.voc_dir.name}-{safe_split}-{'+'.join(self.classes)}.json")

    def _cache_key(self, ids: list[str]) -> dict[str, object]:
        # the split's content is part of the key: an edited split file invalidates the cache
        digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()
        return {
            "version": CACHE_VERSION,
            "year": self.year,
            "split": self.split,
            "classes": self.classes,
            "masks_dir": self.masks_dir.name,
            "split_sha1": digest,
        }

    def _ids_with_classes(self, ids: list[str]) -> list[str]:
        key = self._cache_key(ids)
        cache_path = self._cache_path()
        try:
            cached = json.loads(cache_path.read_text())
            if cached.get("key") == key:
                return list(cached["ids"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # no cache or a broken one: scan
        kept = []
        for image_id in ids:
            mask = self._read_voc_mask(self.masks_dir / f"{image_id}.png")
            counts = np.bincount(mask.ravel(), minlength=256)  # one pass for all chosen classes
            if counts[self.class_values].any():
                kept.append(image_id)
        log.info(
            "VOC%s %s: %d of %d images contain %s",
            self.year, self.split, len(kept), len(ids), "/".join(self.classes),
        )  # fmt: skip
        self._write_cache(cache_path, {"key": key, "ids": kept})
        return kept

    @staticmethod
    def _write_cache(path: Path, payload: dict[str, object]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # write then rename so a crash never leaves half a JSON file behind
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(payload, f)
                os.replace(tmp, path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.info("VOC id cache not written (%s): %s", path, exc)
