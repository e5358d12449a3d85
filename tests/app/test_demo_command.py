"""The README's first command: `make demo` runs the shipped model on the shipped clip.

The test checks that `make demo` still runs `python -m app --config configs/app.yaml`, then runs
exactly that (with a frame limit and a temporary recording folder) and reads back the video.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.app.conftest import decode

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 12


def test_make_demo_runs_the_app_on_the_demo_config():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -n: print the commands (the install steps too, when due) without running them; under
    # `make test` the parent make's variables would turn this into a verbose sub-make
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(["make", "-n", "--no-print-directory", "demo"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    runs = [line.strip() for line in dry.splitlines() if "/bin/segcam " in line]
    assert len(runs) == 1 and runs[0].endswith("/bin/segcam --config configs/app.yaml"), dry


def test_demo_command_records_the_annotated_clip(tmp_path):
    record = tmp_path / "recordings"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # headless, as on a server
    result = subprocess.run(
        [sys.executable, "-m", "app", "--config", "configs/app.yaml", "--max-frames", str(FRAMES),
         "--record", str(record)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"processed \d+ frames \([\d.]+ FPS average\)", result.stdout), result.stdout
    printed = re.search(r"^recorded (\S+\.mkv)$", result.stdout, re.MULTILINE)
    assert printed, result.stdout[-2000:]
    video = Path(printed.group(1))
    assert video.parent == record and video.is_file()

    frames = decode(video)
    assert len(frames) == FRAMES
    assert frames[0].shape == (360, 480, 3)

    # the overlay is there: the recorded frame differs from the clip's frame where the model
    # labelled something (every pixel of a CamVid frame is some class, so almost everywhere)
    clip = cv2.VideoCapture(str(ROOT / "media/camvid-val.mp4"))
    ok, original = clip.read()
    assert ok
    changed = np.abs(frames[0].astype(int) - original.astype(int)).sum(axis=2) > 30
    assert changed.mean() > 0.5
