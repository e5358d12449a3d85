"""The app end to end, with real parts: a real clip, a real bundle, real GStreamer recording."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def app_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", "--log-level", "INFO", *args]


def run_app(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(app_command(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def write_config(path: Path, **sections) -> Path:
    import yaml

    base = {"pipeline": {"stats_interval_s": 0.5}, "telemetry": {"enabled": False}}
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(base))
    return path


def decode(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_clip_is_segmented_and_recorded_frame_for_frame(tmp_path, tiny_bundle, clip):
    record = tmp_path / "rec"
    stats = tmp_path / "stats.json"
    config = write_config(tmp_path / "app.yaml", overlay={"mode": "mask", "hidden": [],
                                                           "legend": False, "hud": False},
                          record={"segment_seconds": 1.0})
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source", str(clip.path),
                     "--record", str(record), "--headless", "--stats-json", str(stats))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    segments = sorted(record.glob("*.mkv"))
    assert segments, result.stdout[-2000:]
    frames = [f for s in segments for f in decode(s)]
    report = json.loads(stats.read_text())
    assert report["frames"]["output"] == clip.frames == len(frames)
    assert report["drops"] == {"capture": 0, "inference": 0, "record": 0}

    # the recorded pixels carry the palette colour of the label the model gave there
    from app.engines import open_engine
    from app.segmenter import Segmenter
    from models.bundle import load_bundle

    bundle = load_bundle(tiny_bundle)
    engine = open_engine(bundle, backend="litert")
    segmenter = Segmenter(engine)
    palette_bgr = np.asarray(bundle.palette, np.int16)[:, ::-1]
    source = decode(clip.path)
    agree = []
    for original, recorded in zip(source[::7], frames[::7], strict=True):
        labels = segmenter.segment(original)
        labels = cv2.resize(labels, (original.shape[1], original.shape[0]),
                            interpolation=cv2.INTER_NEAREST)
        distance = np.abs(recorded[:, :, None, :].astype(np.int16) - palette_bgr).sum(-1)
        agree.append(np.mean(distance.argmin(-1) == labels))
    assert np.mean(agree) > 0.9, agree


def test_sigterm_mid_recording_leaves_every_segment_playable(tmp_path, tiny_bundle):
    record = tmp_path / "rec"
    config = write_config(tmp_path / "app.yaml", record={"segment_seconds": 1.0},
                          source={"fps": 15, "width": 160, "height": 120})
    process = subprocess.Popen(app_command("--config", str(config), "--bundle", str(tiny_bundle),
                                           "--source", "test://", "--record", str(record),
                                           "--headless"),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len(list(record.glob("*.mkv"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output[-3000:]
    segments = sorted(record.glob("*.mkv"))
    assert len(segments) >= 3
    for segment in segments:
        assert len(decode(segment)) > 0, segment


def test_sigkill_loses_at_most_the_open_segment(tmp_path, tiny_bundle):
    record = tmp_path / "rec"
    config = write_config(tmp_path / "app.yaml", record={"segment_seconds": 1.0},
                          source={"fps": 15, "width": 160, "height": 120})
    process = subprocess.Popen(app_command("--config", str(config), "--bundle", str(tiny_bundle),
                                           "--source", "test://", "--record", str(record),
                                           "--headless"),
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(record.glob("*.mkv"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    segments = sorted(record.glob("*.mkv"))
    assert len(segments) >= 3
    unplayable = [s for s in segments if not decode(s)]
    assert len(unplayable) <= 1 and (not unplayable or unplayable[0] == segments[-1])


def test_live_source_that_dies_is_reconnected(tmp_path, tiny_bundle):
    stats = tmp_path / "stats.json"
    config = write_config(tmp_path / "app.yaml", source={"reconnect_initial_s": 0.2},
                          record={"enabled": False})
    # a live pipeline that ends after 10 frames, every time it is opened
    uri = ("gst://videotestsrc is-live=true num-buffers=10 ! "
           "video/x-raw,width=96,height=64,framerate=30/1 ! videoconvert ! appsink")
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source", uri,
                     "--headless", "--max-frames", "35", "--stats-json", str(stats))
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads(stats.read_text())
    assert report["reconnects"] >= 3
    assert report["frames"]["captured"] == 35
    assert "source reopened" in result.stdout


def test_source_that_never_comes_back_keeps_retrying_and_stops_on_sigterm(tmp_path, tiny_bundle):
    config = write_config(tmp_path / "app.yaml", source={"reconnect_initial_s": 0.2,
                                                         "reconnect_max_s": 0.5, "timeout_s": 1},
                          record={"enabled": False})
    process = subprocess.Popen(app_command("--config", str(config), "--bundle", str(tiny_bundle),
                                           "--source", "rtsp://127.0.0.1:9/none", "--headless"),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(6)
    assert process.poll() is None  # still running, retrying
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output[-3000:]
    assert time.monotonic() - started < 5
    assert output.count("camera offline") >= 3


@pytest.mark.slow
def test_memory_stays_flat_while_inference_is_slower_than_capture(tmp_path, tiny_bundle):
    """20,000 frames from an unpaced synthetic source; RSS growth under 20 MB."""
    stats = tmp_path / "stats.json"
    config = write_config(tmp_path / "app.yaml", pipeline={"stats_interval_s": 0.1},
                          source={"fps": 0, "width": 320, "height": 240},
                          record={"enabled": False}, overlay={"legend": False})
    process = subprocess.Popen(app_command("--config", str(config), "--bundle", str(tiny_bundle),
                                           "--source", "test://", "--headless", "--max-frames",
                                           "20000", "--stats-json", str(stats)),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    while process.poll() is None:
        try:
            rss_kb = int(next(line for line in Path(f"/proc/{process.pid}/status").read_text()
                              .splitlines() if line.startswith("VmRSS")).split()[1])
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            break
        if stats.exists():
            report = json.loads(stats.read_text())
            samples.append((report["frames"]["captured"], rss_kb))
        time.sleep(0.05)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    report = json.loads(stats.read_text())
    assert report["frames"]["captured"] == 20000
    assert report["drops"]["capture"] > 0  # inference was slower: capture dropped frames
    warm = [rss for captured, rss in samples if captured >= 2000]
    assert len(warm) >= 4, samples
    growth_mb = (max(warm) - warm[0]) / 1024
    assert growth_mb < 20, (growth_mb, samples[:: max(1, len(samples) // 10)])
