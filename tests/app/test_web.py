"""The web output with real parts: a running pipeline (real engine, test:// source, real
GStreamer recording) serving real HTTP on a real socket, read with the standard library."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from app.config import load_app_config
from app.outputs import Output, Rendered
from app.pipeline import Pipeline, RunOptions
from tests.app.conftest import wait_for


class Remember(Output):
    """A real output that keeps the labels of the last frames it was given, by frame index."""

    name = "remember"

    def __init__(self) -> None:
        self.labels: dict[int, np.ndarray] = {}

    def write(self, rendered: Rendered) -> None:
        self.labels[rendered.frame.index] = rendered.frame.labels.copy()
        for old in [i for i in self.labels if i < rendered.frame.index - 200]:
            del self.labels[old]

    def close(self) -> None:
        pass


class Running:
    def __init__(self, pipeline: Pipeline, remember: Remember) -> None:
        self.pipeline = pipeline
        self.remember = remember
        self.url = pipeline.web.url
        self.thread = threading.Thread(target=pipeline.run, daemon=True)

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.url + path.lstrip("/"), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str) -> dict:
        status, _headers, body = self.get(path)
        assert status == 200, (path, status, body[:200])
        return json.loads(body)

    def frames_out(self) -> int:
        return self.pipeline.stats.output.total


@pytest.fixture
def start(engine, tmp_path) -> Iterator[Callable[..., Running]]:
    """start(**overrides) -> a running pipeline with the web output on a free port."""
    started: list[Running] = []

    def run(**overrides) -> Running:
        base = {"source.uri": "test://", "source.width": 96, "source.height": 64,
                "source.fps": 30, "display.enabled": False, "telemetry.enabled": False,
                "record.enabled": False, "record.dir": str(tmp_path / "rec"),
                "record.segment_seconds": 1.0, "pipeline.stats_interval_s": 30,
                "web.enabled": True, "web.listen": "127.0.0.1:0"}
        config = load_app_config(None, {**base, **overrides})
        pipeline = Pipeline(config, engine, RunOptions(headless=True))
        remember = Remember()
        pipeline.output.outputs.append(remember)
        running = Running(pipeline, remember)
        running.thread.start()
        started.append(running)
        wait_for(lambda: running.frames_out() >= 3, "the first frames through")
        return running

    yield run
    for running in started:
        running.pipeline.stop()
        running.thread.join(20)
        assert not running.thread.is_alive()


class Stream:
    """An MJPEG client: reads parts (headers + JPEG) off multipart/x-mixed-replace."""

    def __init__(self, url: str, path: str = "stream.mjpg", recv_buffer: int | None = None,
                 read: bool = True) -> None:
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.sock = socket.socket()
        if recv_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
        self.sock.settimeout(30)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        self.file = self.sock.makefile("rb") if read else None
        if read:
            status = self.file.readline().split()
            self.status = int(status[1])
            self.headers: dict[str, str] = {}
            while (line := self.file.readline().strip()):
                key, _, value = line.decode().partition(":")
                self.headers[key.lower()] = value.strip()

    def part(self) -> tuple[dict[str, str], bytes]:
        headers: dict[str, str] = {}
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("stream ended")
            line = line.strip()
            if line.startswith(b"--") or (not line and not headers):
                continue  # a boundary (or chunked-encoding framing around it)
            if not line:
                break
            if b":" not in line:
                continue  # a chunk size line
            key, _, value = line.decode().partition(":")
            headers[key.lower()] = value.strip()
        data = self.file.read(int(headers["content-length"]))
        return headers, data

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        self.sock.close()


def test_labels_png_is_the_class_map_the_pipeline_made_for_that_frame(start, engine):
    running = start()
    for _ in range(3):  # three different frames, each compared with what the pipeline made
        status, headers, body = running.get("api/labels.png")
        assert status == 200 and headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(body))
        assert image.mode == "P"  # indexed: pixel values are class ids
        index = int(headers["X-Frame-Index"])
        np.testing.assert_array_equal(np.array(image), running.remember.labels[index])
        palette = np.array(image.getpalette()[:3 * len(engine.classes)]).reshape(-1, 3)
        np.testing.assert_array_equal(palette, engine.palette[:len(engine.classes)])
        wait_for(lambda i=index: running.frames_out() > 0 and
                 running.pipeline.web.hub.latest().frame.index > i, "a newer frame")


def test_classes_gives_the_fractions_of_that_frame_and_the_legend(start, engine):
    running = start()
    reply = running.json("api/classes")
    labels = running.remember.labels[reply["frame"]]
    assert reply["size"] == [labels.shape[1], labels.shape[0]]
    names = [c["name"] for c in reply["classes"]]
    assert names == list(engine.classes)
    for entry in reply["classes"]:
        expected = float(np.mean(labels == entry["id"]))
        assert entry["fraction"] == pytest.approx(expected, abs=1e-6)
        assert entry["color"] == "#{:02x}{:02x}{:02x}".format(*engine.palette[entry["id"]])
    assert sum(c["fraction"] for c in reply["classes"]) == pytest.approx(1.0, abs=1e-4)
    assert reply["captured_at"]


def test_stats_json_has_the_snapshot_backend_and_recording_state(start, engine, tmp_path):
    running = start(**{"record.enabled": True})
    wait_for(lambda: running.json("api/stats")["recording"]["segment"], "a segment")
    stats = wait_for(lambda: (s := running.json("api/stats")).get("output_fps") and s,
                     "a rate")
    assert stats["backend"] == engine.name
    assert stats["camera"] == "online"
    assert stats["source"] == "test://"
    assert stats["frames"]["output"] > 0 and stats["output_fps"] > 0
    assert "capture_to_output" in stats["latency"]
    assert set(stats["drops"]) == {"capture", "inference", "record"}
    assert stats["recording"]["enabled"] and stats["recording"]["active"]
    assert stats["web"]["max_clients"] == 4


def test_stats_hide_a_camera_password(engine, tmp_path):
    """Built, not run: an rtsp camera that does not exist; /api/stats must not show its password."""
    config = load_app_config(None, {
        "source.uri": "rtsp://admin:hunter2@192.0.2.1/stream", "display.enabled": False,
        "telemetry.enabled": False, "record.enabled": False, "web.enabled": True,
        "web.listen": "127.0.0.1:0"})
    pipeline = Pipeline(config, engine, RunOptions(headless=True))
    try:
        with urllib.request.urlopen(pipeline.web.url + "api/stats", timeout=30) as reply:
            body = reply.read().decode()
        assert "hunter2" not in body and "192.0.2.1" in body
    finally:
        pipeline.web.close()


def test_metrics_parse_as_prometheus_text(start):
    running = start(**{"record.enabled": True})

    def scrape() -> tuple[dict, dict]:
        status, headers, body = running.get("metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in families.values() for s in f.samples}
        return families, samples

    families, samples = wait_for(
        lambda: (got := scrape())[1].get(("segcam_recording_bytes", ()), 0) > 0 and got,
        "recorded bytes")
    assert families["segcam_frames"].type == "counter"
    assert samples[("segcam_frames_total", (("stage", "output"),))] > 0
    assert ("segcam_dropped_frames_total", (("stage", "capture"),)) in samples
    assert samples[("segcam_camera_online", ())] == 1
    assert samples[("segcam_reconnects_total", ())] == 0
    assert families["segcam_stage_latency_seconds"].type == "histogram"
    for stage in ("preprocess", "infer", "render", "capture_to_output"):
        assert samples[("segcam_stage_latency_seconds_count", (("stage", stage),))] > 0
    assert samples[("segcam_recording_segments", ())] >= 1
    assert samples[("segcam_recording_bytes", ())] > 0
    assert samples[("segcam_disk_free_bytes", ())] > 0
    assert samples[("segcam_recording_active", ())] == 1
    from models.version import version

    assert samples[("segcam_build_info", (("version", version()),))] == 1
    assert running.json("api/stats")["version"] == version()
    assert samples[("segcam_recording_ok", ())] == 1
    assert samples[("segcam_recording_state", (("state", "recording"),))] == 1
    assert samples[("segcam_web_connections", ())] >= 1  # this scrape's own
    assert samples[("segcam_web_refused_connections_total", ())] == 0


def test_a_frame_nobody_watches_is_never_encoded(start):
    running = start()
    first = running.frames_out()
    wait_for(lambda: running.frames_out() > first + 20, "frames going through")
    assert running.pipeline.web.hub.encodes == 0
    assert running.json("api/stats")["web"]["jpeg_encodes"] == 0


def test_one_jpeg_per_frame_whatever_the_number_of_viewers(start):
    running = start()
    hub = running.pipeline.web.hub
    streams = [Stream(running.url) for _ in range(3)]
    try:
        assert all(s.status == 200 for s in streams)
        assert streams[0].headers["content-type"].startswith("multipart/x-mixed-replace")
        parts = [{}, {}, {}]
        wait_for(lambda: (
            [parts[i].setdefault(int(h["x-frame-index"]), data)
             for i, s in enumerate(streams) for h, data in [s.part()]]
            and len(set(parts[0]) & set(parts[1]) & set(parts[2])) >= 5), "shared frames")
        for index in set(parts[0]) & set(parts[1]) & set(parts[2]):
            assert parts[0][index] == parts[1][index] == parts[2][index]  # the same JPEG
            assert cv2.imdecode(np.frombuffer(parts[0][index], np.uint8), 1) is not None
        assert 0 < hub.encodes <= hub.published  # three viewers, at most one encode a frame
    finally:
        for stream in streams:
            stream.close()


def test_frame_jpg_is_the_latest_frame(start):
    running = start()
    status, headers, body = running.get("api/frame.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (64, 96, 3)
    assert int(headers["X-Frame-Index"]) >= 0


def test_more_streams_than_max_clients_get_503(start):
    running = start(**{"web.max_clients": 2})
    first, second = Stream(running.url), Stream(running.url)
    try:
        assert (first.status, second.status) == (200, 200)
        first.part()
        second.part()
        third = Stream(running.url)
        assert third.status == 503
        third.close()
        first.close()
        # The slot frees once the server notices the closed connection.
        def fourth_ok() -> bool:
            stream = Stream(running.url)
            ok = stream.status == 200
            stream.close()
            return ok
        wait_for(fourth_ok, "a freed slot")
    finally:
        second.close()


def test_a_stalled_client_delays_neither_the_pipeline_nor_other_clients(start):
    running = start(**{"source.width": 320, "source.height": 240, "web.jpeg_quality": 100})
    stalled = Stream(running.url, recv_buffer=4096, read=False)  # connects, never reads
    reader = Stream(running.url)
    try:
        seen: set[int] = set()
        wait_for(lambda: seen.add(int(reader.part()[0]["x-frame-index"])) or len(seen) >= 40,
                 "40 frames on the reading client")
        # The stalled client's socket is full long before 40 frames of 320x240 at quality 100.
        status = running.json("api/stats")
        assert status["web"]["stream_clients"] == 2
        before = running.frames_out()
        wait_for(lambda: running.frames_out() > before + 20, "the pipeline going on")
    finally:
        stalled.close()
        reader.close()


TOKEN = "correct-horse-battery-staple"


def test_a_configured_token_is_required(start):
    running = start(**{"web.token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()})
    for path in ("", "api/stats", "stream.mjpg", "metrics", "recordings", "api/labels.png"):
        status, headers, _ = running.get(path)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert running.get(path, {"Authorization": "Bearer wrong"})[0] == 401
        assert running.get(f"{path}?token=wrong")[0] == 401
    assert running.get("api/stats", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    status, headers, _ = running.get(f"?token={TOKEN}")
    assert status == 200
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in headers["Set-Cookie"]
    # The page's own requests carry the cookie instead of the token.
    assert running.get("api/stats", {"Cookie": cookie})[0] == 200


def test_a_segment_that_opens_while_the_list_is_made_is_not_shown_closed(tmp_path):
    """The open segment is asked for after the folder is read: a recorder that opens its first
    segment in between (a busy machine at start-up) cannot make it look closed and playable."""
    from datetime import datetime

    from app.recording.retention import segment_name
    from app.web.recordings import PREFIX, Recordings

    first, second = (tmp_path / segment_name(PREFIX, datetime(2026, 1, 1, 8), i) for i in (1, 2))
    first.write_bytes(b"\x1a\x45\xdf\xa3 being written")

    [segment] = Recordings(tmp_path).list(lambda: first.name)
    assert segment.as_json()["recording"] is True
    assert segment.as_json()["play"] is None and segment.as_json()["duration_s"] is None

    def rotate() -> str:  # the recorder opens the next segment just as it is asked
        second.write_bytes(b"\x1a\x45\xdf\xa3 being written")
        return second.name

    # the folder was read before: the new segment shows on the next refresh, as open
    assert [s.name for s in Recordings(tmp_path).list(rotate)] == [first.name]
    assert [s.recording for s in Recordings(tmp_path).list(lambda: second.name)] == [True, False]


def test_recordings_list_download_and_play_and_nothing_outside_record_dir(start, tmp_path):
    running = start(**{"record.enabled": True})
    segments = wait_for(lambda: [s for s in running.json("api/recordings")["segments"]
                                 if s["play"] and s["duration_s"]], "a closed segment")
    segment = segments[0]
    assert segment["size_bytes"] > 0 and segment["started"]
    path = tmp_path / "rec" / segment["name"]
    status, headers, body = running.get(segment["download"])
    assert status == 200 and body == path.read_bytes()
    assert "attachment" in headers["Content-Disposition"]
    status, headers, body = running.get(segment["play"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(body)
    capture = cv2.VideoCapture(str(copy))
    ok, picture = capture.read()
    capture.release()
    assert ok and picture.shape == (64, 96, 3)
    # Range requests (a browser seeking in the <video>): 206 with the asked bytes.
    status, _headers, part = running.get(segment["play"], {"Range": "bytes=0-99"})
    assert status == 206 and part == body[:100]
    (tmp_path / "secret.txt").write_text("secret")
    for attempt in ("recordings/../secret.txt", "recordings/%2e%2e/secret.txt",
                    "recordings/%2e%2e%2fsecret.txt", "recordings/..%2F..%2Fetc%2Fpasswd",
                    f"recordings/{tmp_path}/secret.txt", "recordings//etc/passwd",
                    "recordings/%2Fetc%2Fpasswd", "static/../../config.py",
                    "static/%2e%2e/routes.py", "recordings/notes.mkv",
                    f"recordings/{Path(segment['name']).stem}.mp4/..",
                    "recordings/seg_20200101T000000_0001.mp4"):
        assert raw_status(running.url, attempt) == 404, attempt


def raw_status(url: str, path: str) -> int:
    """GET `path` exactly as written (urllib would normalise `..` away)."""
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", "/" + path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_close_ends_open_streams(start):
    running = start()
    stream = Stream(running.url)
    stream.part()
    running.pipeline.web.close()
    with pytest.raises((EOFError, ConnectionResetError)):
        for _ in range(1000):
            stream.part()
    stream.close()


# -- connection limits and timeouts (issue 27: idle clients must not end recording) ---------


def raw_connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the server from `source` (any 127.x address is this machine)."""
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    sock = socket.socket()
    sock.settimeout(30)
    sock.bind((source, 0))
    sock.connect((host, int(port)))
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout: it did not)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def first_bytes(sock: socket.socket) -> bytes:
    """The first bytes of the answer; b"" when the server closed (or reset) without one."""
    try:
        return sock.recv(12)
    except ConnectionResetError:
        return b""


