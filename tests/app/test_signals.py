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


STOPS = [(signal.SIGTERM, 0), (signal.SIGINT, 130), (signal.SIGHUP, 0)]


# Loaded by the app's interpreter (PYTHONPATH): holds the real open_engine until the test has
# signalled, so the signal certainly lands while the engine loads. The app's code is unchanged.
HOLD = """
import os, sys, time
import models.engines as engines
real = engines.open_engine
def held(*args, **kwargs):
    print("test: engine load held", file=sys.stderr, flush=True)
    while not os.path.exists(os.environ["SEGCAM_TEST_RELEASE"]):
        time.sleep(0.05)
    return real(*args, **kwargs)
engines.open_engine = held
"""


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_during_the_engine_load_ends_the_start_cleanly(tmp_path, signum, code):
    """Deterministic: the load is held until the signal has been sent."""
    (tmp_path / "sitecustomize.py").write_text(HOLD)
    release = tmp_path / "release"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SEGCAM_TEST_RELEASE": str(release),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    with stop_signals_at_default():
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--log-level", "INFO", "--bundle", str(SHIPPED),
             "--source", "test://", "--headless", "--no-record"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr.readline().strip() == "test: engine load held"
    process.send_signal(signum)
    time.sleep(0.3)
    release.touch()
    output, errors = finish(process)
    name = signal.Signals(signum).name
    assert process.returncode == code, output[-3000:] + errors[-3000:]
    assert [line for line in errors.splitlines() if name in line] == [
        f"{name} while starting: stopped before the first frame"], errors
    assert "Traceback" not in output + errors
    assert "first frame through" not in output


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_while_the_engine_loads_ends_the_start_cleanly(tmp_path, signum, code):
    """Sent as the model starts loading. It lands during the load as a rule, but on a loaded
    machine it may land after it, when the running pipeline answers it: either way one line
    names it, the exit code is the signal's, and nothing breaks."""
    process = start_app("--bundle", str(SHIPPED), "--source", "test://", "--headless",
                        "--no-record")
    read_until(process, "engine: auto chose")  # logged just before the model is loaded
    process.send_signal(signum)
    output, errors = finish(process)
    name = signal.Signals(signum).name
    assert process.returncode == code, output[-3000:] + errors[-3000:]
    early = [line for line in errors.splitlines() if name in line]
    answered = [line for line in output.splitlines()
                if f"{name}: finishing queued frames" in line]
    if early:
        assert early == [f"{name} while starting: stopped before the first frame"], errors
        assert not answered and "first frame through" not in output
    else:
        assert len(answered) == 1, output[-3000:] + errors[-3000:]
    assert "Traceback" not in output + errors


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
