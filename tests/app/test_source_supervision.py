"""The capture loop's choice between "stop, the user must fix this" and "wait for the camera".

A permanent SourceError at the first open ends the run (Pipeline.failure); a camera that fails
for another reason, or only later, is retried with backoff. Real Pipeline, real tiny bundle,
real GStreamer and a real file that stands in for a device and then vanishes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from app.config import load_app_config
from app.pipeline import Pipeline, RunOptions
from tests.app.conftest import PipelineThread, wait_for

ROOT = Path(__file__).resolve().parents[2]


def config_for(uri: str, **overrides):
    base = {"source.uri": uri, "source.reconnect_initial_s": 0.1, "source.reconnect_max_s": 0.2,
            "source.timeout_s": 1, "record.enabled": False, "telemetry.enabled": False,
            "display.enabled": False, "pipeline.stats_interval_s": 0.5}
    return load_app_config(None, {**base, **overrides})


def test_a_pipeline_that_never_parses_ends_the_run_at_the_first_open(engine, caplog):
    pipeline = Pipeline(config_for("gst://videotestsrc ! ! videoconvert (("), engine,
                        RunOptions(headless=True))
    with caplog.at_level(logging.WARNING):
        running = PipelineThread(pipeline)
        running.thread.join(30)  # before: "camera offline ... retrying" forever
    assert not running.thread.is_alive() and running.code == [1]
    assert pipeline.failure is not None and "syntax error" in pipeline.failure
    assert not [r for r in caplog.records if "camera offline" in r.getMessage()]


def test_a_stream_that_is_down_keeps_being_retried(engine, caplog):
    pipeline = Pipeline(config_for("rtsp://127.0.0.1:9/none"), engine, RunOptions(headless=True))
    with caplog.at_level(logging.WARNING):
        running = PipelineThread(pipeline)
        wait_for(lambda: sum("camera offline" in r.getMessage() for r in caplog.records) >= 3,
                 "three 'camera offline' lines")
        assert running.thread.is_alive()
        assert running.stop() == 0
    assert pipeline.failure is None


def test_a_device_that_vanishes_after_the_start_keeps_being_retried(engine, tmp_path, caplog):
    device = tmp_path / "video0"  # exists, so the first open is a transient failure
    device.write_bytes(b"")
    pipeline = Pipeline(config_for(f"v4l2://{device}"), engine, RunOptions(headless=True))

    def offline(text: str) -> int:
        return sum("camera offline" in r.getMessage() and text in r.getMessage()
                   for r in caplog.records)

    with caplog.at_level(logging.WARNING):
        running = PipelineThread(pipeline)
        wait_for(lambda: offline("cannot open") >= 1, "'cannot open'")
        device.unlink()  # unplugged: now the error is the permanent kind, but not at start
        wait_for(lambda: offline("no such device") >= 2, "two 'no such device'")
        assert running.thread.is_alive()
        assert running.stop() == 0
    assert pipeline.failure is None


def test_a_folder_with_a_bad_image_runs_and_the_stats_count_it(tmp_path, tiny_bundle, png_folder):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted(png_folder.glob("*.png")):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "frame_002.png").write_bytes(b"not a png")
    stats = tmp_path / "stats.json"
    result = subprocess.run(
        [sys.executable, "-m", "app", "--bundle", str(tiny_bundle), "--source", str(folder),
         "--headless", "--no-record", "--stats-json", str(stats)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(stats.read_text())
    assert report["frames"]["output"] == 4 and report["skipped"] == 1
    warnings = [line for line in result.stdout.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "cannot read image" in warnings[0]
    assert "frame_002.png" in warnings[0]
