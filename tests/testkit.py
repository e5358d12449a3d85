"""Names shared by the tests and their fixtures (a module, so tests can import it)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The converter's output for the tiny Unet below, made once (its README.md): the runtime's tests
# use it where TensorFlow is not installed (a Jetson, the runtime-only venvs).
SHIPPED_TINY_BUNDLE = ROOT / "tests" / "data" / "tiny-bundle"
# Looked up, not imported: importing TensorFlow costs seconds; the converter runs in a subprocess.
NO_TENSORFLOW = (None if find_spec("tensorflow") else
                 "needs TensorFlow (not installed: a runtime-only venv; pip install -r "
                 "requirements-train.txt)")
CLASSES = ["sky", "road", "car"]  # + background: 4 output channels
DECODER = (16, 8, 8, 8, 8)
ASKED_SIZE = "60x64"  # rounded up to 64x64 by the converter


@dataclass(frozen=True)
class Converted:
    weights: Path
    config: Path
    bundle: Path
    stdout: str
    stderr: str
    returncode: int
    samples: Path


def run_models(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m models ...` from the project root, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "models", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


# The console script's own code path (segcam_cli.main:main), as the installed `segcam` runs it,
# but on this checkout's code (the venv's `segcam` may be another checkout's).
SEGCAM = "import sys; from segcam_cli.main import main; sys.argv[0] = 'segcam'; main()"


def run_segcam(*args: str, cwd: Path = ROOT, env: dict | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """`segcam ARGS` from `cwd` (any folder: the code is found through PYTHONPATH)."""
    return subprocess.run([sys.executable, "-c", SEGCAM, *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


# CamVid mask values of the tiny bundle's classes (sky, road, car), a background one and void
CAMVID_VALUES = {"sky": 0, "building": 1, "road": 3, "car": 8, "void": 11}


def write_labelled_tree(root: Path, n_train: int = 8, n_val: int = 4, seed: int = 0) -> Path:
    """A CamVid-layout tree of real PNGs (images larger than 64x64 and not square, so they are
    letterboxed): sky on top, road below, a car box, background and void specks."""
    import cv2
    import numpy as np

    from models.parity import synthetic_frames

    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for i in range(count):
            h, w = (72, 96) if i % 2 else (90, 120)
            mask = np.full((h, w), CAMVID_VALUES["building"], np.uint8)
            mask[: h // 4] = CAMVID_VALUES["sky"]
            mask[3 * h // 4:] = CAMVID_VALUES["road"]
            y, x = int(rng.integers(h // 4, h // 2)), int(rng.integers(0, w - 24))
            mask[y:y + 12, x:x + 24] = CAMVID_VALUES["car"]
            mask[rng.random((h, w)) < 0.02] = CAMVID_VALUES["void"]
            image = synthetic_frames(1, h, w, seed=100 * seed + 10 * (split == "val") + i)[0]
            cv2.imwrite(str(root / split / f"seq_{i:05d}.png"), image)
            cv2.imwrite(str(root / f"{split}annot" / f"seq_{i:05d}.png"), mask)
    return root


def with_precision(bundle: Path, folder: Path, precision: str) -> Path:
    """A copy of the bundle's manifest (files linked) that says which precision to run."""
    import yaml

    from models.bundle import MANIFEST

    folder.mkdir()
    for item in bundle.iterdir():
        if item.name != MANIFEST:
            (folder / item.name).symlink_to(item)
    manifest = yaml.safe_load((bundle / MANIFEST).read_text())
    manifest["precision"] = precision
    (folder / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder
