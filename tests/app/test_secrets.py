"""A camera's password never leaves the app: not in a log line (DEBUG included), an error, the
check-config line, a systemd STATUS datagram or the stats JSON, for rtsp:// and gst:// alike.

The app runs for real (a subprocess) against real local TCP ports: one closed, one that accepts
and hangs up, so rtspsrc really fails and the reconnect path logs the URI again and again.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from app.redact import RedactingFilter, Redactor, passwords, redact
from tests.app.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Zq9top@SECRETxyz"  # a raw "@": the userinfo ends at the LAST "@" before the host
ENCODED = "Zq9top%40SECRETxyz"
PROPERTY_PASSWORD = "pw-PROPxyz"  # rtspsrc's user-pw= property
LEAKS = ("Zq9top", "SECRETxyz", "PROPxyz")  # any piece of any of them is a leak


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtsp://admin:secret@cam/stream", "rtsp://admin:***@cam/stream"),
        ("rtsp://admin:p@ss@word@10.0.0.2:554/x", "rtsp://admin:***@10.0.0.2:554/x"),
        ("rtsp://us%40er:p%40ss%3Aw@cam/", "rtsp://us%40er:***@cam/"),
        ("rtsp://admin@cam/stream", "rtsp://admin@cam/stream"),  # a user alone is no secret
        ("rtsp://:secret@cam", "rtsp://:***@cam"),
        ("rtsp://cam/path?mail=a@b", "rtsp://cam/path?mail=a@b"),  # "@" after the host
        ("gst://rtspsrc location=rtsp://a:one@h1/x ! decodebin ! fakesink "
         'rtspsrc location="rtsp://b:two@h2" ! fakesink',
         "gst://rtspsrc location=rtsp://a:***@h1/x ! decodebin ! fakesink "
         'rtspsrc location="rtsp://b:***@h2" ! fakesink'),
        ("rtspsrc location=rtsp://cam/x user-id=admin user-pw=secret latency=0",
         "rtspsrc location=rtsp://cam/x user-id=admin user-pw=*** latency=0"),
        ('rtspsrc proxy-pw="two words" ! x', 'rtspsrc proxy-pw="***" ! x'),
        ("rtsp://10.0.0.3:554/user=admin&password=secret&channel=1",
         "rtsp://10.0.0.3:554/user=admin&password=***&channel=1"),
        ("csi://0, v4l2:///dev/video0, /data/clip.mp4", "csi://0, v4l2:///dev/video0, /data/clip.mp4"),
        # the web's token and cookies, as aiohttp quotes a request line or header it refused
        ("reading: bytearray(b'/?token=Tk7abc&pad=xx')", "reading: bytearray(b'/?token=***&pad=xx')"),
        ("b'a=b; segcam_token=Tk7abc; pad=x'", "b'a=b; segcam_token=***; pad=x'"),
        ("Cookie: a=b; segcam_token=Tk7abc", "Cookie: ***"),
        ("Authorization: Bearer Tk7abc", "Authorization: Bearer ***"),
        ("Authorization: Basic dmlld2VyOnB3", "Authorization: Basic ***"),
        ("reading: b'Bearer Tk7abcxxx'", "reading: b'Bearer ***'"),
        ("rtsp: serving rtsp://h:1/x (x264enc, Basic auth)", "rtsp: serving rtsp://h:1/x (x264enc, Basic auth)"),
        ('WWW-Authenticate: Bearer realm="segcam"', 'WWW-Authenticate: Bearer realm="segcam"'),
        ("web.token_sha256=ab12", "web.token_sha256=ab12"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_remembered_secrets_are_hidden_anywhere_raw_or_decoded() -> None:
    redactor = Redactor()
    redactor.remember_secrets(f"rtsp://admin:{ENCODED}@cam/x")
    assert passwords(f"rtsp://admin:{ENCODED}@cam/x") == {ENCODED, PASSWORD}
    text = f"rtspsrc said: cannot log in with {PASSWORD} (sent as {ENCODED})"
    assert redactor(text) == "rtspsrc said: cannot log in with *** (sent as ***)"


def test_the_log_filter_cleans_message_arguments_and_tracebacks() -> None:
    redactor = Redactor()
    redactor.remember_secrets(f"rtsp://u:{PASSWORD}@cam")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("test_secrets.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("opening %s", f"rtsp://u:{PASSWORD}@cam")
        logger.warning("a library's own words: %s", PASSWORD)
        try:
            raise RuntimeError(f"failed with {PASSWORD}")
        except RuntimeError:
            logger.exception("it broke")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "rtsp://u:***@cam" in written and "RuntimeError: failed with ***" in written
    assert not any(leak in written for leak in LEAKS), written


# ---- the whole app -------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free, and nothing listens once the socket closes


@pytest.fixture
def hang_up_port() -> Iterator[int]:
    """A real TCP server that accepts every connection and closes it at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A real AF_UNIX datagram socket where systemd's would be; read after the run."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)
    yield sock
    sock.close()


