"""predictions.png: rows of image | truth | prediction under a title band, for a look at what a
model gets wrong (`python -m training evaluate --grid`). OpenCV only, no plotting library."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

TITLES = ("image", "truth", "prediction")
TITLE_HEIGHT = 24  # px of the band above the columns
PANEL_WIDTH = (128, 480)  # each column's width: the widest image's, within these bounds
GAP = 4  # px between rows and between columns
BACKGROUND = (48, 48, 48)  # RGB of the band and the gaps
TEXT = (255, 255, 255)

Row = tuple[np.ndarray, np.ndarray, np.ndarray]  # RGB image, truth labels, predicted labels


def colorize(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[np.where(labels < 0, 255, labels).astype(np.uint8)]  # void drawn black


def prediction_grid(rows: Sequence[Row], palette: np.ndarray) -> np.ndarray:
    """One RGB picture: the titles, then each row's three panels scaled to one column width
    (images of any size line up under their title)."""
    width = int(np.clip(max(image.shape[1] for image, _, _ in rows), *PANEL_WIDTH))
    lines = [_title_band(width)]
    for image, truth, prediction in rows:
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        panels = [cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)]
        panels += [cv2.resize(colorize(labels, palette), (width, height),
                              interpolation=cv2.INTER_NEAREST) for labels in (truth, prediction)]
        lines.append(_join(panels, axis=1))
    return _join(lines, axis=0)


def save_prediction_grid(rows: Sequence[Row], path: Path, palette: np.ndarray | None) -> None:
    """The grid as a PNG (palette: the bundle's or the config's; default VOC's colours)."""
    from models.palette import voc_palette

    palette = voc_palette(256) if palette is None else palette
    cv2.imwrite(str(path), cv2.cvtColor(prediction_grid(rows, palette), cv2.COLOR_RGB2BGR))


def _title_band(width: int) -> np.ndarray:
    band = np.empty((TITLE_HEIGHT, 3 * width + 2 * GAP, 3), np.uint8)
    band[:] = BACKGROUND
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    for k, title in enumerate(TITLES):
        (text_w, text_h), _ = cv2.getTextSize(title, font, scale, thickness)
        x = k * (width + GAP) + max(0, (width - text_w) // 2)
        y = (TITLE_HEIGHT + text_h) // 2
        cv2.putText(band, title, (x, y), font, scale, TEXT, thickness, cv2.LINE_AA)
    return band


def _join(parts: list[np.ndarray], axis: int) -> np.ndarray:
    """Parts side by side (axis 1) or stacked (axis 0), GAP px of BACKGROUND between them."""
    shape = list(parts[0].shape)
    shape[axis] = GAP
    gap = np.empty(shape, np.uint8)
    gap[:] = BACKGROUND
    joined = [parts[0]]
    for part in parts[1:]:
        joined += [gap, part]
    return np.concatenate(joined, axis=axis)
