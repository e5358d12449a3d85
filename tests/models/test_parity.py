"""Parity frames: the user's sample images resized as BGR, or reproducible synthetic ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.parity import SamplesError, sample_frames, synthetic_frames


def test_sample_frames_are_resized_bgr_images(tmp_path: Path) -> None:
    image = np.zeros((90, 120, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "b.jpg"), image)
    frames = sample_frames(str(tmp_path), 64, 96)
    assert frames.shape == (2, 64, 96, 3) and frames.dtype == np.uint8
    assert frames[..., 0].min() > 240 and frames[..., 2].max() < 15  # still BGR
    assert len(sample_frames(str(tmp_path / "*.png"), 32, 32)) == 1
    with pytest.raises(SamplesError, match="no images"):
        sample_frames(str(tmp_path / "*.tif"), 32, 32)
    synthetic = synthetic_frames(3, 64, 96, seed=1)
    assert synthetic.shape == (3, 64, 96, 3) and synthetic.std() > 20  # not flat
    np.testing.assert_array_equal(synthetic, synthetic_frames(3, 64, 96, seed=1))