def datagrams(sock: socket.socket) -> list[str]:
    received = []
    while True:
        try:
            received.append(sock.recv(65536).decode())
        except BlockingIOError:
            return received


def run_until_offline_twice(uri: str, tmp_path: Path, bundle: Path,
                            notify: socket.socket) -> dict[str, str]:
    """Run the app at DEBUG on `uri` until it has reconnected twice and reported; SIGTERM.
    Returns everything it wrote: stdout, stderr, the stats JSON, the notify datagrams."""
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"reconnect_initial_s": 0.1, "reconnect_max_s": 0.2, "timeout_s": 1},
        "pipeline": {"stats_interval_s": 0.2}, "telemetry": {"enabled": False}}))
    out, err, stats = tmp_path / "out.txt", tmp_path / "err.txt", tmp_path / "stats.json"
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "PYTHONUNBUFFERED": "1"}
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--config", str(config), "--bundle", str(bundle),
             "--source", uri, "--headless", "--no-record", "--log-level", "DEBUG",
             "--stats-json", str(stats)],
            cwd=ROOT, stdout=stdout, stderr=stderr, env=env)
        try:
            wait_for(lambda: out.read_text().count("camera offline") >= 2 and stats.exists(),
                     lambda: "two 'camera offline' lines and a report in:\n"
                             + out.read_text()[-3000:])
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, out.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return {"stdout": out.read_text(), "stderr": err.read_text(), "stats": stats.read_text(),
            "notify": "\n".join(datagrams(notify))}


def assert_no_leak(written: dict[str, str]) -> None:
    for name, text in written.items():
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} in {name}:\n" + "\n".join(
                line for line in text.splitlines() if leak in line)


def test_rtsp_password_with_an_at_sign_never_leaves_the_app(tmp_path, tiny_bundle,
                                                              notify_socket):
    uri = f"rtsp://admin:{PASSWORD}@127.0.0.1:{closed_port()}/stream"
    written = run_until_offline_twice(uri, tmp_path, tiny_bundle, notify_socket)
    assert_no_leak(written)
    # It did write the URI (redacted) and the pipeline, so the check above looked at them.
    assert "rtsp://admin:***@127.0.0.1" in written["stdout"]
    assert "rtspsrc location=" in written["stdout"]  # the DEBUG line with the pipeline
    assert "STATUS=" in written["notify"] and '"camera": "offline"' in written["stats"]


def test_gst_pipeline_with_rtspsrc_credentials_never_leaves_the_app(tmp_path, tiny_bundle,
                                                                     notify_socket,
                                                                     hang_up_port):
    uri = (f"gst://rtspsrc location=rtsp://admin:{ENCODED}@127.0.0.1:{hang_up_port}/x "
           f"user-id=admin user-pw={PROPERTY_PASSWORD} ! decodebin ! videoconvert ! appsink")
    written = run_until_offline_twice(uri, tmp_path, tiny_bundle, notify_socket)
    assert_no_leak(written)
    assert "location=rtsp://admin:***@127.0.0.1" in written["stdout"]
    assert "user-pw=***" in written["stdout"]


def test_check_config_and_start_up_errors_hide_the_password(tiny_bundle):
    for uri, code in [(f"rtsp://admin:{PASSWORD}@127.0.0.1:9/x", 0),
                      (f"gst://rtspsrc location=rtsp://admin:{ENCODED}@127.0.0.1:9/x "
                       f"user-pw={PROPERTY_PASSWORD} ! nosuchelement", 2)]:
        result = subprocess.run([sys.executable, "-m", "app", "--bundle", str(tiny_bundle),
                                 "--source", uri, "--check-config", "--log-level", "DEBUG"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == code, result.stderr
        assert "admin:***@127.0.0.1" in result.stdout + result.stderr
        assert_no_leak({"stdout": result.stdout, "stderr": result.stderr})
