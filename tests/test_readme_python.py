"""The README's "The mask in Python" example, run exactly as printed: extracted from README.md,
run by a fresh interpreter in a folder that holds only a street.jpg (a frame of the shipped
clip), so the shipped bundle must be found from the code, not the current folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## The mask in Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_example_runs_as_printed(tmp_path: Path) -> None:
    code = readme_example()
    assert "from models import Segmenter" in code and len(code.splitlines()) <= 10
    capture = cv2.VideoCapture(str(ROOT / "media" / "camvid-val.mp4"))
    ok, frame = capture.read()
    capture.release()
    assert ok
    assert cv2.imwrite(str(tmp_path / "street.jpg"), frame)

    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=180,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]

    from models import Segmenter

    with Segmenter.load() as seg:  # what the example did, checked here in-process
        image = cv2.imread(str(tmp_path / "street.jpg"))
        ids = seg(image)
        road = (ids == seg.classes.index("road")).mean()
        assert result.stdout == f"{seg.classes[ids[300, 200]]} {road:.0%} road\n"
        written = cv2.imread(str(tmp_path / "street_classes.png"))
        np.testing.assert_array_equal(written, seg.colorize(ids))
        assert written.shape == image.shape
        assert (seg(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), channel_order="rgb") == ids).all()
        rgb = seg.colorize(ids, channel_order="rgb")
        np.testing.assert_array_equal(rgb[..., ::-1], written)
        np.testing.assert_array_equal(rgb[0, 0], seg.palette[ids[0, 0]])


def test_every_readme_command_is_segcam() -> None:
    """The command lines (indented blocks) never use the long forms; the prose names them once,
    as equivalents. (`python -m app.outputs.rtsp_auth` is a helper, not a segcam job.)"""
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line for line in lines if line.startswith("    ")]
    long_forms = re.compile(r"python -m (app|training|models)\b(?!\.)")
    assert [line for line in commands if long_forms.search(line)] == []
    assert sum(bool(long_forms.search(line)) for line in lines) == 2  # the equivalents, once
    assert any(line.strip().startswith("segcam predict ") for line in commands)
