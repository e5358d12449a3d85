"""The app end to end, with real parts: a real clip, a real bundle, real GStreamer recording."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_display import send_key, xvfb  # noqa: F401 - the Xvfb fixture, shared

from app.pipeline import RunOptions
from tests.app.conftest import (
    PipelineThread,
    decode,
    pipeline_config,
    stop_signals_at_default,
    wait_for,
)

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
    assert report["camera"] == "ended"  # the clip finished; nothing is offline

    # the recorded pixels carry the palette colour of the label the model gave there
    from app.segmenter import Segmenter
    from models.bundle import load_bundle
    from models.engines import open_engine

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


def record_test_pattern(tmp_path: Path, tiny_bundle: Path, segments: int,
                        **popen) -> tuple[subprocess.Popen, Path]:
    """`python -m app` recording test:// at 15 fps in 1 s segments, returned once `segments`
    of them exist (killed if they never come); (process, recording folder)."""
    record = tmp_path / "rec"
    config = write_config(tmp_path / "app.yaml", record={"segment_seconds": 1.0},
                          source={"fps": 15, "width": 160, "height": 120})
    with stop_signals_at_default():  # the tests send SIGINT, whoever started them
        process = subprocess.Popen(app_command("--config", str(config), "--bundle",
                                               str(tiny_bundle), "--source", "test://",
                                               "--record", str(record), "--headless"),
                                   cwd=ROOT, **popen)
    try:
        wait_for(lambda: len(list(record.glob("*.mkv"))) >= segments, f"{segments} segments")
    except AssertionError:
        process.kill()
        process.wait()
        raise
    return process, record


def test_sigterm_mid_recording_leaves_every_segment_playable(tmp_path, tiny_bundle):
    process, record = record_test_pattern(tmp_path, tiny_bundle, 3, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output[-3000:]
    segments = sorted(record.glob("*.mkv"))
    assert len(segments) >= 3
    for segment in segments:
        assert len(decode(segment)) > 0, segment


def test_sigkill_loses_at_most_the_open_segment(tmp_path, tiny_bundle):
    process, record = record_test_pattern(tmp_path, tiny_bundle, 3, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
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


# -- failure paths, in process: the real tiny bundle, one part made to fail ----------------------


class StuckEngine:
    """The real engine, except that infer() blocks from call `after` until released."""

    def __init__(self, engine, after: int) -> None:
        self._engine, self._after, self.calls = engine, after, 0
        self.stuck, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def infer(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls > self._after:
            self.stuck.set()
            self.release.wait(60)
        return self._engine.infer(frames)


@pytest.mark.parametrize("source", ["live", "clip"])
def test_output_thread_failure_ends_the_run_with_exit_1(engine, clip, source, caplog):
    """A Renderer bug: the producers (waiting for room, for a clip) must not keep the app up."""
    from app.pipeline import Pipeline

    uri = "test://" if source == "live" else str(clip.path)
    pipeline = Pipeline(pipeline_config(**{"source.uri": uri}), engine, RunOptions(headless=True))
    real, calls = pipeline.renderer.annotate, []

    def annotate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("renderer bug")
        return real(*args, **kwargs)

    pipeline.renderer.annotate = annotate
    started = time.monotonic()
    running = PipelineThread(pipeline)
    running.thread.join(20)
    assert not running.thread.is_alive(), "the app hung after its output thread died"
    assert running.code == [1] and isinstance(pipeline.error, RuntimeError)
    assert time.monotonic() - started < 10
    assert pipeline.threads_stopped
    assert "output thread failed" in caplog.text


@pytest.mark.parametrize("stage", ["inference", "output"])
def test_a_stuck_thread_does_not_keep_a_stopping_app_alive(engine, stage, caplog):
    """stop() drains for DRAIN_S, then halts; a thread stuck in a call is left behind."""
    from app.pipeline import CLOSE_S, DRAIN_S, JOIN_S, Pipeline

    stuck_engine = StuckEngine(engine, after=5) if stage == "inference" else engine
    pipeline = Pipeline(pipeline_config(), stuck_engine, RunOptions(headless=True))
    stuck, release = threading.Event(), threading.Event()
    if stage == "output":
        real = pipeline.renderer.annotate

        def annotate(*args, **kwargs):
            if pipeline.stats.output.total >= 5:
                stuck.set()
                release.wait(60)
            return real(*args, **kwargs)

        pipeline.renderer.annotate = annotate
    else:
        stuck, release = stuck_engine.stuck, stuck_engine.release
    running = PipelineThread(pipeline)
    try:
        assert stuck.wait(30), f"the {stage} thread never got stuck"
        stopped = time.monotonic()
        pipeline.stop()
        running.thread.join(30)
        took = time.monotonic() - stopped
    finally:
        release.set()
    assert not running.thread.is_alive() and running.code == [0]
    bound = DRAIN_S + JOIN_S + (CLOSE_S if stage == "output" else 0)
    assert bound - JOIN_S - 0.5 < took < bound + 2, took
    assert not pipeline.threads_stopped
    assert f"{stage} thread did not stop" in caplog.text


def test_recorder_that_cannot_be_built_stops_recording_only(engine, clip, monkeypatch, caplog,
                                                            tmp_path):
    import app.recording
    from app.pipeline import Pipeline
    from app.recording import RecorderError

    def no_recorder(*args, **kwargs):
        raise RecorderError("no H.264 encoder: install gstreamer1.0-plugins-ugly")

    monkeypatch.setattr(app.recording, "SegmentRecorder", no_recorder)
    config = pipeline_config(**{"source.uri": str(clip.path), "record.enabled": True,
                                "record.dir": str(tmp_path / "rec")})
    pipeline = Pipeline(config, engine, RunOptions(headless=True))
    assert pipeline.run() == 0
    assert pipeline.stats.output.total == clip.frames  # display/output went on without it
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["recording stopped: no H.264 encoder: install gstreamer1.0-plugins-ugly"]
    assert pipeline.recording.status == ("error",
                                         "no H.264 encoder: install gstreamer1.0-plugins-ugly")


def test_unwritable_record_dir_stops_recording_only(engine, clip, tmp_path, caplog):
    from app.pipeline import Pipeline

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = pipeline_config(**{"source.uri": str(clip.path), "record.enabled": True,
                                "record.dir": str(blocker / "rec")})
    pipeline = Pipeline(config, engine, RunOptions(headless=True))
    assert pipeline.run() == 0
    assert pipeline.stats.output.total == clip.frames
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(blocker / "rec") in errors[0], errors
    state, reason = pipeline.recording.status
    assert state == "error" and str(blocker / "rec") in reason, (state, reason)


def test_hud_says_camera_offline_and_the_idle_window_picture_is_dimmed(engine):
    from app.outputs.display import OFFLINE_SIZE, idle_picture
    from app.pipeline import Pipeline

    pipeline = Pipeline(pipeline_config(), engine, RunOptions(headless=True))
    assert "CAMERA OFFLINE" not in pipeline.hud.text(pipeline.offline)
    assert idle_picture(None, False, None) is None  # starting up: no window content yet
    pipeline.capture.offline = True  # as the capture thread sets it when the camera fails
    assert "CAMERA OFFLINE" in pipeline.hud.text(pipeline.offline)  # at once, not after the HUD period
    hud = pipeline.hud.text(pipeline.offline)
    blank = idle_picture(None, True, hud)  # no frame ever came: a dark placeholder with text
    assert blank.shape == (*OFFLINE_SIZE, 3) and blank.any()
    last = np.full((120, 160, 3), 200, np.uint8)
    dimmed = idle_picture(last, True, hud)
    assert dimmed.shape == last.shape and dimmed.max() <= 255 and dimmed[-1, -1, 0] == 100
    assert idle_picture(last, False, hud) is last  # online and idle: repaint the last frame


# -- failure paths, as a user meets them ----------------------------------------------------------


def test_folder_of_unreadable_images_is_one_line_and_exit_1_not_a_reconnect_loop(tmp_path,
                                                                                 tiny_bundle):
    # One bad image among good ones is skipped (tests/app/test_source_supervision.py); a
    # folder where none can be read is the user's to fix.
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_001.png").write_bytes(b"not a png")
    config = write_config(tmp_path / "app.yaml", record={"enabled": False})
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source",
                     str(folder), "--headless", timeout=60)
    assert result.returncode == 1, result.stdout[-3000:]
    errors = [line for line in result.stdout.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "frame_001.png" in errors[0], errors
    assert "reopening" not in result.stdout  # a file is not a camera to wait for


def test_source_size_change_mid_run_starts_a_new_segment(tmp_path, tiny_bundle):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (h, w) in enumerate([(48, 64)] * 3 + [(72, 96)] * 3):
        assert cv2.imwrite(str(folder / f"frame_{i:03d}.png"), np.full((h, w, 3), 40 * i, np.uint8))
    record, stats = tmp_path / "rec", tmp_path / "stats.json"
    config = write_config(tmp_path / "app.yaml", record={"segment_seconds": 1.0})
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source",
                     str(folder), "--record", str(record), "--headless", "--stats-json",
                     str(stats), timeout=60)
    assert result.returncode == 0, result.stdout[-3000:]
    assert json.loads(stats.read_text())["frames"]["output"] == 6
    assert "frame size changed to 96x72" in result.stdout
    sizes = {f.shape[:2] for s in sorted(record.glob("*.mkv")) for f in decode(s)}
    assert sizes == {(48, 64), (72, 96)}


def test_second_sigint_stops_at_once_and_still_closes_the_segment(tmp_path, tiny_bundle):
    process, record = record_test_pattern(tmp_path, tiny_bundle, 1, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output[-3000:]
    assert "SIGINT again: stopping now" in output
    assert "Traceback" not in output
    segments = sorted(record.glob("*.mkv"))
    assert segments and all(decode(s) for s in segments)


def test_bad_stats_json_path_fails_at_start(tmp_path, tiny_bundle):
    result = run_app("--bundle", str(tiny_bundle), "--source", "test://", "--headless",
                     "--stats-json", str(tmp_path / "missing" / "stats.json"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --stats-json: cannot write {tmp_path / 'missing' / 'stats.json'} "
        "(No such file or directory)"]


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_window_answers_q_while_the_camera_is_offline(tmp_path, tiny_bundle, xvfb):  # noqa: F811
    """No frame ever comes, yet the window shows "camera offline" and q still quits."""
    config = write_config(tmp_path / "app.yaml", record={"enabled": False},
                          display={"enabled": True, "title": "segcam-offline"},
                          source={"reconnect_initial_s": 0.2, "reconnect_max_s": 0.5,
                                  "timeout_s": 1})
    env = dict(os.environ, DISPLAY=xvfb)
    process = subprocess.Popen(app_command("--config", str(config), "--bundle", str(tiny_bundle),
                                           "--source", "rtsp://127.0.0.1:9/none"),
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # the window appears without a single frame from the camera
            found = subprocess.run(["xdotool", "search", "--name", "segcam-offline"], env=env,
                                   capture_output=True, timeout=20)
            if found.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found.returncode == 0, "no window while the camera is offline"
        send_key(xvfb, "segcam-offline", "q")
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output[-3000:]
    assert "window closed by the user" in output and "camera offline" in output
