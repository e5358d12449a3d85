"""Class colour palettes: the PASCAL VOC palette and the CamVid colours.

The VOC palette is generated with the devkit's bit-interleave algorithm (labelcolormap.m):
each of the three low bits of the class index goes to the top bits of R, G and B in turn.
"""

from __future__ import annotations

import numpy as np

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


def palette_for(classes: list[str] | tuple[str, ...]) -> np.ndarray:
    """Colours for a list of class names: CamVid colours for CamVid names, VOC otherwise.

    A VOC class keeps its VOC colour; any other class gets the next VOC colour by position.
    """
    if all(name in CAMVID_CLASSES or name == "background" for name in classes) and any(
        name in CAMVID_CLASSES for name in classes
    ):
        colours = dict(zip(CAMVID_CLASSES, CAMVID_COLORS, strict=True))
        colours["background"] = (0, 0, 0)
        return np.array([colours[name] for name in classes], dtype=np.uint8)
    voc = voc_palette(256)
    out = []
    for position, name in enumerate(classes):
        out.append(voc[VOC_CLASSES.index(name)] if name in VOC_CLASSES else voc[position])
    return np.array(out, dtype=np.uint8)
