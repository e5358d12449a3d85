"""The RTSP output with real parts: GStreamer's RTSP server, real clients (ffmpeg subprocesses
and rtspsrc pipelines in this process), the real app as a subprocess, real signals."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml

from app.config import ConfigError, RtspSettings, load_app_config
from app.frame import Frame
from app.outputs.base import Rendered
from app.outputs.rtsp_auth import hash_password, verify_password
from tests.app.conftest import decode

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 320, 240
DEADLINE_S = 90  # generous: two busy cores, the engine loading, x264 starting

gi = pytest.importorskip("gi")
try:  # only looks for the typelib: GStreamer itself is loaded after TensorFlow (see below)
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstApp", "1.0")
except ValueError as missing:
    pytest.skip(f"{missing}: apt install gir1.2-gst-rtsp-server-1.0", allow_module_level=True)

from app.outputs.rtsp import open_rtsp, rtsp_modules  # noqa: E402 - after the skip


@pytest.fixture(scope="module", autouse=True)
def _tensorflow_before_gstreamer(tiny_bundle):
    """The tiny bundle is built with TensorFlow in this process, and TensorFlow imported after
    GStreamer was initialised (OpenCV loaded) aborts the process: build it first."""


def gst():
    from gi.repository import GstApp  # noqa: F401 - gives appsink its pull methods

    return rtsp_modules()[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- clients -----------------------------------------------------------------------------------


def ffmpeg_frames(url: str, count: int, size: tuple[int, int] = (WIDTH, HEIGHT),
                  timeout: float = DEADLINE_S) -> tuple[list[np.ndarray], str, int]:
    """Decode `count` frames with ffmpeg (a separate process, as VLC or an NVR would be):
    (frames, stderr, exit code). passthrough: real decoded frames, never duplicated ones."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
               "-i", url, "-frames:v", str(count), "-fps_mode", "passthrough",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    result = subprocess.run(command, capture_output=True, timeout=timeout)
    width, height = size
    frame_bytes = width * height * 3
    data = result.stdout[: len(result.stdout) // frame_bytes * frame_bytes]
    frames = list(np.frombuffer(data, np.uint8).reshape(-1, height, width, 3))
    return frames, result.stderr.decode(errors="replace"), result.returncode


class RtspsrcClient:
    """A GStreamer client in this process: rtspsrc ! depay ! decode ! appsink (BGR)."""

    def __init__(self, url: str) -> None:
        Gst = gst()
        self.pipeline = Gst.parse_launch(
            f'rtspsrc location="{url}" protocols=tcp latency=0 ! rtph264depay ! h264parse'
            " ! avdec_h264 ! videoconvert ! video/x-raw,format=BGR"
            " ! appsink name=sink sync=false max-buffers=200")
        self.sink = self.pipeline.get_by_name("sink")
        self.warnings: list[str] = []  # what the elements warned of (a decoder's complaints)
        assert self.pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE

    def frames(self, count: int, timeout: float = DEADLINE_S,
               until=lambda frame: True) -> list[np.ndarray]:
        """The next `count` decoded frames for which `until(frame)` holds."""
        Gst = gst()
        got: list[np.ndarray] = []
        deadline = time.monotonic() + timeout
        bus = self.pipeline.get_bus()
        while len(got) < count and time.monotonic() < deadline:
            message = bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)
            if message is not None and message.type == Gst.MessageType.ERROR:
                raise AssertionError(f"client: {message.parse_error()[0].message}")
            if message is not None:
                self.warnings.append(message.parse_warning()[0].message)
                continue
            sample = self.sink.try_pull_sample(200 * Gst.MSECOND)
            if sample is not None:
                frame = self._array(sample)
                if until(frame):
                    got.append(frame)
        return got

    @staticmethod
    def _array(sample) -> np.ndarray:
        structure = sample.get_caps().get_structure(0)
        width, height = structure.get_value("width"), structure.get_value("height")
        buffer = sample.get_buffer()
        ok, mapped = buffer.map(gst().MapFlags.READ)
        assert ok
        try:
            data = np.frombuffer(mapped.data, np.uint8).copy()
        finally:
            buffer.unmap(mapped)
        stride = (width * 3 + 3) & ~3
        return data[: stride * height].reshape(height, stride)[:, : width * 3] \
            .reshape(height, width, 3)

    def close(self) -> None:
        self.pipeline.set_state(gst().State.NULL)  # rtspsrc sends TEARDOWN


@contextmanager
def feeding(output, picture: list[np.ndarray], fps: float = 30.0) -> Iterator[list[int]]:
    """Play the output thread: write `picture[0]` (the test may swap it) at `fps`; yields
    [frames written so far]."""
    stop = threading.Event()
    written = [0]

    def feed() -> None:
        while not stop.wait(1 / fps):
            image = picture[0]
            frame = Frame(image, written[0], time.monotonic())
            output.write(Rendered(image, frame, True, fps))
            written[0] += 1

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join(5)


def wait_for(condition, timeout: float = DEADLINE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    return np.full((size[1], size[0], 3), colour, np.uint8)


def near(frame: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.abs(np.median(frame.reshape(-1, 3), axis=0) - colour).max() <= tolerance)


@pytest.fixture
def rtsp_output():
    output = open_rtsp(RtspSettings(enabled=True, port=free_port()), "x264")
    yield output
    output.close()


# -- the output in this process ----------------------------------------------------------------


def test_nothing_is_encoded_until_a_client_comes_and_after_it_leaves(rtsp_output):
    picture = [solid((0, 0, 200))]
    with feeding(rtsp_output, picture) as written:
        assert wait_for(lambda: written[0] >= 10)
        assert rtsp_output.frames_sent == 0 and not rtsp_output.encoding
        client = RtspsrcClient(rtsp_output.url)
        try:
            frames = client.frames(20)
            assert len(frames) == 20
            assert all(near(f, (0, 0, 200)) for f in frames[5:])
            assert rtsp_output.encoding and rtsp_output.frames_sent >= 20
        finally:
            client.close()
        assert wait_for(lambda: not rtsp_output.encoding)
        sent, before = rtsp_output.frames_sent, written[0]
        assert wait_for(lambda: written[0] >= before + 10)
        assert rtsp_output.frames_sent == sent


def test_the_sinks_of_a_playing_client_never_wait_for_the_clock(rtsp_output):
    """The hang this prevents struck about 1 session in 60 on a busy machine (the RTP sink
    parked in its clock wait from the first buffer, the client never getting a frame); what
    causes it is checked here every time: once a client plays, no sink of the media syncs."""
    Gst = gst()
    with feeding(rtsp_output, [solid((0, 120, 0))]):
        client = RtspsrcClient(rtsp_output.url)
        try:
            assert len(client.frames(5)) == 5
            pipeline = rtsp_output._medias[0].get_element().get_parent()
            sinks = []
            walk = pipeline.iterate_recurse()
            while True:
                result, element = walk.next()
                if result != Gst.IteratorResult.OK:
                    break
                if isinstance(element, Gst.Element) and element.get_factory().get_name() \
                        in ("appsink", "multiudpsink"):
                    sinks.append(element)
            assert sinks and not any(sink.get_property("sync") for sink in sinks)
        finally:
            client.close()


def test_two_clients_share_one_encode(rtsp_output):
    picture = [solid((200, 0, 0))]
    with feeding(rtsp_output, picture):
        first = RtspsrcClient(rtsp_output.url)
        second = RtspsrcClient(rtsp_output.url)
        try:
            assert len(first.frames(15)) == 15
            assert len(second.frames(15)) == 15
            assert rtsp_output.encodes_started == 1
        finally:
            first.close()
            second.close()


def test_a_new_frame_size_reaches_a_connected_client(rtsp_output):
    picture = [solid((0, 200, 0))]
    with feeding(rtsp_output, picture):
        client = RtspsrcClient(rtsp_output.url)
        try:
            assert len(client.frames(5, until=lambda f: f.shape == (HEIGHT, WIDTH, 3))) == 5
            picture[0] = solid((200, 0, 200), (162, 122))  # odd row bytes: padded rows too
            smaller = client.frames(5, until=lambda f: f.shape == (122, 162, 3))
            assert len(smaller) == 5
            assert near(smaller[-1], (200, 0, 200))
        finally:
            client.close()
    assert rtsp_output.encodes_started == 1  # the same media: renegotiated, not rebuilt


def test_a_camera_that_goes_offline_still_sends_the_offline_picture(rtsp_output):
    picture = [solid((0, 200, 200))]
    client = RtspsrcClient(rtsp_output.url)
    try:
        with feeding(rtsp_output, picture):
            assert len(client.frames(3)) == 3
        stop = threading.Event()

        def offline() -> None:
            while not stop.wait(0.1):  # the output stage's idle poll
                rtsp_output.idle(True, "CAMERA OFFLINE")

        thread = threading.Thread(target=offline, daemon=True)
        thread.start()
        try:
            # the last frame at half brightness, under the HUD text
            dimmed = client.frames(3, until=lambda f: near(f, (0, 100, 100)))
            assert len(dimmed) == 3
        finally:
            stop.set()
            thread.join(5)
    finally:
        client.close()


def test_write_returns_at_once_when_the_encoder_is_behind(rtsp_output):
    """Frames far faster than x264 can take them are dropped and counted, never queued."""
    client = RtspsrcClient(rtsp_output.url)
    try:
        picture = [solid((90, 90, 90), (1280, 720))]
        with feeding(rtsp_output, picture, fps=30):
            assert len(client.frames(2)) == 2
        image = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), np.uint8)
        for index in range(300):  # no pause at all: the encoder cannot keep up
            rtsp_output.write(Rendered(image, Frame(image, index, time.monotonic()), True, 30))
        assert rtsp_output.dropped > 0
    finally:
        client.close()


def test_a_port_in_use_is_one_line_naming_the_key():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as raised:
            open_rtsp(RtspSettings(enabled=True, port=port), "x264")
    message = str(raised.value)
    assert message.startswith("rtsp.port: cannot listen on 127.0.0.1:") and "\n" not in message


def test_after_close_nothing_listens_and_write_is_a_no_op():
    port = free_port()
    output = open_rtsp(RtspSettings(enabled=True, port=port), "x264")
    output.close()
    image = solid((1, 2, 3))
    output.write(Rendered(image, Frame(image, 0, time.monotonic()), True, 30))
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # refused: the server is gone
    output.close()  # twice is fine


# -- config and passwords ----------------------------------------------------------------------


def test_rtsp_is_off_by_default_on_localhost():
    settings = load_app_config(None).rtsp
    assert (settings.enabled, settings.port, settings.path, settings.listen) == (
        False, 8554, "/segcam", "127.0.0.1")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"rtsp.enabled": True, "rtsp.listen": "0.0.0.0"},
     "rtsp: rtsp.listen 0.0.0.0 is not a local address"),
    ({"rtsp.enabled": True, "rtsp.listen": "::"}, "rtsp.listen :: is not a local address"),
    ({"rtsp.username": "viewer"}, "rtsp.username needs rtsp.password_hash"),
    ({"rtsp.password": "secret"}, "a password needs rtsp.username"),
    ({"rtsp.username": "viewer", "rtsp.password": "a", "rtsp.password_hash": hash_password("a", 1)},
     "not both"),
    ({"rtsp.password_hash": "md5$abc"}, "rtsp.password_hash: expected pbkdf2_sha256$"),
    ({"rtsp.listen": "camera.local"}, "rtsp.listen: 'camera.local' is not an IP"),
    ({"rtsp.path": "segcam"}, "rtsp.path: must start with /"),
    ({"rtsp.port": 0}, "rtsp.port:"),
])
def test_bad_rtsp_settings_name_the_key(overrides, expected):
    with pytest.raises(ConfigError) as raised:
        load_app_config(None, overrides)
    assert expected in str(raised.value)


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_a_local_bind_needs_no_credential(listen):
    assert load_app_config(None, {"rtsp.enabled": True, "rtsp.listen": listen}).rtsp.enabled


def test_a_non_local_bind_with_a_credential_is_accepted_and_the_password_stays_hidden():
    config = load_app_config(None, {"rtsp.enabled": True, "rtsp.listen": "0.0.0.0",
                                    "rtsp.username": "viewer", "rtsp.password": "s3cret"})
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.rtsp)


def _hash_command(stdin: str) -> subprocess.CompletedProcess:
    """`python -m app.outputs.rtsp_auth` with the password piped in, run the way `make test`
    runs at a person's terminal: the child has a controlling terminal of its own (a pty nobody
    types at), which getpass would read instead of the pipe and wait at for ever."""
    controller, terminal = os.openpty()
    try:
        def take_the_terminal() -> None:  # a new session's first tty becomes its /dev/tty
            os.close(os.open(os.ttyname(terminal), os.O_RDWR))

        return subprocess.run([sys.executable, "-m", "app.outputs.rtsp_auth"], cwd=ROOT,
                              input=stdin, capture_output=True, text=True, timeout=20,
                              start_new_session=True, preexec_fn=take_the_terminal)
    finally:
        os.close(controller)
        os.close(terminal)


def test_password_hash_round_trip_and_the_command_that_makes_one():
    encoded = hash_password("s3cret", 1000)
    assert verify_password("s3cret", encoded) and not verify_password("s3cre", encoded)
    result = _hash_command("open sesame\nopen sesame\n")
    assert result.returncode == 0, result.stderr
    made = result.stdout.strip().splitlines()[-1]
    assert made.startswith("pbkdf2_sha256$") and verify_password("open sesame", made)
    load_app_config(None, {"rtsp.username": "viewer", "rtsp.password_hash": made})
    differ = _hash_command("one\ntwo\n")
    assert differ.returncode == 2 and "differ" in differ.stderr
    empty = _hash_command("")
    assert empty.returncode == 2 and "no password" in empty.stderr


# -- the app, end to end -----------------------------------------------------------------------


def app_config(path: Path, **sections) -> Path:
    base = {"source": {"uri": "test://", "width": WIDTH, "height": HEIGHT, "fps": 15},
            "overlay": {"mode": "overlay", "alpha": 0.5, "hidden": [], "legend": False,
                        "hud": False},
            "pipeline": {"stats_interval_s": 1.0}, "telemetry": {"enabled": False},
            "record": {"enabled": False}, "rtsp": {"enabled": True, "port": free_port()}}
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(base))
    return path


class RunningApp:
    """`python -m app` in the background, its log in a file the test can poll."""

    def __init__(self, config: Path, bundle: Path, log: Path, *args: str, **popen) -> None:
        self.config = yaml.safe_load(config.read_text())
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "--config", str(config), "--bundle", str(bundle),
             "--headless", *args], cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT,
            **popen)

    def url(self, credential: str = "") -> str:
        rtsp = self.config["rtsp"]
        return f"rtsp://{credential}127.0.0.1:{rtsp['port']}{rtsp.get('path', '/segcam')}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, count: int = 1) -> bool:
        return wait_for(lambda: self.text().count(needle) >= count or self.process.poll() is not None)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._log_file.close()


@pytest.fixture
def running_app(tiny_bundle, tmp_path):
    apps: list[RunningApp] = []

    def start(*args: str, **sections) -> RunningApp:
        app = RunningApp(app_config(tmp_path / f"app{len(apps)}.yaml", **sections), tiny_bundle,
                         tmp_path / f"app{len(apps)}.log", *args)
        apps.append(app)
        assert app.wait_for_log("first frame through"), app.text()[-3000:]
        return app

    yield start
    for app in apps:
        app.stop()


def rendered_pattern(bundle: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct frame of test:// at WIDTH x HEIGHT, raw and as the app renders it
    (the tiny bundle's segmentation, blended at alpha 0.5, no hidden class)."""
    from app.render import Renderer
    from app.segmenter import Segmenter
    from app.sources import SourceOptions
    from app.sources.synthetic import SPEED, TestPatternSource
    from models.engines import open_engine

    source = TestPatternSource("test://", SourceOptions(width=WIDTH, height=HEIGHT, fps=0))
    raw = np.stack([source.read() for _ in range(WIDTH // SPEED)])
    source.close()
    with open_engine(bundle, backend="litert") as engine:
        segmenter = Segmenter(engine)
        renderer = Renderer(engine.palette, engine.classes, alpha=0.5, hidden=[], mode="overlay")
        rendered = np.stack([renderer.annotate(image, segmenter.segment(image)) for image in raw])
    return raw, rendered


def test_a_client_reads_the_annotated_video_from_the_app(running_app, tiny_bundle):
    app = running_app("--no-record")
    assert "encoding started" not in app.text()  # no client yet: nothing encoded
    frames, stderr, code = ffmpeg_frames(app.url(), 50)
    assert code == 0 and len(frames) == 50, stderr + app.text()[-3000:]

    # Each decoded frame is one of the app's rendered frames (up to H.264's loss), and much
    # further from the raw test pattern it was made from: the overlay is in the stream.
    raw, rendered = rendered_pattern(tiny_bundle)
    step = 4  # every 4th pixel each way is plenty, and 16 times cheaper
    rendered_s = rendered[:, ::step, ::step].astype(np.int16)
    raw_s = raw[:, ::step, ::step].astype(np.int16)
    for frame in frames[::5]:
        sample = frame[::step, ::step].astype(np.int16)
        to_rendered = np.abs(rendered_s - sample).mean(axis=(1, 2, 3))
        best = int(to_rendered.argmin())
        to_raw = np.abs(raw_s[best] - sample).mean()
        # Measured: median 1-3 (the mean, 7-12, is H.264 at the colour edges), raw ~68.
        assert np.median(np.abs(rendered_s[best] - sample)) <= 6, best
        assert to_raw > 3 * to_rendered[best], (best, to_raw, to_rendered[best])


# -- players: what ffmpeg, OpenCV and GStreamer make of the app's stream -----------------------

PLAY_S = 10  # the 30 s, shortened: a broken key frame shows within the first second
MIN_PSNR_DB = 30.0
OPENCV_READER = """
import sys, cv2
capture = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
if not capture.isOpened():
    sys.exit("cannot open " + sys.argv[1])
for _ in range(int(sys.argv[2])):
    ok, frame = capture.read()
    if not ok:
        sys.exit("read failed")
    sys.stdout.buffer.write(frame.tobytes())
"""


@pytest.fixture(scope="module")
def played_app(tiny_bundle, tmp_path_factory):
    """One running app for the three players, and the frames it renders."""
    folder = tmp_path_factory.mktemp("played")
    app = RunningApp(app_config(folder / "app.yaml"), tiny_bundle, folder / "app.log",
                     "--no-record")
    try:
        assert app.wait_for_log("first frame through"), app.text()[-3000:]
        yield app, rendered_pattern(tiny_bundle)[1].astype(np.float32)
    finally:
        app.stop()


def psnr_to_rendered(frames: list[np.ndarray], rendered: np.ndarray) -> list[float]:
    """Each decoded frame's PSNR (dB) against the rendered frame it is closest to (found on
    every 4th pixel each way: 16 times cheaper, so every frame can be checked)."""
    sampled = rendered[:, ::4, ::4]
    values = []
    for frame in frames:
        frame = frame.astype(np.float32)
        best = int(((sampled - frame[::4, ::4]) ** 2).mean(axis=(1, 2, 3)).argmin())
        mse = float(((rendered[best] - frame) ** 2).mean())
        values.append(round(float(10 * np.log10(255 ** 2 / max(mse, 1e-6))), 1))
    return values


def test_ffmpeg_decodes_the_stream_with_no_error_and_as_the_app_rendered_it(played_app):
    """ffmpeg stands for every libavcodec player (ffplay, mpv, VLC, NVRs, Home Assistant):
    a key frame sent as SPS PPS IDR SPS PPS IDR (two slices, headers before each) made it
    report errors and smear the picture until the next key frame."""
    app, rendered = played_app
    command = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", app.url(),
               "-t", str(PLAY_S), "-f", "null", "-",  # the check a user would run
               "-t", str(PLAY_S), "-fps_mode", "passthrough", "-f", "rawvideo",
               "-pix_fmt", "bgr24", "pipe:1"]  # and the same decoded frames, to compare
    result = subprocess.run(command, capture_output=True, timeout=DEADLINE_S + PLAY_S)
    stderr = result.stderr.decode(errors="replace")
    frame_bytes = WIDTH * HEIGHT * 3
    frames = list(np.frombuffer(result.stdout[: len(result.stdout) // frame_bytes * frame_bytes],
                                np.uint8).reshape(-1, HEIGHT, WIDTH, 3))
    assert result.returncode == 0 and stderr == "", stderr[:3000]
    assert len(frames) >= PLAY_S, len(frames)  # at least one a second: the stream went on
    psnr = psnr_to_rendered(frames, rendered)
    assert min(psnr) >= MIN_PSNR_DB, psnr


def test_opencv_ffmpeg_backend_decodes_the_stream_with_no_error(played_app):
    app, rendered = played_app
    count = PLAY_S * 15  # source.fps 15
    result = subprocess.run([sys.executable, "-c", OPENCV_READER, app.url(), str(count)],
                            capture_output=True, timeout=DEADLINE_S + PLAY_S,
                            env={**os.environ, "OPENCV_FFMPEG_CAPTURE_OPTIONS": "rtsp_transport;tcp"})
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0 and stderr == "", stderr[:3000]
    frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
    assert len(frames) == count
    psnr = psnr_to_rendered(list(frames), rendered)
    assert min(psnr) >= MIN_PSNR_DB, psnr


def test_gstreamer_rtspsrc_decodes_the_stream_with_no_warning(played_app):
    app, rendered = played_app
    client = RtspsrcClient(app.url())
    try:
        frames = client.frames(PLAY_S * 15)
    finally:
        client.close()
    assert len(frames) == PLAY_S * 15 and not client.warnings, (len(frames), client.warnings)
    psnr = psnr_to_rendered(frames, rendered)
    assert min(psnr) >= MIN_PSNR_DB, psnr


def test_two_clients_of_the_app_both_get_frames_from_one_encode(running_app):
    app = running_app("--no-record")
    command = lambda: ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",  # noqa: E731
                       "-i", app.url(), "-frames:v", "50", "-fps_mode", "passthrough",
                       "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    clients = [subprocess.Popen(command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    outputs = [client.communicate(timeout=DEADLINE_S) for client in clients]
    for client, (stdout, stderr) in zip(clients, outputs, strict=True):
        assert client.returncode == 0, stderr.decode(errors="replace")
        assert len(stdout) == 50 * WIDTH * HEIGHT * 3
    assert app.text().count("encoding started") == 1, app.text()[-3000:]
    assert app.wait_for_log("encoding stopped"), app.text()[-3000:]  # both left: encoder off


@pytest.mark.parametrize("kind", ["password_hash", "password"])
def test_with_credentials_a_stranger_gets_401_and_the_viewer_gets_frames(running_app, kind):
    secret = {"password_hash": hash_password("open sesame", 1000), "password": "open sesame"}
    app = running_app("--no-record", rtsp={"username": "viewer", kind: secret[kind]})
    for credential in ("", "viewer:wrong@", "other:open%20sesame@"):
        frames, stderr, code = ffmpeg_frames(app.url(credential), 5, timeout=60)
        assert code != 0 and not frames and "401" in stderr, (credential, stderr)
    frames, stderr, code = ffmpeg_frames(app.url("viewer:open%20sesame@"), 50)
    assert code == 0 and len(frames) == 50, stderr
    assert "open sesame" not in app.text()


class FrameCounter:
    """An ffmpeg viewer (a separate process, as an NVR would be) counting decoded frames."""

    def __init__(self, url: str) -> None:
        self.frames = 0
        self.process = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self) -> None:
        size = ATTACK_SIZE[0] * ATTACK_SIZE[1]
        while self.process.stdout.read(size):
            self.frames += 1

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


ATTACK_SIZE = (1280, 720)  # two apps on one core with little to spare: a cost shows
GUESSES_PER_S = 20
WINDOW_S = 20.0


def output_fps(app: RunningApp, first_line: int, last_line: int) -> float:
    """The mean of the app's own per-second output rates logged between two line numbers
    (the first report is left out: it straddles the window's start)."""
    rates = [float(line.rsplit(" output ", 1)[1].split()[0])
             for line in app.text().splitlines()[first_line:last_line]
             if "app.pipeline: fps capture" in line][1:]
    assert rates, app.text()[-2000:]
    return sum(rates) / len(rates)


def guess_passwords(url_port: int, stop: threading.Event) -> list[int]:
    """GUESSES_PER_S DESCRIBE requests a second, each a new connection with a new wrong
    password, from 127.0.0.2 (another address than the viewer's); [guesses sent]."""
    sent = [0]

    def guess() -> None:
        credential = base64.b64encode(f"viewer:{secrets.token_hex(6)}".encode()).decode()
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", url_port), timeout=30, source_address=("127.0.0.2", 0)) as sock:
            sock.sendall(f"DESCRIBE rtsp://127.0.0.1:{url_port}/segcam RTSP/1.0\r\nCSeq: 1\r\n"
                         f"Authorization: Basic {credential}\r\n\r\n".encode())
            sock.recv(4096)

    def attack() -> None:
        while not stop.wait(1 / GUESSES_PER_S):
            threading.Thread(target=guess, daemon=True).start()
            sent[0] += 1

    threading.Thread(target=attack, daemon=True).start()
    return sent


def test_wrong_passwords_in_a_stream_do_not_slow_the_camera(tiny_bundle, tmp_path):
    """20 wrong passwords a second, each a full 600,000-round PBKDF2 check before, took the
    camera from 11.4 to 5.5 fps in the issue. Measured side by side: two apps, one attacked,
    share one core, each in a session of its own, so the kernel (autogroup) gives each half
    of it and a thread the attack adds in one takes from that one first; the attacked app's
    frame rate relative to the other's must stay within 10 % of what it was before."""
    core = max(os.sched_getaffinity(0))
    secret = hash_password("open sesame")  # the real cost, as `python -m app.outputs.rtsp_auth`
    apps, viewers = [], []
    try:
        for name in ("attacked", "control"):
            config = app_config(tmp_path / f"{name}.yaml",
                                source={"width": ATTACK_SIZE[0], "height": ATTACK_SIZE[1],
                                        "fps": 30},
                                rtsp={"username": "viewer", "password_hash": secret})
            apps.append(RunningApp(config, tiny_bundle, tmp_path / f"{name}.log", "--no-record",
                                   start_new_session=True,
                                   preexec_fn=lambda: os.sched_setaffinity(0, {core})))
        for app in apps:
            assert app.wait_for_log("first frame through"), app.text()[-3000:]
            viewers.append(FrameCounter(app.url("viewer:open%20sesame@")))
        assert wait_for(lambda: min(v.frames for v in viewers) >= 30), apps[0].text()[-3000:]

        def window() -> tuple[float, float]:
            """(camera A / camera B, viewer A / viewer B) over WINDOW_S."""
            lines = [len(app.text().splitlines()) for app in apps]
            frames = [viewer.frames for viewer in viewers]
            time.sleep(WINDOW_S)
            fps = [output_fps(app, line, len(app.text().splitlines()))
                   for app, line in zip(apps, lines, strict=True)]
            seen = [viewer.frames - before for viewer, before in zip(viewers, frames, strict=True)]
            print(f"camera fps A {fps[0]:.2f} B {fps[1]:.2f}, viewer frames A {seen[0]} "
                  f"B {seen[1]}")
            return fps[0] / fps[1], seen[0] / max(1, seen[1])

        camera_before, viewer_before = window()
        stop = threading.Event()
        sent = guess_passwords(apps[0].config["rtsp"]["port"], stop)
        try:
            camera_during, viewer_during = window()
        finally:
            stop.set()
        measured = (f"camera A/B {camera_before:.3f} -> {camera_during:.3f}, viewer A/B "
                    f"{viewer_before:.3f} -> {viewer_during:.3f}, {sent[0]} guesses")
        print(measured)
        assert sent[0] >= GUESSES_PER_S * WINDOW_S * 0.9, measured
        assert camera_during >= 0.9 * camera_before, measured
        # The real viewer still watches. Not within 10 %: the one password check the attack
        # gets holds the RTSP thread for its duration, and the viewer's data with it.
        assert viewer_during >= 0.5 * viewer_before, measured
        assert "failed login from 127.0.0.2" in apps[0].text()
        assert apps[0].text().count("rtsp: failed login") <= 2  # one line, then a count
    finally:
        for viewer in viewers:
            viewer.stop()
        for app in apps:
            app.stop()


def test_a_non_local_bind_without_a_credential_exits_2_with_one_line(tmp_path, tiny_bundle):
    config = app_config(tmp_path / "app.yaml", rtsp={"listen": "0.0.0.0"})
    for extra in ([], ["--check-config"]):
        result = subprocess.run([sys.executable, "-m", "app", "--config", str(config),
                                 "--bundle", str(tiny_bundle), "--headless", *extra],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stdout[-2000:] + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "rtsp.listen 0.0.0.0 is not a local address" in lines[0], lines
        assert "Traceback" not in result.stdout + result.stderr


def test_sigterm_with_a_client_watching_exits_0_and_leaves_playable_segments(running_app,
                                                                            tmp_path):
    record = tmp_path / "rec"
    app = running_app("--record", str(record), record={"segment_seconds": 1.0})
    client = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport",
                               "tcp", "-i", app.url(), "-f", "rawvideo", "-pix_fmt", "bgr24",
                               "-"], stdout=subprocess.PIPE, stderr=(tmp_path / "ffmpeg.err").open("w"))
    try:
        received = [0]

        def drain() -> None:
            while chunk := client.stdout.read(WIDTH * HEIGHT * 3):
                received[0] += len(chunk)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        assert wait_for(lambda: received[0] >= 10 * WIDTH * HEIGHT * 3), (
            (tmp_path / "ffmpeg.err").read_text()[-2000:] + app.text()[:6000])
        assert wait_for(lambda: len(list(record.glob("*.mkv"))) >= 2)
        app.process.send_signal(signal.SIGTERM)
        # systemd's TimeoutStopSec=10: the unit's budget, with a client connected
        code = app.process.wait(timeout=10)
        assert code == 0, app.text()[-3000:]
        assert "rtsp: closed" in app.text()
        segments = sorted(record.glob("*.mkv"))
        assert segments and all(decode(segment) for segment in segments), segments
        client.wait(timeout=30)  # the server closed the connection: the client ends too
        reader.join(5)
    finally:
        if client.poll() is None:
            os.kill(client.pid, signal.SIGKILL)
            client.wait(10)


def test_a_port_in_use_stops_the_app_with_one_line_and_exit_2(tmp_path, tiny_bundle):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = app_config(tmp_path / "app.yaml", rtsp={"port": taken.getsockname()[1]})
        result = subprocess.run([sys.executable, "-m", "app", "--config", str(config),
                                 "--bundle", str(tiny_bundle), "--headless"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("error: rtsp.port: cannot listen")
    assert "Traceback" not in result.stderr


# -- frame times -------------------------------------------------------------------------------


def test_jittered_capture_times_become_rising_stamps_on_the_frame_grid():
    from fractions import Fraction

    from app.outputs.rtsp_clock import SECOND, FrameClock

    clock, fps = FrameClock(), Fraction(30)
    period = Fraction(SECOND, 30)  # 33,333,333.3 ns: stamps are rounded to whole ns
    grid = {round(k * period) for k in range(2000)}
    rng = np.random.default_rng(3)
    jitter = rng.uniform(-0.45, 0.45, 600) * float(period)
    gaps = rng.choice([1, 1, 1, 2, 3], 600)  # frames the pipeline dropped
    captured = [round(SECOND + int(gaps[:i].sum()) * period + jitter[i]) for i in range(600)]
    stamps = [clock.stamp(at, fps) for at in captured]
    assert None not in stamps and set(stamps) <= grid
    assert all(b - a >= period - 1 for a, b in zip(stamps, stamps[1:], strict=False))
    # A source faster than its stated rate: a frame in the last one's slot takes the next,
    # the frame after it the one after (on the grid, not a nanosecond after: libavformat
    # would put both in one unit), and one that would be stamped over a period after its
    # capture is dropped.
    k = round(stamps[-1] / period)
    assert clock.stamp(round((k + 0.1) * period), fps) == round((k + 1) * period)
    assert clock.stamp(round((k + 1.1) * period), fps) == round((k + 2) * period)
    assert clock.stamp(round((k + 1.2) * period), fps) is None
    assert FrameClock().stamp(-1, fps) is None  # captured before the media started
