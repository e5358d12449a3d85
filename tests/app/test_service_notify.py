"""The systemd notify protocol through the real app pipeline, heard on a real datagram socket.

tests/app/test_notify.py covers ServiceNotifier alone; here the messages come from the running
app (a subprocess, as systemd starts it) or from a real Pipeline with the real tiny bundle:
READY after the first frame, STATUS every stats period, WATCHDOG while every thread makes
progress (a camera that is offline and being retried counts as progress; a hung inference does
not), STOPPING on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from app.notify import ServiceNotifier
from app.pipeline import Pipeline, RunOptions
from tests.app.conftest import PipelineThread, pipeline_config

ROOT = Path(__file__).resolve().parents[2]


class Listener:
    """A bound SOCK_DGRAM socket where systemd's would be; a thread stamps every datagram."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []  # (time.monotonic() on arrival, text)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify-listener", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def times(self, message: str) -> list[float]:
        return [t for t, text in list(self.messages) if text == message]

    def statuses(self) -> list[str]:
        return [text for _, text in list(self.messages) if text.startswith("STATUS=")]

    def wait_for(self, message: str, timeout: float, after: float = 0.0) -> float | None:
        """Arrival time of the first `message` after `after`, waiting up to `timeout` s for it."""
        end = time.monotonic() + timeout
        while True:
            found = [t for t in self.times(message) if t > after]
            if found:
                return found[0]
            if time.monotonic() > end:
                return None
            time.sleep(0.02)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    lst = Listener(tmp_path / "notify.sock")
    yield lst
    lst.close()


