"""The OpenCV-GStreamer capture path (what a Jetson uses: JetPack's cv2 has GStreamer) run for
real with Debian's python3-opencv, also built with GStreamer, in a --system-site-packages venv:
the same code the csi:// source runs on a Jetson. What pip puts in that venv and the sources
need (pydantic, requirements-jetson.txt) is linked from this interpreter's environment."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")

CHILD = textwrap.dedent(
    """
    import sys
    import cv2
    from app.sources import SourceOptions
    from app.sources.gst import open_gst
    from app.sources.gst_opencv import OpenCVGstSource

    for uri in sys.argv[1:]:
        with open_gst(uri, SourceOptions(), backend="opencv") as source:
            assert isinstance(source, OpenCVGstSource), type(source)
            frames = []
            while (frame := source.read()) is not None and len(frames) < 20:
                frames.append(frame)
            print(len(frames), *frames[-1].shape, int(frames[-1].mean()))
    """
)


PIP_INSTALLED = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions",
                 "typing_inspection")


def pip_installed(folder: Path) -> Path:
    """A folder for PYTHONPATH with the pip-installed packages the sources import (no download)."""
    folder.mkdir()
    for name in PIP_INSTALLED:
        origin = Path(importlib.util.find_spec(name).origin)
        target = origin.parent if origin.name == "__init__.py" else origin
        (folder / target.name).symlink_to(target)
    return folder


def system_opencv_with_gstreamer() -> str | None:
    """None when Debian's cv2 with GStreamer is there, else why the test cannot run."""
    if not SYSTEM_PYTHON.exists():
        return "no /usr/bin/python3"
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import cv2; print(cv2.getBuildInformation())"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return "Debian's python3-opencv is not installed (apt-get install python3-opencv)"
    if not any("GStreamer" in line and "YES" in line for line in probe.stdout.splitlines()):
        return "the system's cv2 is built without GStreamer"
    version = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout.split()
    if version != [str(part) for part in sys.version_info[:2]]:
        # pydantic_core is compiled: the copy linked from here only loads in the same Python.
        return (f"Debian's cv2 runs on the system Python {'.'.join(version)}, and this "
                f"interpreter's pydantic is built for {sys.version_info[0]}.{sys.version_info[1]}; "
                f"it runs under Python {'.'.join(version)}")
    return None


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer tools not installed")
def test_opencv_gstreamer_capture_in_a_system_site_packages_venv(tmp_path: Path) -> None:
    why = system_opencv_with_gstreamer()
    if why:
        pytest.skip(why)
    venv = tmp_path / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for _ in range(12):
        writer.write(np.full((64, 96, 3), 150, np.uint8))
    writer.release()
    uris = ["gst://videotestsrc is-live=true num-buffers=30 pattern=white ! video/x-raw,width=80,height=48"
            " ! videoconvert",
            f"gst://filesrc location={clip} ! avidemux ! jpegdec ! videoconvert"]
    result = subprocess.run([str(venv / "bin" / "python"), "-c", CHILD, *uris], cwd=ROOT,
                            env={"PYTHONPATH": f"{ROOT}:{pip_installed(tmp_path / 'pip')}",
                                 "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    white, video = (line.split() for line in result.stdout.splitlines())
    assert white[1:4] == ["48", "80", "3"] and int(white[0]) >= 10 and int(white[4]) > 240
    assert video[1:4] == ["64", "96", "3"] and int(video[0]) >= 1 and abs(int(video[4]) - 150) < 8
