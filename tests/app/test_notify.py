"""app.notify against real AF_UNIX datagram sockets, as systemd would listen on them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.notify import ServiceNotifier


class Listener:
    """A bound SOCK_DGRAM socket standing where systemd's notify socket would be."""

    def __init__(self, address: str | bytes):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def recv(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def collect(self, seconds: float) -> list[tuple[float, str]]:
        """Every message for `seconds`, with its arrival time.monotonic()."""
        out: list[tuple[float, str]] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            out.append((time.monotonic(), data.decode()))
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    path = tmp_path / "notify.sock"
    lst = Listener(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield lst
    lst.close()


def test_ready_status_stopping_arrive_verbatim(listener: Listener) -> None:
    notifier = ServiceNotifier.from_env()
    assert notifier.enabled
    assert notifier.ready()
    assert listener.recv() == "READY=1"
    assert notifier.status("12.5 fps, camera csi://0 connected")
    assert listener.recv() == "STATUS=12.5 fps, camera csi://0 connected"
    assert notifier.extend_timeout(90)
    assert listener.recv() == "EXTEND_TIMEOUT_USEC=90000000"
    assert notifier.stopping()
    assert listener.recv() == "STOPPING=1"
    notifier.close()
    assert not notifier.ready()  # closed: quietly nothing


def test_status_is_kept_on_one_line(listener: Listener) -> None:
    notifier = ServiceNotifier.from_env()
    notifier.status("camera lost\nreconnecting")
    assert listener.recv() == "STATUS=camera lost reconnecting"
    notifier.close()


def test_a_signal_handler_may_notify_while_interrupting_a_notify(listener: Listener) -> None:
    # Python runs signal handlers in the main thread between bytecodes, so SIGTERM's
    # stopping() can land while that thread is inside status(): it must not deadlock.
    notifier = ServiceNotifier.from_env()

    def interrupted() -> None:
        with notifier._lock:  # as if inside notify() when the handler runs
            notifier.stopping()

    worker = threading.Thread(target=interrupted, daemon=True)
    worker.start()
    worker.join(2)
    assert not worker.is_alive(), "stopping() deadlocked inside notify()"
    assert listener.recv() == "STOPPING=1"
    notifier.close()


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"segcam-test-{os.getpid()}-{time.monotonic_ns()}"
    lst = Listener(b"\0" + name.encode())
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notifier = ServiceNotifier.from_env()
        assert notifier.ready()
        assert lst.recv() == "READY=1"
        notifier.close()
    finally:
        lst.close()


def test_no_op_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    notifier = ServiceNotifier.from_env()
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert not notifier.ready()
    assert not notifier.status("x")
    assert not notifier.stopping()
    assert notifier.start_watchdog(time.monotonic, threading.Event()) is None
    notifier.close()


def test_unusable_address_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not ServiceNotifier.from_env().enabled


def test_send_to_a_vanished_socket_does_not_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    notifier = ServiceNotifier.from_env()
    assert notifier.enabled
    assert not notifier.ready()
    notifier.close()


def test_watchdog_interval_is_half_of_watchdog_usec(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert ServiceNotifier.from_env().watchdog_interval == pytest.approx(15.0)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert ServiceNotifier.from_env().watchdog_interval == pytest.approx(15.0)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert ServiceNotifier.from_env().watchdog_interval is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert ServiceNotifier.from_env().watchdog_interval is None


class Worker:
    """Advances a progress stamp like the pipeline's output thread, until told to hang."""

    def __init__(self, period: float = 0.02):
        self.stamp = time.monotonic()
        self.hang = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self.thread.start()

    def _run(self, period: float) -> None:
        while not self.done.wait(period):
            if not self.hang.is_set():
                self.stamp = time.monotonic()

    def last_progress(self) -> float:
        return self.stamp

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def test_watchdog_pings_at_half_the_timeout_while_frames_flow(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # 0.4 s -> a ping every 0.2 s
    notifier = ServiceNotifier.from_env()
    assert notifier.watchdog_interval == pytest.approx(0.2)
    worker, stop = Worker(), threading.Event()
    thread = notifier.start_watchdog(worker.last_progress, stop)
    assert thread is not None and thread.daemon
    try:
        got = listener.collect(1.2)
    finally:
        stop.set()
        thread.join(2)
        worker.stop()
        notifier.close()
    assert not thread.is_alive()
    assert {msg for _, msg in got} == {"WATCHDOG=1"}
    # t = 0, 0.2, ..., 1.0 (and maybe 1.2): 6, with slack for a loaded 2-core machine.
    assert 5 <= len(got) <= 7, [round(t - got[0][0], 3) for t, _ in got]
    gaps = [b - a for (a, _), (b, _) in zip(got[:-1], got[1:], strict=True)]
    assert max(gaps) < 0.4  # never a gap that would let systemd's 0.4 s timer fire


def test_watchdog_pings_stop_within_one_interval_of_a_hang(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    notifier = ServiceNotifier.from_env()
    worker, stop = Worker(), threading.Event()
    thread = notifier.start_watchdog(worker.last_progress, stop)
    assert thread is not None
    try:
        before = listener.collect(0.5)
        worker.hang.set()  # the output thread is stuck: the stamp stops advancing
        hung_at = time.monotonic()
        after = listener.collect(1.0)
        worker.hang.clear()  # and recovers: pings resume
        resumed = listener.collect(0.6)
    finally:
        stop.set()
        thread.join(2)
        worker.stop()
        notifier.close()
    assert len(before) >= 2
    late = [t - hung_at for t, _ in after if t - hung_at > 0.2 + 0.05]
    assert not late, f"pings {late} s after the hang; expected none after one interval"
    assert len(after) <= 1
    assert len(resumed) >= 2


def test_no_ping_before_the_first_frame(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline's stamp starts at 0 (no frame yet): systemd must not hear that we are alive.
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    notifier = ServiceNotifier.from_env()
    stop = threading.Event()
    thread = notifier.start_watchdog(lambda: 0.0, stop)
    assert thread is not None
    try:
        assert listener.collect(0.5) == []
    finally:
        stop.set()
        thread.join(2)
        notifier.close()


def test_watchdog_disabled_without_watchdog_usec(listener: Listener) -> None:
    notifier = ServiceNotifier.from_env()
    assert notifier.watchdog_interval is None
    assert notifier.start_watchdog(time.monotonic, threading.Event()) is None
    notifier.close()


def test_app_with_a_config_error_exits_2_without_ready(listener: Listener, tmp_path: Path) -> None:
    # The real app under a notify socket: a broken config is exit 2 (RestartPreventExitStatus=2
    # in the unit) and systemd must never hear READY=1 from it.
    config = tmp_path / "app.yaml"
    config.write_text("source:\n  uri: test://\n  no_such_key: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "app", "--config", str(config)],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0  # one line for the journal
    assert "source.no_such_key" in result.stderr
    assert listener.collect(0.2) == []
