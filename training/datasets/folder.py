"""A user's own data set: a folder of images and a folder of masks with matching stems.

    images_dir/<stem>.jpg|.jpeg|.png|.bmp      masks_dir/<stem><mask_suffix>   (default ".png")

Masks hold either class indices (`values`: the index of each class; default 1, 2, ... so that 0
is background) or colours (`colors`: the [r, g, b] of each class, decoded with one vectorised
lookup). Pixels of any other value or colour are background; `void_value` / `void_color` pixels
are void: all zeros in the one-hot and kept apart by `sample_indices` for evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.datasets.common import DatasetError, read_index_mask
from training.datasets.pairs import ImageMaskPairs

__all__ = ["IMAGE_EXTENSIONS", "Folder"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
VOID_CODE = 255  # what void colours decode to in colour mode


def _list_files(directory: Path, what: str) -> list[str]:
    if not directory.is_dir():
        raise DatasetError(f"{what} directory not found: {directory}")
    with os.scandir(directory) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())


def _read_split(split_file: Path) -> list[str]:
    if not split_file.is_file():
        raise DatasetError(f"split file not found: {split_file}")
    try:
        lines = split_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read split file {split_file}: {exc}") from exc
    ids = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise DatasetError(f"split file lists no ids: {split_file}")
    return ids


class Folder(ImageMaskPairs):
    """`ds[i] -> (image (H,W,3) uint8 RGB, mask (H,W,N) float32)` for a user's folder pair.

    N = len(classes), plus a last background channel when there is more than one class. Only
    directory listings are read in __init__ (so a missing mask is reported before training).
    `sample_indices` gives in index mode the mask file's values (`class_values` are the
    classes, `void` the void value); in colour mode class k -> k, other colours ->
    len(classes), void colour -> 255.
    """

    def __init__(
        self,
        images_dir: str | Path,
        masks_dir: str | Path,
        ids: Sequence[str] | str | Path | None = None,
        *,
        classes: Sequence[str],
        values: Sequence[int] | None = None,
        colors: Sequence[Sequence[int]] | None = None,
        void_value: int | None = None,
        void_color: Sequence[int] | None = None,
        mask_suffix: str = ".png",
    ) -> None:
        self.images_dir = Path(images_dir).expanduser()
        self.masks_dir = Path(masks_dir).expanduser()
        self.mask_suffix = mask_suffix
        self.classes = self._validate_classes(classes)
        self._setup_encoding(values, colors, void_value, void_color)

        listing = [
            name
            for name in _list_files(self.images_dir, "images")
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS
        ]
        self.image_files = self._resolve_ids(ids, listing)
        self.ids = [Path(name).stem for name in self.image_files]
        self._check_masks_exist()

    # -- set-up --------------------------------------------------------------------------------
    @staticmethod
    def _validate_classes(classes: Sequence[str]) -> list[str]:
        if isinstance(classes, str):  # a lone string would otherwise be read letter by letter
            classes = [classes]
        classes = [str(name) for name in classes]
        if not classes:
            raise DatasetError("no classes given for the folder data set")
        if "background" in classes:
            raise DatasetError(
                "do not list 'background' in classes: every pixel of no listed class is "
                "background, added as the last channel when there is more than one class"
            )
        if len(set(classes)) != len(classes):
            raise DatasetError(f"classes listed twice: {classes}")
        return classes

    def _setup_encoding(
        self,
        values: Sequence[int] | None,
        colors: Sequence[Sequence[int]] | None,
        void_value: int | None,
        void_color: Sequence[int] | None,
    ) -> None:
        n = len(self.classes)
        self.colors: list[list[int]] | None = None
        if colors is not None:
            if values is not None:
                raise DatasetError("give either mask values or mask colours, not both")
            if void_value is not None:
                raise DatasetError("void_value is for index masks; use void_color with colours")
            colors = [list(map(int, c)) for c in colors]
            if n >= VOID_CODE:  # codes 0..n must stay clear of the void code
                raise DatasetError(f"at most {VOID_CODE - 1} colour classes, got {n}")
            if len(colors) != n or any(len(c) != 3 for c in colors):
                raise DatasetError(
                    f"need one [r, g, b] colour per class ({n} classes), got {colors}"
                )
            self.colors = colors
            self.void_color = None if void_color is None else [int(c) for c in void_color]
            # colour k decodes to code k; other colours to code n (no channel = background)
            self.class_values = list(range(n))
            self.unknown_code = n
            self.void = VOID_CODE if void_color is not None else None
            return
        if void_color is not None:
            raise DatasetError("void_color is for colour masks; use void_value with index masks")
        values = list(range(1, n + 1)) if values is None else [int(v) for v in values]
        if len(values) != n:
            raise DatasetError(f"need one mask value per class ({n} classes), got {values}")
        if any(not 0 <= v <= 255 for v in values) or len(set(values)) != n:
            raise DatasetError(f"mask values must be distinct and in 0..255, got {values}")
        if void_value is not None and (not 0 <= void_value <= 255 or void_value in values):
            raise DatasetError(f"void_value {void_value} must be in 0..255 and not a class value")
        self.class_values = values
        self.void_color = None
        self.unknown_code = None
        self.void = void_value

    def _resolve_ids(self, ids: Sequence[str] | str | Path | None, listing: list[str]) -> list[str]:
        if ids is None:
            if not listing:
                raise DatasetError(f"no images ({' '.join(IMAGE_EXTENSIONS)}) in {self.images_dir}")
            by_stem: dict[str, str] = {}
            for name in listing:
                stem = Path(name).stem
                if stem in by_stem:  # both would share one mask: refuse to guess
                    raise DatasetError(
                        f"two images share the stem {stem!r}: {self.images_dir / by_stem[stem]} "
                        f"and {self.images_dir / name}"
                    )
                by_stem[stem] = name
            return listing
        if isinstance(ids, (str, Path)):
            ids = _read_split(Path(ids).expanduser())
        present = set(listing)
        by_stem = {}
        for name in listing:
            by_stem.setdefault(Path(name).stem, name)
        files = []
        for image_id in ids:
            image_id = str(image_id)
            if image_id in present:  # given with its extension
                files.append(image_id)
            elif image_id in by_stem:
                files.append(by_stem[image_id])
            else:
                raise DatasetError(
                    f"no image for id {image_id!r} in {self.images_dir} "
                    f"(tried {', '.join(IMAGE_EXTENSIONS)})"
                )
        if not files:
            raise DatasetError(f"no ids given for {self.images_dir}")
        return files

    def _check_masks_exist(self) -> None:
        masks = set(_list_files(self.masks_dir, "masks"))
        missing = [i for i in range(len(self.ids)) if self.mask_path(i).name not in masks]
        if missing:
            first = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DatasetError(
                f"no mask for image {self.image_path(first)}: expected "
                f"{self.mask_path(first)}{more}"
            )

    # -- paths and masks -----------------------------------------------------------------------
    def image_path(self, i: int) -> Path:
        return self.images_dir / self.image_files[i]

    def mask_path(self, i: int) -> Path:
        return self.masks_dir / f"{self.ids[i]}{self.mask_suffix}"

    def _read_mask(self, i: int) -> np.ndarray:
        image_path, mask_path = self.image_path(i), self.mask_path(i)
        if not mask_path.is_file():  # removed since __init__
            raise DatasetError(f"no mask for image {image_path}: expected {mask_path}")
        if self.colors is None:
            return read_index_mask(mask_path)
        return read_index_mask(
            mask_path,
            colors=self.colors,
            void_color=self.void_color,
            void=VOID_CODE,
            unknown=self.unknown_code,
            palette_as_index=False,  # a user's palette order need not match the class order
        )