@pytest.fixture
def notifier_env(listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A ServiceNotifier made from the environment systemd would give: WatchdogSec=0.4 s."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # -> a ping every 0.2 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = ServiceNotifier.from_env()
    assert notifier.enabled and notifier.watchdog_interval == pytest.approx(0.2)
    yield notifier
    notifier.close()


# -- a) the app as systemd runs it ----------------------------------------------------------


def test_app_under_systemd_ready_status_watchdog_stopping(tmp_path, tiny_bundle, listener):
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump({"pipeline": {"stats_interval_s": 0.5},
                                      "telemetry": {"enabled": False},
                                      "source": {"fps": 20, "width": 160, "height": 120}}))
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
           "WATCHDOG_USEC": "1000000"}  # WatchdogSec=1 -> a ping every 0.5 s
    env.pop("WATCHDOG_PID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--bundle", str(tiny_bundle), "--source", "test://",
         "--headless", "--no-record", "--config", str(config), "--log-level", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        ready_at = listener.wait_for("READY=1", timeout=90)
        assert ready_at is not None, "no READY=1 from the app:\n" + "".join(lines)[-3000:]
        time.sleep(3.3)
        assert process.poll() is None, "".join(lines)[-3000:]
        term_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(5)
    output = "".join(lines)
    assert code == 0, output[-3000:]
    messages = list(listener.messages)

    # READY once, and only after the pipeline ran (the engine was loaded before it started):
    # the watchdog pings from pipeline.run() came first, and the log has engine -> first frame.
    assert [text for _, text in messages].count("READY=1") == 1
    first = [text for _, text in messages].index("READY=1")
    assert first > 0 and all(text.startswith(("WATCHDOG=", "STATUS=")) for _, text in
                             messages[:first]), messages[: first + 1]
    assert "WATCHDOG=1" in [text for _, text in messages[:first]]
    assert output.index("engine ") < output.index("first frame through"), output[-3000:]

    # WATCHDOG=1 at half of WATCHDOG_USEC: ~6 in 3 s, with slack for a loaded machine.
    pings = [t for t in listener.times("WATCHDOG=1") if ready_at < t <= ready_at + 3.0]
    assert 4 <= len(pings) <= 8, [round(t - ready_at, 2) for t in pings]

    # STATUS every stats period while frames flow.
    statuses = [text for t, text in messages if ready_at < t < term_at]
    statuses = [text for text in statuses if text.startswith("STATUS=")]
    assert len(statuses) >= 3, statuses
    assert all("FPS" in text for text in statuses), statuses
    assert any("camera online" in text for text in statuses), statuses

    # SIGTERM -> STOPPING=1, then a clean exit (0).
    assert any(t >= term_at for t in listener.times("STOPPING=1")), messages[-5:]
    assert "SIGTERM" in output


# -- b) a hung inference thread stops the pings ---------------------------------------------


class HangingEngine:
    """The real engine, except that `infer` blocks (a hung accelerator) after `frames` calls."""

    def __init__(self, engine, frames: int) -> None:
        self._engine = engine
        self._frames = frames
        self.calls = 0
        self.hung_at: float | None = None
        self.hanging = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def infer(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls > self._frames and not self.release.is_set():
            self.hung_at = time.monotonic()
            self.hanging.set()
            self.release.wait()
        return self._engine.infer(frames)


def test_hung_inference_stops_the_watchdog_pings(tiny_bundle, listener, notifier_env):
    from models.engines import open_engine

    engine = open_engine(tiny_bundle, backend="litert")
    hanging = HangingEngine(engine, frames=30)  # about 1 s of frames at 30 fps
    pipeline = Pipeline(pipeline_config(), hanging, RunOptions(headless=True), notifier=notifier_env)
    runner = PipelineThread(pipeline)
    try:
        assert hanging.hanging.wait(60), "inference never reached the hang"
        hung_at = hanging.hung_at
        time.sleep(0.2 + 0.3 + 1.5)  # one interval, slack, then 1.5 s that must stay silent
        pings = listener.times("WATCHDOG=1")
        released_at = time.monotonic()
        hanging.release.set()  # inference recovers: the stamps advance, the pings come back
        resumed = listener.wait_for("WATCHDOG=1", timeout=3, after=released_at)
    finally:
        hanging.release.set()
        runner.stop()
        engine.close()
    assert runner.code == [0]
    assert listener.times("READY=1"), "frames went through: READY=1 expected"
    before = [t for t in pings if t <= hung_at]
    assert len(before) >= 3, "no pings while frames flowed"
    # One interval (0.2 s) for the stamp to go stale, 0.3 s slack for a loaded machine.
    last = max(pings)
    assert last - hung_at <= 0.2 + 0.3, f"last ping {last - hung_at:.2f} s after the hang"
    late = [round(t - hung_at, 2) for t in pings if t > hung_at + 0.5]
    assert not late, f"pings {late} s after the hang; systemd would never restart us"
    assert resumed is not None, "no ping after inference recovered"


# -- c) an offline camera does not -----------------------------------------------------------


def run_offline(tiny_bundle, seconds: float, notifier: ServiceNotifier) -> tuple[Pipeline, float]:
    """The real pipeline on an rtsp camera nobody serves (port 9: refused), retried every
    0.2-0.5 s, for `seconds`; (pipeline, start time)."""
    from models.engines import open_engine

    engine = open_engine(tiny_bundle, backend="litert")
    config = pipeline_config(**{"source.uri": "rtsp://127.0.0.1:9/x", "source.timeout_s": 1,
                           "source.reconnect_initial_s": 0.2, "source.reconnect_max_s": 0.5})
    pipeline = Pipeline(config, engine, RunOptions(headless=True), notifier=notifier)
    started = time.monotonic()
    runner = PipelineThread(pipeline)
    try:
        time.sleep(seconds)
    finally:
        runner.stop()
        engine.close()
    assert runner.code == [0]
    return pipeline, started


def test_offline_camera_keeps_pinging_and_never_sends_ready(listener, notifier_env, tiny_bundle):
    # Deliberate: an unplugged camera must not make systemd restart the service in a loop;
    # the threads are alive and retrying, so their heartbeats advance. Only a stuck thread stops
    # the pings (test above).
    pipeline, started = run_offline(tiny_bundle, 3.0, notifier_env)
    pings = [t for t in listener.times("WATCHDOG=1") if started + 0.5 <= t <= started + 3.0]
    assert len(pings) >= 8, [round(t - started, 2) for t in listener.times("WATCHDOG=1")]
    statuses = listener.statuses()
    assert len(statuses) >= 3, statuses
    assert all(text.startswith("STATUS=0.0 FPS, camera ") for text in statuses), statuses
    assert all("camera offline" in text for text in statuses), statuses
    assert not listener.times("READY=1"), "READY=1 without a single frame through"
    assert pipeline.stats.output.total == 0


def test_offline_camera_is_never_reported_online_or_reconnected(
    listener, notifier_env, tiny_bundle
):
    # rtspsrc opens lazily and fails at the first read: a successful open is not "online" and
    # a retry that delivers no frame is not a reconnect (several retries happen in 1.5 s).
    pipeline, _ = run_offline(tiny_bundle, 1.5, notifier_env)
    assert pipeline.stats.reconnects == 0
    assert not [text for text in listener.statuses() if "camera online" in text]
