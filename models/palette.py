"""Class colour palettes: the PASCAL VOC palette and the CamVid colours.

The VOC palette is generated with the devkit's bit-interleave algorithm (labelcolormap.m):
each of the three low bits of the class index goes to the top bits of R, G and B in turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from models.labels import BACKGROUND

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
VOC_VOID = 255  # border / difficult pixels in VOC masks

# CamVid 11 classes in SegNet order (indices 0..10 in the *annot PNGs); 11 is "unlabelled".
CAMVID_CLASSES: tuple[str, ...] = (
    "sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car",
    "pedestrian", "bicyclist", "unlabelled",
)
# Colours as used by the SegNet tutorial for the 11 classes, unlabelled black.
CAMVID_COLORS: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
    (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
    (0, 128, 192), (0, 0, 0),
)


def voc_palette(n: int = 256) -> np.ndarray:
    """Return an (n, 3) uint8 RGB palette built like the VOC devkit's labelcolormap."""
    index = np.arange(n, dtype=np.int64)
    palette = np.zeros((n, 3), dtype=np.int64)
    for shift in range(8):  # each round places one bit of each channel, high bit first
        for channel in range(3):
            bit = (index >> (3 * shift + channel)) & 1
            palette[:, channel] |= bit << (7 - shift)
    return palette.astype(np.uint8)


def palette_for(classes: list[str] | tuple[str, ...],
                colours: Mapping[str, Sequence[int]] | None = None) -> np.ndarray:
    """Colours for a list of class names (a bundle's labels, background included).

    `colours` (from a training config's palette) wins for the names it gives. Otherwise CamVid
    names get the CamVid colours, VOC names their VOC colour, background black, and any other
    name the next VOC palette colour (from index 1) that no other class of the list uses, so
    one's own classes are distinct and never black.
    """
    chosen = {name: tuple(int(c) for c in rgb) for name, rgb in (colours or {}).items()}
    free = [name for name in classes if name not in chosen]
    if free and all(name in CAMVID_CLASSES or name == BACKGROUND for name in free) and any(
        name in CAMVID_CLASSES for name in free
    ):
        camvid = dict(zip(CAMVID_CLASSES, CAMVID_COLORS, strict=True))
        camvid[BACKGROUND] = (0, 0, 0)
        chosen.update({name: camvid[name] for name in free})
    voc = [tuple(int(c) for c in rgb) for rgb in voc_palette(256)]
    for name in free:
        if name == BACKGROUND:
            chosen.setdefault(name, (0, 0, 0))
        elif name in VOC_CLASSES:
            chosen.setdefault(name, voc[VOC_CLASSES.index(name)])
    used = set(chosen.values())
    spare = (rgb for rgb in voc[1:] if rgb not in used)
    for name in classes:
        if name not in chosen:
            chosen[name] = next(spare)
    return np.array([chosen[name] for name in classes], dtype=np.uint8).reshape(-1, 3)
