"""Fixtures of the bundle and engine tests (the converted bundle itself is in tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def frames() -> np.ndarray:
    from models.parity import synthetic_frames

    return synthetic_frames(4, 64, 64, seed=11)


@pytest.fixture(scope="session")
def keras_labels(bundle_dir: Path, frames: np.ndarray) -> np.ndarray:
    """fp32 labels of the source checkpoint (found through the bundle's provenance)."""
    from models.bundle import load_bundle
    from training.keras_engine import KerasEngine

    with KerasEngine(load_bundle(bundle_dir)) as engine:
        return engine.infer(frames)


@pytest.fixture
def bundle_copy(bundle_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the converted bundle, free to be broken."""
    return Path(shutil.copytree(bundle_dir, tmp_path / "bundle"))
