"""The TensorRT backend on a real GPU: same labels as ONNX Runtime on the CPU, cache reused.

Runs where `tensorrt` and a CUDA GPU exist (a Jetson, a desktop with the wheels); skipped
elsewhere with the reason the backend gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from testkit import ROOT

from models.engines import open_engine
from models.engines.tensorrt import availability
from models.parity import agreement, synthetic_frames

REASON, DETAIL = availability()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no TensorRT GPU here: {REASON}")
SHIPPED = ROOT / "models" / "camvid-unet"
MIN_AGREEMENT = 0.98  # fp16 on the GPU against fp16 ONNX on the CPU: near-ties may flip


def test_tensorrt_agrees_with_onnx_on_the_cpu_and_reuses_its_engine(tmp_path: Path) -> None:
    frames = synthetic_frames(3, 384, 480, seed=5)
    with open_engine(SHIPPED, backend="onnx", providers=["cpu"]) as reference:
        expected = reference.infer(frames)
    with open_engine(SHIPPED, backend="tensorrt", cache_dir=tmp_path) as engine:
        assert engine.built and engine.on_gpu
        assert engine.describe().startswith("TensorRT FP16 on ")
        labels = engine.infer(frames)
    assert labels.shape == expected.shape and labels.dtype == np.uint8
    assert agreement(labels, expected) >= MIN_AGREEMENT
    with open_engine(SHIPPED, backend="tensorrt", cache_dir=tmp_path) as again:
        assert not again.built
        np.testing.assert_array_equal(again.infer(frames), labels)


def test_auto_picks_tensorrt_here(tmp_path: Path) -> None:
    with open_engine(SHIPPED, cache_dir=tmp_path) as engine:
        assert engine.backend == "tensorrt"
