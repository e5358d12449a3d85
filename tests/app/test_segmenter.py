"""Letterbox geometry: scale to fit, pad bottom/right, crop the labels back to the frame.

`EchoEngine` is a stand-in with the Engine interface whose "labels" are the blue channel of
what it was given, so every test can see exactly where the frame's pixels went.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.segmenter import Segmenter


class EchoEngine:
    def __init__(self, height: int, width: int) -> None:
        self.input_size = (height, width)
        self.batches: list[np.ndarray] = []

    def infer(self, frames: np.ndarray) -> np.ndarray:
        assert frames.shape[1:] == (*self.input_size, 3) and frames.dtype == np.uint8
        self.batches.append(frames.copy())
        return frames[..., 0].copy()


def gradient(height: int, width: int) -> np.ndarray:
    """A frame whose blue channel is distinct along both axes (1..255, never the pad's 0)."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = 1 + (y * 7 + x * 3) % 255
    return image


def test_360x480_in_a_384x480_model_is_padded_at_the_bottom_and_cropped_back_exactly():
    engine = EchoEngine(384, 480)
    frame = gradient(360, 480)
    labels = Segmenter(engine).segment(frame)
    seen = engine.batches[0][0]
    np.testing.assert_array_equal(seen[:360], frame)  # unscaled, top-left
    assert not seen[360:].any()  # 24 rows of padding at the bottom, as training padded
    np.testing.assert_array_equal(labels, frame[..., 0])  # the crop gives back the frame


def test_720p_is_scaled_to_fit_and_the_labels_keep_the_frame_aspect():
    engine = EchoEngine(384, 480)
    timings: dict[str, float] = {}
    labels = Segmenter(engine).segment(gradient(720, 1280), timings)
    assert labels.shape == (270, 480)  # 1280 -> 480 wide; 720 * 0.375 = 270 high
    assert labels.shape[1] / labels.shape[0] == pytest.approx(1280 / 720)
    assert labels.all()  # every label comes from the frame, none from the padding
    assert not engine.batches[0][0, 270:].any()
    assert set(timings) == {"preprocess", "infer"}


def test_frame_size_changes_between_calls_leave_no_stale_pixels_in_the_padding():
    """The canvas is reused: a smaller or differently shaped frame must not show the last one."""
    engine = EchoEngine(384, 480)
    segmenter = Segmenter(engine)
    segmenter.segment(np.full((720, 1280, 3), 200, np.uint8))  # fills rows 0..269
    labels = segmenter.segment(np.full((480, 360, 3), 9, np.uint8))  # portrait: 384x288
    assert labels.shape == (384, 288) and (labels == 9).all()
    seen = engine.batches[1][0]
    assert not seen[:, 288:].any(), "the right-hand padding kept the previous frame"
    labels = segmenter.segment(np.full((100, 480, 3), 5, np.uint8))  # unscaled, short
    assert labels.shape == (100, 480) and (labels == 5).all()
    assert not engine.batches[2][0, 100:].any()


def test_a_frame_of_the_input_size_is_passed_through_and_a_thin_one_still_works():
    engine = EchoEngine(64, 64)
    segmenter = Segmenter(engine)
    frame = gradient(64, 64)
    np.testing.assert_array_equal(segmenter.segment(frame), frame[..., 0])
    assert segmenter.segment(np.full((1, 2000, 3), 3, np.uint8)).shape == (1, 64)


def test_real_engine_labels_cover_the_frame(tiny_bundle):
    from models.engines import open_engine

    with open_engine(tiny_bundle, backend="litert") as engine:
        height, width = engine.input_size
        frame = gradient(height * 3 // 4, width)
        labels = Segmenter(engine).segment(frame)
    assert labels.shape == frame.shape[:2] and labels.dtype == np.uint8
    assert labels.max() < len(engine.classes)
