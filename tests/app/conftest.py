"""What the app tests share: real test media (a short video file, a folder of PNGs), the
engine, an in-process config, polling with a generous deadline, a Pipeline run in a thread."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pytest

T = TypeVar("T")
DEADLINE_S = 90.0  # generous: two busy cores; only a failing test waits this long


def wait_for(condition: Callable[[], T], what: str | Callable[[], str],
             timeout: float = DEADLINE_S, every: float = 0.05) -> T:
    """Poll `condition` until it returns something true, and return that. At the deadline an
    AssertionError names `what` (a callable is asked then, e.g. for the log so far)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


class PipelineThread:
    """pipeline.run() in a thread (started at once); `code` gets its exit code."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.code: list[int] = []
        self.thread = threading.Thread(target=lambda: self.code.append(pipeline.run()),
                                       name="pipeline-run", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 20) -> int:
        """A graceful stop that must end the run within `timeout`; the halt flag only makes
        sure a failing test leaves no thread behind."""
        self.pipeline.stop()
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.pipeline.halt.set()
            self.thread.join(5)
            raise AssertionError(f"pipeline.run() still running {timeout:.0f} s after stop()")
        return self.code[0]


@contextlib.contextmanager
def stop_signals_at_default() -> Iterator[None]:
    """Start the app around this with SIGINT and SIGHUP at their defaults, as in a user's
    terminal. The app leaves a signal ignored when it starts ignored (nohup, `cmd &` in a
    script: on purpose), and these tests are about an app that was not, even when the tests
    themselves run in the background of a script or under nohup."""
    previous = {signum: signal.signal(signum, signal.SIG_DFL)
                for signum in (signal.SIGINT, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def pipeline_config(**overrides):
    """An in-process app config: 160x120 test pattern, no recording, window or telemetry."""
    from app.config import load_app_config

    base = {"source.uri": "test://", "source.fps": 30, "source.width": 160, "source.height": 120,
            "record.enabled": False, "telemetry.enabled": False, "display.enabled": False,
            "pipeline.stats_interval_s": 0.5}
    return load_app_config(None, {**base, **overrides})


def decode(path: Path) -> list[np.ndarray]:
    """Every frame of a video file (a recording or a clip), decoded by OpenCV."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@dataclass(frozen=True)
class Clip:
    """A video written for the tests: frame i is a flat gray of `level(i)` with a moving box."""

    path: Path
    frames: int = 30
    width: int = 160
    height: int = 120
    fps: float = 30.0

    @staticmethod
    def level(i: int) -> int:
        return 20 + i * 7  # distinct, ordered, and far enough apart to survive mp4v


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """30 frames of 160x120 mp4v (OpenCV's FFmpeg writer), about 1 s at 30 fps."""
    clip = Clip(tmp_path_factory.mktemp("media") / "clip.mp4")
    writer = cv2.VideoWriter(str(clip.path), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps,
                             (clip.width, clip.height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for i in range(clip.frames):
        frame = np.full((clip.height, clip.width, 3), clip.level(i), np.uint8)
        cv2.rectangle(frame, (4 * i, 40), (4 * i + 20, 60), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return clip


@pytest.fixture(scope="session")
def png_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """frame_000.png .. frame_004.png, 32x24, frame i filled with blue = 10 * (i + 1),
    plus a notes.txt that a folder source must skip."""
    folder = tmp_path_factory.mktemp("pngs")
    for i in range(5):
        image = np.zeros((24, 32, 3), np.uint8)
        image[:, :, 0] = 10 * (i + 1)
        assert cv2.imwrite(str(folder / f"frame_{i:03d}.png"), image)
    (folder / "notes.txt").write_text("not an image\n")
    return folder


@pytest.fixture
def engine(tiny_bundle):
    """The real LiteRT engine on the tiny bundle, closed after the test."""
    from models.engines import open_engine

    with open_engine(tiny_bundle, backend="litert") as opened:
        yield opened
