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
