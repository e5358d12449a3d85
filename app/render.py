"""Draw a label map over a frame: palette lookup + alpha blend, optional legend and HUD.

`Renderer` is configured once and is stateless per call, so one instance can be shared by the
output thread and by tests. The hot path per frame is a handful of whole-image OpenCV calls:

    resize labels (nearest) -> one gather through a packed BGR lookup table -> addWeighted
    -> copy the original pixels back where the class is hidden (one LUT gives that mask)

Measured against a per-class masking loop in bench/overlay.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)

MODES = ("overlay", "mask", "side-by-side")
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class Renderer:
    """Turn (frame, labels) into an annotated BGR frame.

    palette: (N, 3) uint8 RGB, one colour per class id (as models/palette.py returns it).
    class_names: names for the legend; missing names are shown as the class id.
    alpha: weight of the class colour in overlay mode, 0..1.
    hidden: class ids or names never drawn (e.g. background, void): transparent in overlay,
        black in the mask. Label values outside the palette are treated the same way.
    """

    def __init__(
        self,
        palette: np.ndarray,
        class_names: Sequence[str] = (),
        alpha: float = 0.5,
        hidden: Iterable[int | str] = (),
        mode: str = "overlay",
        legend: bool = False,
        hud: bool = True,
    ) -> None:
        palette = np.asarray(palette)
        if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= 256:
            raise ValueError(f"palette must be (N, 3) with 1 <= N <= 256, got {palette.shape}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must be within 0..1, got {alpha}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.num_classes = len(palette)
        self.class_names = list(class_names)
        self.alpha = float(alpha)
        self.mode = mode
        self.legend = legend
        self.hud = hud
        self.hidden = frozenset(self._class_id(h) for h in hidden)

        # One 256-entry table covers every uint8 label, so out-of-range ids need no clipping.
        bgr = np.zeros((256, 4), np.uint8)
        bgr[: self.num_classes, :3] = palette.astype(np.uint8)[:, ::-1]
        shown = np.zeros(256, bool)
        shown[: self.num_classes] = True
        shown[list(self.hidden)] = False
        bgr[~shown, :3] = 0
        # Packed as uint32 so the colour lookup is a single 1-D gather (numpy's take on a
        # (256, 3) table or a 3-channel cv2.LUT is several times slower here).
        self._lut32 = bgr.view(np.uint32).ravel().copy()
        self._hidden_lut = np.where(shown, 0, 255).astype(np.uint8)
        self._any_hidden = bool((~shown).any())
        self._shown = shown
        self._palette_bgr = bgr[:, :3].copy()

    def _class_id(self, item: int | str) -> int:
        if isinstance(item, str):
            if item not in self.class_names:
                raise ValueError(f"hidden class {item!r} is not one of {self.class_names}")
            return self.class_names.index(item)
        if not 0 <= int(item) <= 255:
            raise ValueError(f"hidden class id {item} is outside 0..255")
        return int(item)

    # -- public ------------------------------------------------------------------------------

    def annotate(
        self, image: np.ndarray, labels: np.ndarray, hud_text: str | None = None
    ) -> np.ndarray:
        """Return a new BGR frame; `image` is not modified."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        labels = self._as_label_map(labels, width, height)
        colour = self.colourise(labels)

        if self.mode == "mask":
            out = colour
        elif self.mode == "side-by-side":
            out = np.empty((height, 2 * width, 3), np.uint8)
            out[:, :width] = image
            out[:, width:] = colour
        else:
            out = cv2.addWeighted(image, 1.0 - self.alpha, colour, self.alpha, 0.0)
            if self._any_hidden:
                # Hidden classes were blended with black above; put the original pixels back.
                cv2.copyTo(image, cv2.LUT(labels, self._hidden_lut), out)

        if self.legend:
            self._draw_legend(out, labels)
        if self.hud and hud_text:
            draw_hud(out, hud_text)
        return out

    def colourise(self, labels: np.ndarray) -> np.ndarray:
        """(H, W) uint8 labels -> (H, W, 3) BGR palette image (hidden classes black)."""
        height, width = labels.shape
        packed = self._lut32.take(labels, mode="clip")  # uint8 ids cannot be out of bounds
        return cv2.cvtColor(packed.view(np.uint8).reshape(height, width, 4), cv2.COLOR_BGRA2BGR)

    def classes_present(self, labels: np.ndarray, stride: int = 1) -> list[int]:
        """Shown class ids that occur in `labels` (every `stride`-th row/column), in id order."""
        sample = np.ascontiguousarray(labels[::stride, ::stride])
        hist = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
        return [int(c) for c in np.flatnonzero((hist > 0) & self._shown)]

    # -- helpers -----------------------------------------------------------------------------

    def _as_label_map(self, labels: np.ndarray, width: int, height: int) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.ndim == 3 and labels.shape[2] == 1:
            labels = labels[:, :, 0]
        if labels.ndim != 2:
            raise ValueError(f"labels must be (h, w), got {labels.shape}")
        if labels.dtype != np.uint8:
            # Anything outside 0..255 becomes 255: out of range for every palette but VOC-256.
            labels = np.where((labels < 0) | (labels > 255), 255, labels).astype(np.uint8)
        if labels.shape != (height, width):
            # Nearest neighbour on the small map: class ids must never be interpolated.
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        return np.ascontiguousarray(labels)

    def _name(self, class_id: int) -> str:
        return self.class_names[class_id] if class_id < len(self.class_names) else str(class_id)

    def _draw_legend(self, out: np.ndarray, labels: np.ndarray) -> None:
        # A 1-in-16 sample keeps this ~20x cheaper than a full histogram; a class smaller
        # than a few pixels may be left out of the legend, where it would not be seen anyway.
        present = self.classes_present(labels, stride=4)
        if not present:
            return
        scale, thickness = _text_scale(out.shape[0])
        (_, text_h), baseline = cv2.getTextSize("Ag", _FONT, scale, thickness)
        row = text_h + baseline + 4
        box = text_h
        text_w = max(cv2.getTextSize(self._name(c), _FONT, scale, thickness)[0][0] for c in present)
        panel_w = box + 6 + text_w + 8
        x0 = max(0, out.shape[1] - panel_w - 4)
        y0 = 4
        panel_h = min(out.shape[0] - y0, row * len(present) + 4)
        _darken(out, x0, y0, x0 + panel_w, y0 + panel_h)
        for i, class_id in enumerate(present):
            y = y0 + 4 + i * row
            if y + row > out.shape[0]:
                break  # more classes than rows: the frame is too small to list them all
            colour = tuple(int(v) for v in self._palette_bgr[class_id])
            cv2.rectangle(out, (x0 + 4, y), (x0 + 4 + box, y + box), colour, -1)
            cv2.rectangle(out, (x0 + 4, y), (x0 + 4 + box, y + box), (255, 255, 255), 1)
            cv2.putText(
                out, self._name(class_id), (x0 + box + 10, y + text_h), _FONT, scale,
                (255, 255, 255), thickness, cv2.LINE_AA,
            )


def draw_hud(out: np.ndarray, text: str) -> None:
    """One line of white text top-left on a darkened strip, drawn in place."""
    scale, thickness = _text_scale(out.shape[0])
    (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    _darken(out, 0, 0, text_w + 12, text_h + baseline + 10)
    cv2.putText(
        out, text, (6, text_h + 5), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA
    )


def _text_scale(frame_height: int) -> tuple[float, int]:
    # Readable from 240p to 1080p without a config knob.
    scale = max(0.35, min(1.0, frame_height / 900))
    return scale, 1 if frame_height < 720 else 2


def _darken(out: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    roi = out[max(0, y0) : min(out.shape[0], y1), max(0, x0) : min(out.shape[1], x1)]
    roi >>= 2  # a quarter of the brightness keeps the scene visible behind the text
