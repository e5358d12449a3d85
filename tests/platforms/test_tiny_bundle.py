"""The shipped tiny bundle (tests/data/tiny-bundle) is what the fixtures would convert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from testkit import CLASSES, SHIPPED_TINY_BUNDLE

from models.bundle import load_bundle
from models.engines import open_engine


def test_shipped_tiny_bundle_verifies_and_runs() -> None:
    bundle = load_bundle(SHIPPED_TINY_BUNDLE)  # every file's size and sha256
    assert bundle.classes == (*CLASSES, "background")
    assert (bundle.input.height, bundle.input.width) == (64, 64)
    assert sum(f.stat().st_size for f in Path(SHIPPED_TINY_BUNDLE).iterdir()) < 12e6
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    with open_engine(bundle, backend="litert") as engine:
        labels = engine.infer(frames)
    assert labels.shape == (2, 64, 64) and labels.max() < len(bundle.classes)
