"""Helpers shared by the CamVid, VOC and Folder data sets.

Reading images and masks with clear one-line errors, colour-mask decoding (one vectorised lookup),
one-hot encoding with void pixels kept apart, and image/mask pair checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from models import labels

__all__ = [
    "DatasetError",
    "check_pair",
    "colors_to_index",
    "label_map",
    "one_hot",
    "pack_rgb",
    "read_color_mask",
    "read_index_mask",
    "read_rgb",
]


class DatasetError(ValueError):
    """A data set problem; the message is one line and names the file(s) involved."""


def _read_rgb_file(path: str | Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{what} not found: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"cannot read {what} (corrupt or unsupported format): {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB; a missing or unreadable file raises DatasetError."""
    return _read_rgb_file(path, "image")


def read_color_mask(path: str | Path) -> np.ndarray:
    """Read a colour mask as (H, W, 3) uint8 RGB (palette PNGs are expanded to their colours)."""
    return _read_rgb_file(path, "mask")


def read_index_mask(
    path: str | Path,
    *,
    colors: Sequence[Sequence[int]] | np.ndarray | None = None,
    void_color: Sequence[int] | None = None,
    void: int = 255,
    unknown: int | None = None,
    palette_as_index: bool = True,
) -> np.ndarray:
    """Read a class-index mask as (H, W) uint8.

    A palette PNG (PIL mode "P") gives its indices directly: cv2 would expand it to colours.
    Other files are read with cv2.IMREAD_UNCHANGED. A colour (3/4-channel) mask is decoded with
    `colors_to_index` when `colors` is given, else it is a DatasetError. With
    `palette_as_index=False` a palette PNG is decoded through its colours as well (for user data
    whose palette order need not match the class order).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"mask not found: {path}")
    try:
        with Image.open(path) as img:  # header only: cheap way to learn the mode
            if img.mode == "P" and (palette_as_index or colors is None):
                return np.asarray(img, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"cannot read mask (corrupt or unsupported format): {path}") from exc

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DatasetError(f"cannot read mask (corrupt or unsupported format): {path}")
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim == 3:
        if colors is None:
            raise DatasetError(
                f"mask has {raw.shape[2]} channels (a colour mask) but no class colours were "
                f"given to decode it: {path}"
            )
        if raw.dtype != np.uint8:
            raise DatasetError(f"colour mask must be 8-bit, got {raw.dtype}: {path}")
        code = cv2.COLOR_BGRA2RGB if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB
        rgb = cv2.cvtColor(raw, code)
        return colors_to_index(rgb, colors, void=void, void_color=void_color, unknown=unknown)
    if raw.dtype != np.uint8:
        # 16-bit index masks are fine as long as every index fits in uint8
        if raw.size and (raw.min() < 0 or raw.max() > 255):
            raise DatasetError(f"mask indices outside 0..255 ({raw.dtype}): {path}")
        raw = raw.astype(np.uint8)
    return raw


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack (..., 3) uint8 RGB into one uint32 per pixel: (r << 16) | (g << 8) | b."""
    rgb = np.asarray(rgb)
    packed = rgb[..., 0].astype(np.uint32) << 16
    packed |= rgb[..., 1].astype(np.uint32) << 8
    packed |= rgb[..., 2]
    return packed


@lru_cache(maxsize=8)
def _color_table(
    colors: tuple[tuple[int, int, int], ...],
    void_color: tuple[int, int, int] | None,
    void: int,
    unknown: int,
) -> np.ndarray:
    """A 2^24-entry uint8 table packed colour -> class index (16 MB, built once per palette)."""
    if not (0 <= void <= 255 and 0 <= unknown <= 255):
        raise DatasetError(f"void and unknown codes must be in 0..255, got {void}, {unknown}")
    table = np.full(1 << 24, unknown, dtype=np.uint8)
    if void_color is not None:
        table[pack_rgb(np.array(void_color, dtype=np.uint8))] = void
    # later duplicates must not override earlier ones: assign in reverse order
    packed = pack_rgb(np.array(colors, dtype=np.uint8).reshape(-1, 3))
    table[packed[::-1]] = np.arange(len(colors), dtype=np.uint8)[::-1]
    return table


