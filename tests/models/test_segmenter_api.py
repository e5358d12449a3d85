"""`from models import Segmenter`: class ids at the frame's size from either channel order,
the palette picture, and a wrong argument as one readable ValueError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import Segmenter
from models.engines import EngineError
from models.letterbox import Letterbox, to_frame
from models.parity import synthetic_frames


@pytest.fixture(scope="module")
def seg(tiny_bundle: Path):
    with Segmenter.load(tiny_bundle, backend="litert", threads=1) as opened:
        yield opened


def test_ids_at_the_frame_size_as_the_letterbox_rule_gives_them(seg: Segmenter) -> None:
    frame = synthetic_frames(1, 90, 130, seed=5)[0]
    ids = seg(frame)
    assert ids.shape == (90, 130) and ids.dtype == np.uint8
    assert seg.classes == ["sky", "road", "car", "background"]
    canvas, (h, w) = Letterbox(*seg.engine.input_size).fit(frame)
    expected = to_frame(seg.engine.infer(canvas[None])[0][:h, :w], 90, 130)
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(seg(np.ascontiguousarray(frame[..., ::-1]), "rgb"), ids)
    again = seg(frame)
    assert again is not ids and not np.shares_memory(again, ids)  # results are the caller's


def test_colorize_uses_the_bundle_palette(seg: Segmenter) -> None:
    ids = np.array([[0, 1], [3, 200]], np.uint8)
    rgb = seg.colorize(ids, channel_order="rgb")
    np.testing.assert_array_equal(rgb[0, 0], seg.palette[0])
    np.testing.assert_array_equal(rgb[1, 0], seg.palette[3])
    assert not rgb[1, 1].any()  # an id the bundle does not have: black
    np.testing.assert_array_equal(seg.colorize(ids), rgb[..., ::-1])
    wide = seg.colorize(np.array([[1, -1, 300]], np.int64), "rgb")
    np.testing.assert_array_equal(wide[0, 0], seg.palette[1])
    assert not wide[0, 1:].any()


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s(np.zeros((4, 4), np.uint8)), "frame must be an (H, W, 3) uint8 image"),
    (lambda s: s(np.zeros((4, 4, 3), np.float32)), "frame must be an (H, W, 3) uint8 image"),
    (lambda s: s(np.zeros((4, 4, 3), np.uint8), "hsv"), "channel_order must be 'bgr' or 'rgb'"),
    (lambda s: s.colorize(np.zeros((2, 2, 3), np.uint8)), "ids must be an (H, W) integer array"),
])
def test_a_wrong_argument_is_one_readable_error(seg: Segmenter, call, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(seg)


def test_a_backend_that_does_not_exist_is_an_engine_error(tiny_bundle: Path) -> None:
    with pytest.raises(EngineError, match="unknown backend 'gpu'"):
        Segmenter.load(tiny_bundle, backend="gpu")
