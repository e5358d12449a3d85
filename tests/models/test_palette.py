"""The VOC palette (devkit bit-interleave) and palette_for on CamVid and VOC class names."""

from __future__ import annotations

import numpy as np

from models.palette import (
    CAMVID_CLASSES,
    CAMVID_COLORS,
    VOC_CLASSES,
    VOC_VOID,
    palette_for,
    voc_palette,
)

# The 21 colours of the VOC classes as published with the devkit.
EXPECTED_VOC = {
    "background": (0, 0, 0),
    "aeroplane": (128, 0, 0),
    "bicycle": (0, 128, 0),
    "bird": (128, 128, 0),
    "boat": (0, 0, 128),
    "bottle": (128, 0, 128),
    "bus": (0, 128, 128),
    "car": (128, 128, 128),
    "cat": (64, 0, 0),
    "chair": (192, 0, 0),
    "cow": (64, 128, 0),
    "diningtable": (192, 128, 0),
    "dog": (64, 0, 128),
    "horse": (192, 0, 128),
    "motorbike": (64, 128, 128),
    "person": (192, 128, 128),
    "pottedplant": (0, 64, 0),
    "sheep": (128, 64, 0),
    "sofa": (0, 192, 0),
    "train": (128, 192, 0),
    "tvmonitor": (0, 64, 128),
}


def test_voc_classes_are_the_21_devkit_names_in_order() -> None:
    assert tuple(EXPECTED_VOC) == VOC_CLASSES
    assert len(VOC_CLASSES) == 21


def test_voc_palette_gives_exactly_the_21_class_colours() -> None:
    palette = voc_palette(21)
    assert palette.shape == (21, 3)
    assert palette.dtype == np.uint8
    for index, (name, colour) in enumerate(EXPECTED_VOC.items()):
        assert tuple(int(c) for c in palette[index]) == colour, name


def test_voc_palette_void_index_255_is_the_border_colour() -> None:
    palette = voc_palette(256)
    assert palette.shape == (256, 3)
    assert tuple(int(c) for c in palette[VOC_VOID]) == (224, 224, 192)
    # the first 21 entries do not depend on the palette length
    assert np.array_equal(palette[:21], voc_palette(21))


def test_voc_palette_colours_are_distinct() -> None:
    palette = voc_palette(256)
    assert len({tuple(c) for c in palette.tolist()}) == 256


def test_palette_for_camvid_names_gives_camvid_colours() -> None:
    names = ["sky", "road", "car", "pedestrian"]
    expected = [CAMVID_COLORS[CAMVID_CLASSES.index(n)] for n in names]
    assert palette_for(names).tolist() == [list(c) for c in expected]
    assert palette_for(list(CAMVID_CLASSES)).tolist() == [list(c) for c in CAMVID_COLORS]


def test_palette_for_voc_names_gives_voc_colours() -> None:
    names = ["person", "car", "dog", "background"]
    assert palette_for(names).tolist() == [list(EXPECTED_VOC[n]) for n in names]
    assert palette_for(list(VOC_CLASSES)).tolist() == [list(c) for c in EXPECTED_VOC.values()]


def test_own_class_names_get_distinct_colours_and_background_black() -> None:
    """Own classes used to take the VOC colour of their position: the first one was black."""
    names = ["land", "water", "background"]
    palette = palette_for(names).tolist()
    assert palette[2] == [0, 0, 0]
    assert [0, 0, 0] not in palette[:2] and palette[0] != palette[1]
    one = palette_for(["background", "water"]).tolist()
    assert one[0] == [0, 0, 0] and one[1] != [0, 0, 0]
    mixed = palette_for(["person", "water", "background"]).tolist()  # person keeps its colour
    assert mixed[0] == list(EXPECTED_VOC["person"]) and mixed[1] not in (mixed[0], mixed[2])


def test_colours_given_by_name_win() -> None:
    palette = palette_for(["water", "land", "background"], {"water": (0, 90, 255)}).tolist()
    assert palette[0] == [0, 90, 255] and palette[1] not in ([0, 0, 0], [0, 90, 255])