def _normalise_colors(
    colors: Sequence[Sequence[int]] | np.ndarray,
) -> tuple[tuple[int, int, int], ...]:
    arr = np.asarray(colors)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DatasetError(f"colours must be a list of [r, g, b], got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise DatasetError("colour components must be in 0..255")
    if len(arr) > 255:
        raise DatasetError(f"at most 255 class colours are supported, got {len(arr)}")
    return tuple((int(r), int(g), int(b)) for r, g, b in arr)


def colors_to_index(
    rgb_mask: np.ndarray,
    colors: Sequence[Sequence[int]] | np.ndarray,
    void: int = 255,
    void_color: Sequence[int] | None = None,
    unknown: int | None = None,
) -> np.ndarray:
    """Decode an (H, W, 3) uint8 RGB colour mask to (H, W) uint8 class indices.

    Colour `colors[k]` becomes index k; `void_color` becomes `void`; any colour not listed becomes
    `unknown` (default: `void`, as VOC wants; a user folder may map it to a background code).
    One vectorised lookup: pack each pixel to a 24-bit int and index a cached 2^24 uint8 table.
    """
    rgb_mask = np.asarray(rgb_mask)
    if rgb_mask.ndim != 3 or rgb_mask.shape[2] != 3 or rgb_mask.dtype != np.uint8:
        raise DatasetError(
            f"colour mask must be (H, W, 3) uint8, got {rgb_mask.shape} {rgb_mask.dtype}"
        )
    table = _color_table(
        _normalise_colors(colors),
        None if void_color is None else _normalise_colors([void_color])[0],
        int(void),
        int(void if unknown is None else unknown),
    )
    return table[pack_rgb(rgb_mask)]


def one_hot(
    index_mask: np.ndarray,
    class_values: Sequence[int],
    add_background: bool,
    void: int | None = None,
) -> np.ndarray:
    """One-hot encode an (H, W) index mask to (H, W, N) float32.

    Channel k is `index_mask == class_values[k]`. With `add_background`, one extra LAST channel
    holds every other pixel (unselected classes become background). Pixels equal to `void` are
    zero in every channel, so a loss can ignore them rather than learn them as background.
    """
    index_mask = np.asarray(index_mask)
    if index_mask.ndim != 2:
        raise DatasetError(f"index mask must be (H, W), got {index_mask.shape}")
    if index_mask.dtype != np.uint8:
        if index_mask.size and (index_mask.min() < 0 or index_mask.max() > 255):
            raise DatasetError("index mask values must be in 0..255")
        index_mask = index_mask.astype(np.uint8)
    if any(not 0 <= int(v) <= 255 for v in class_values):
        raise DatasetError(f"class values must be in 0..255, got {list(class_values)}")
    n = len(class_values) + (1 if add_background else 0)
    # one 256-entry lookup value -> channel (-1 = no channel) instead of N comparisons
    lut = np.full(256, n - 1 if add_background else -1, dtype=np.int16)
    for k in reversed(range(len(class_values))):
        lut[int(class_values[k])] = k
    if void is not None:
        lut[int(void)] = -1
    channel = lut[index_mask]
    return (channel[..., None] == np.arange(n, dtype=np.int16)).astype(np.float32)


def label_map(
    index_mask: np.ndarray, class_values: Sequence[int], void: int | None = None
) -> np.ndarray:
    """An (H, W) index mask as labels by the label rule (models.labels), void as labels.VOID.

    Class k's value becomes its label, `void` becomes VOID, and every other value background:
    with one class background is a label (0) of its own, so it is learned and scored, never
    mistaken for void.
    """
    n = len(class_values)
    lut = np.full(256, labels.background_label(n), dtype=np.uint8)
    for k in reversed(range(n)):  # the first class listed wins a value given twice
        lut[int(class_values[k])] = labels.class_label(k, n)
    if void is not None:
        lut[int(void)] = labels.VOID
    return lut[np.asarray(index_mask, dtype=np.uint8)]


def check_pair(
    image_path: str | Path, mask_path: str | Path, image: np.ndarray, mask: np.ndarray
) -> None:
    """Raise DatasetError naming both files when image and mask differ in height or width."""
    if image.shape[:2] != mask.shape[:2]:
        ih, iw = image.shape[:2]
        mh, mw = mask.shape[:2]
        raise DatasetError(
            f"image and mask sizes differ: {image_path} is {iw}x{ih}, {mask_path} is {mw}x{mh}"
        )
