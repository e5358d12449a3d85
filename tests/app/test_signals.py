"""Real signals to the real app (a subprocess): SIGHUP stops like SIGTERM, and a signal while
the engine loads ends the start-up cleanly instead of killing the process by the default action.

The handlers only record the signal; the supervisor loop logs and stops (app/pipeline.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.conftest import decode, stop_signals_at_default

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "camvid-unet"  # the real model: it takes a while to load


def start_app(*args: str) -> subprocess.Popen:
    with stop_signals_at_default():
        return subprocess.Popen([sys.executable, "-m", "app", "--log-level", "INFO", *args],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_until(process: subprocess.Popen, text: str) -> list[str]:
    """stdout lines up to and including the first that holds `text` (the app's own log)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came:\n" + "".join(lines) + process.stderr.read())


def finish(process: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sighup_stops_like_sigterm_and_the_recording_plays(tmp_path, tiny_bundle):
    record = tmp_path / "rec"
    config = tmp_path / "app.yaml"
    config.write_text("record: {segment_seconds: 1.0}\ntelemetry: {enabled: false}\n"
                      "source: {fps: 15, width: 160, height: 120}\n")
    process = start_app("--config", str(config), "--bundle", str(tiny_bundle), "--source",
                        "test://", "--record", str(record), "--headless")
    read_until(process, "first frame through")
    deadline = time.monotonic() + 60
    while len(list(record.glob("*.mkv"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGHUP)
    output, errors = finish(process)
    assert process.returncode == 0, output[-3000:] + errors[-3000:]
    assert "SIGHUP: finishing queued frames and closing the recording" in output
    assert "Traceback" not in output + errors
    segments = sorted(record.glob("*.mkv"))
    assert len(segments) >= 2
    assert all(decode(segment) for segment in segments)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130),
                                              (signal.SIGHUP, 0)])
def test_a_signal_while_the_engine_loads_ends_the_start_cleanly(tmp_path, signum, code):
    process = start_app("--bundle", str(SHIPPED), "--source", "test://", "--headless",
                        "--no-record")
    read_until(process, "engine: auto chose")  # logged just before the model is loaded
    process.send_signal(signum)
    output, errors = finish(process)
    name = signal.Signals(signum).name
    assert process.returncode == code, output[-3000:] + errors[-3000:]
    ours = [line for line in errors.splitlines() if name in line]
    assert ours == [f"{name} while starting: stopped before the first frame"], errors
    assert "Traceback" not in output + errors
    assert "first frame through" not in output


@pytest.mark.skipif(shutil.which("nohup") is None, reason="no nohup here")
def test_an_ignored_sighup_stays_ignored(tiny_bundle):
    """Under nohup SIGHUP is ignored on purpose: the app must not start obeying it."""
    process = subprocess.Popen(
        ["nohup", sys.executable, "-m", "app", "--bundle", str(tiny_bundle), "--source",
         "test://", "--headless", "--no-record"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    read_until(process, "first frame through")
    process.send_signal(signal.SIGHUP)
    process.send_signal(signal.SIGTERM)  # the one that counts
    output, errors = finish(process)
    assert process.returncode == 0, output[-3000:] + errors[-3000:]
    assert "SIGHUP" not in output and "SIGTERM: finishing queued frames" in output
