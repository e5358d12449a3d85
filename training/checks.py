"""Checks before training starts (no TensorFlow): mistakes in the data are one line, exit 2,
within seconds, not a traceback an epoch later.

- the splits open, hold enough images for a batch and share no image;
- every image and its mask have the same size (file headers only, so every pair is checked);
- each class occurs in a sample of the masks (`data.check_samples`), so wrong `values` or
  `colors` are refused instead of training a class that is never there;
- warnings for images scaled up a lot to fit `data.input_size` and crops larger than images.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from models import labels
from models.letterbox import content_size
from training.config import Config, ConfigError
from training.datasets import open_dataset, validation_split
from training.datasets.common import DatasetError
from training.datasets.splits import Limited, check_disjoint

log = logging.getLogger("training")

ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height (cv2.imread applies them)
UPSCALE_WARNING = 2.0


def preflight(config: Config, limit: int | None = None) -> tuple:
    """Open and check the training and validation sets; returns (train, val)."""
    data = config.data
    train_set = open_dataset(data, data.train_split)
    val_set = open_dataset(data, validation_split(data))
    if limit:
        train_set, val_set = Limited(train_set, limit), Limited(val_set, limit)
    check_disjoint(train_set, val_set)
    if len(train_set) < config.train.batch_size:
        raise ConfigError(f"train.batch_size: {config.train.batch_size} is more than the "
                          f"{len(train_set)} training images")
    sizes = {name: check_sizes(ds) for name, ds in (("train", train_set), ("val", val_set))}
    check_classes(config, train_set)
    warn_sizes(config, train_set, sizes["train"])
    log.info("data: %d train (%s), %d val (%s) samples of %s", len(train_set),
             _describe(train_set, data.train_split), len(val_set),
             _describe(val_set, validation_split(data)), data.root)
    return train_set, val_set


def _describe(dataset, split: str) -> str:
    return getattr(dataset, "description", split)


def header_size(path: Path, image: bool) -> tuple[int, int]:
    """(height, width) from the file header, as OpenCV will decode it (EXIF turns included)."""
    try:
        with Image.open(path) as handle:
            width, height = handle.size
            if image and handle.getexif().get(0x0112) in ROTATED:
                width, height = height, width
    except FileNotFoundError:
        raise DatasetError(f"{'image' if image else 'mask'} not found: {path}") from None
    except (UnidentifiedImageError, OSError):
        raise DatasetError(f"cannot read {'image' if image else 'mask'} (corrupt or "
                           f"unsupported format): {path}") from None
    return height, width


def check_sizes(dataset) -> list[tuple[int, int]]:
    """Every image's (height, width); DatasetError at the first pair whose sizes differ."""
    sizes = []
    for i in range(len(dataset)):
        image_path, mask_path = Path(dataset.image_path(i)), Path(dataset.mask_path(i))
        image, mask = header_size(image_path, True), header_size(mask_path, False)
        if image != mask:
            raise DatasetError(f"image and mask sizes differ: {image_path} is "
                               f"{image[1]}x{image[0]}, {mask_path} is {mask[1]}x{mask[0]}")
        sizes.append(image)
    return sizes


def check_classes(config: Config, dataset) -> None:
    """Refuse a class of one's own data that no sampled mask holds (wrong values/colours)."""
    count = min(config.data.check_samples, len(dataset))
    if not count:
        return
    picks = np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(int))
    raw = np.zeros(256, np.int64)  # masks holding each raw value
    seen = np.zeros(256, np.int64)  # masks holding each label
    for i in picks:
        _, mask = dataset.sample_indices(int(i))
        raw += np.bincount(mask.ravel(), minlength=256) > 0
        seen += np.bincount(dataset.labels(mask).ravel(), minlength=256) > 0
    n = len(config.data.classes)
    where = f"of the {len(picks)} sampled from {config.data.train_split}"
    own = config.data.dataset == "folder" or config.data.values or config.data.colors
    for k, name in enumerate(config.data.classes):
        if seen[labels.class_label(k, n)]:
            continue
        value = dataset.class_values[k]
        if not own:
            log.warning("data.classes: no mask %s holds %r", where, name)
        elif config.data.colors is not None:
            raise DatasetError(f"data.colors: no mask {where} holds {config.data.colors[k]} "
                               f"(class {name!r}); check the colours of the masks")
        else:
            found = ", ".join(str(v) for v in np.flatnonzero(raw))
            key = "data.values" if config.data.values is not None else "data.values (default)"
            raise DatasetError(f"{key}: no mask {where} holds {value} (class {name!r}); "
                               f"the masks hold {found}")
    if own and config.data.colors is None:
        known = {*dataset.class_values, 0}
        if dataset.void is not None:
            known.add(dataset.void)
        other = [v for v in np.flatnonzero(raw) if v not in known]
        if other:
            log.warning("data.values: mask values %s are no class and not void_value: they are "
                        "learned as background", ", ".join(map(str, other)))


def warn_sizes(config: Config, dataset, sizes: list[tuple[int, int]]) -> None:
    """Warn about images scaled up a lot, and crops larger than the fitted images."""
    input_h, input_w = config.data.input_size
    fitted = [content_size(h, w, input_h, input_w) for h, w in sizes]
    scales = [fh / h for (h, _), (fh, _) in zip(sizes, fitted, strict=True)]
    small = [i for i, scale in enumerate(scales) if scale > UPSCALE_WARNING]
    if small:
        i = min(small, key=lambda j: sizes[j][0] * sizes[j][1])
        log.warning("%d of %d training images are scaled up more than %.0fx to fit "
                    "data.input_size %dx%d (height x width; smallest %dx%d: %s)", len(small),
                    len(sizes), UPSCALE_WARNING, input_h, input_w, *sizes[i],
                    dataset.image_path(i))
    crops = [config.train.augment.crop] + [phase.crop for phase in config.train.phases]
    for crop in {c for c in crops if c is not None}:
        if crop[0] > input_h or crop[1] > input_w:
            log.warning("train.augment.crop %dx%d is larger than data.input_size %dx%d: every "
                        "crop is padded with void", *crop, input_h, input_w)
            continue
        under = [i for i, size in enumerate(fitted) if short_of(size, crop)]
        if under:
            i = under[0]
            log.warning("%d of %d training images are smaller than the crop %dx%d (height x "
                        "width) once fitted to data.input_size %dx%d (e.g. %s: %dx%d, %s); "
                        "their crops are padded with void", len(under), len(fitted), *crop,
                        input_h, input_w, dataset.image_path(i), *fitted[i],
                        short_of(fitted[i], crop))


def short_of(size: tuple[int, int], crop: tuple[int, int]) -> str:
    """How a fitted (height, width) falls short of the crop ('' when the crop fits: a side
    exactly the crop's is no padding), e.g. '1 px short in height'."""
    parts = [f"{want - have} px short in {side}" for have, want, side
             in zip(size, crop, ("height", "width"), strict=True) if have < want]
    return " and ".join(parts)