def test_a_connection_that_sends_nothing_or_half_a_request_is_closed(start):
    running = start()
    silent = raw_connect(running.url)
    half = raw_connect(running.url)
    half.sendall(b"GET /api/stats HTTP/1.1\r\nHost: camera\r\n")  # the head never ends
    kept = raw_connect(running.url)
    kept.sendall(b"GET /api/stats HTTP/1.1\r\nHost: camera\r\n\r\n")
    try:
        # recv's timeout (30 s) is far over the server's idle limit: it closes them first.
        assert read_to_end(silent) == b""
        assert read_to_end(half) == b""  # closed without an answer
        reply = read_to_end(kept)  # answered, then closed once idle (keep-alive ends)
        assert reply.startswith(b"HTTP/1.1 200") and b'"frames"' in reply
    finally:
        for sock in (silent, half, kept):
            sock.close()
    assert running.json("api/stats")["web"]["connections"] >= 1  # and it serves the next


def test_connections_over_the_limit_per_address_are_closed_at_once(start, caplog):
    from app.web.limits import PER_ADDRESS as limit

    running = start(**{"web.max_clients": 40})

    def stats_from(source: str) -> dict:
        sock = raw_connect(running.url, source)
        try:
            sock.sendall(b"GET /api/stats HTTP/1.0\r\n\r\n")
            return json.loads(read_to_end(sock).split(b"\r\n\r\n", 1)[1])
        finally:
            sock.close()

    # Live streams: a connection in use, never closed for being idle.
    streams = [raw_connect(running.url) for _ in range(limit + 8)]
    try:
        for sock in streams:
            with contextlib.suppress(OSError):  # a refused one may be closed already
                sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        answered = [s for s in streams if first_bytes(s)[8:12] == b" 200"]
        assert len(answered) == limit  # the other 8 were closed with no answer at all
        # Another address is served meanwhile, and sees the count.
        body = stats_from("127.0.0.2")
        assert body["web"]["connections"] == limit + 1  # the streams and this request
        assert body["web"]["refused_connections"] == 8
        assert body["web"]["stream_clients"] == limit
    finally:
        for sock in streams:
            sock.close()
    refusals = [r.getMessage() for r in caplog.records if "refus" in r.getMessage()]
    assert len(refusals) == 1 and "127.0.0.1" in refusals[0], refusals  # one line, not 8
    # The slots come back once the server has seen the streams end.
    wait_for(lambda: stats_from("127.0.0.2")["web"]["connections"] == 1, "freed connections")
    assert stats_from("127.0.0.1")["web"]["refused_connections"] == 8


def test_low_disk_is_plain_in_stats_and_metrics(start):
    """More free space asked for than any disk has: recording never starts, the run goes on,
    and /api/stats and /metrics say why."""
    running = start(**{"record.enabled": True, "record.min_free_gb": 100000})
    stats = wait_for(lambda: (s := running.json("api/stats"))["recording"]["state"] != "waiting"
                     and s, "the recorder's first try")
    recording = stats["recording"]
    assert recording["state"] == "low_disk" and not recording["active"], recording
    assert "min_free_gb 100000" in recording["reason"]
    _status, _headers, body = running.get("metrics")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert samples[("segcam_recording_ok", ())] == 0
    assert samples[("segcam_recording_state", (("state", "low_disk"),))] == 1
    assert samples[("segcam_recording_state", (("state", "recording"),))] == 0
    before = running.frames_out()
    wait_for(lambda: running.frames_out() > before + 10, "the pipeline going on")
