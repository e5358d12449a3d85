from __future__ import annotations

import numpy as np
import pytest

from app.render import Renderer
from models.palette import VOC_CLASSES, voc_palette

PALETTE = voc_palette(21)


def scene(height: int = 120, width: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A grey frame with a 'person' block on the left and a 'car' block on the right."""
    image = np.full((height, width, 3), 100, np.uint8)
    labels = np.zeros((height, width), np.uint8)
    labels[20:80, 10:60] = 15  # person
    labels[40:100, 90:150] = 7  # car
    return image, labels


def blended(rgb: np.ndarray, base: int, alpha: float) -> np.ndarray:
    bgr = rgb[::-1].astype(float)
    return (1 - alpha) * base + alpha * bgr


def test_overlay_blends_palette_colours_and_keeps_hidden_pixels():
    image, labels = scene()
    renderer = Renderer(PALETTE, VOC_CLASSES, alpha=0.5, hidden=["background"], hud=False)
    out = renderer.annotate(image, labels)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out[50, 30] - blended(PALETTE[15], 100, 0.5)).max() <= 1
    assert np.abs(out[70, 120] - blended(PALETTE[7], 100, 0.5)).max() <= 1
    assert (out[5, 5] == 100).all()  # background hidden: untouched
    assert (image == 100).all()  # input not modified


def test_small_label_map_is_scaled_with_nearest_neighbour():
    image = np.zeros((480, 640, 3), np.uint8)
    labels = np.zeros((240, 320), np.uint8)
    labels[:, 160:] = 15
    out = Renderer(PALETTE, alpha=1.0, hidden=[0], hud=False).annotate(image, labels)
    person_bgr = PALETTE[15][::-1]
    assert (out[:, 320:] == person_bgr).all()
    assert (out[:, :320] == 0).all()
    # Only exact palette colours: nothing interpolated between ids.
    assert len(np.unique(out.reshape(-1, 3), axis=0)) == 2


def test_out_of_range_labels_do_not_crash():
    image, labels = scene(60, 80)
    labels[0:10, 0:10] = 255  # VOC void
    labels[10:20, 0:10] = 40
    renderer = Renderer(PALETTE, alpha=0.5, mode="mask", hud=False)
    out = renderer.annotate(image, labels)
    assert (out[0:20, 0:10] == 0).all()
    wide = labels.astype(np.int32)
    wide[0, 0] = -3
    wide[1, 1] = 100000
    overlay = Renderer(PALETTE, alpha=0.5, hud=False).annotate(image, wide)
    assert (overlay[0, 0] == 100).all() and (overlay[1, 1] == 100).all()


def test_mask_and_side_by_side_modes():
    image, labels = scene()
    mask = Renderer(PALETTE, mode="mask", hud=False).annotate(image, labels)
    assert (mask[50, 30] == PALETTE[15][::-1]).all()
    assert (mask[5, 5] == 0).all()
    side = Renderer(PALETTE, mode="side-by-side", hud=False).annotate(image, labels)
    assert side.shape == (120, 320, 3)
    assert (side[:, :160] == image).all()
    assert (side[:, 160:] == mask).all()


def test_legend_lists_only_present_shown_classes_and_hud_draws_text():
    image, labels = scene(240, 320)
    renderer = Renderer(PALETTE, VOC_CLASSES, hidden=[0], legend=True, hud=True)
    assert renderer.classes_present(labels) == [7, 15]
    plain = Renderer(PALETTE, VOC_CLASSES, hidden=[0], legend=False, hud=False)
    base = plain.annotate(image, labels)
    out = renderer.annotate(image, labels, hud_text="12.3 FPS  45 ms")
    # HUD: darkened strip with white text top-left.
    hud = out[0:15, 0:60]
    assert (hud == 255).any() and hud.mean() < base[0:15, 0:60].mean()
    # Legend: top-right panel holds swatches of both present colours.
    panel = out[0:60, 200:]
    for class_id in (7, 15):
        colour = PALETTE[class_id][::-1]
        assert (panel == colour).all(axis=2).sum() >= 20


def test_invalid_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="alpha"):
        Renderer(PALETTE, alpha=1.5)
    with pytest.raises(ValueError, match="mode"):
        Renderer(PALETTE, mode="heatmap")
    with pytest.raises(ValueError, match="not one of"):
        Renderer(PALETTE, VOC_CLASSES, hidden=["sky"])
