"""Sources against real parts: numpy patterns, a real mp4 file, real PNGs, real GStreamer."""

from __future__ import annotations

import ast
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from app.sources import SourceError, SourceOptions, check_source, gst, open_source
from app.sources.csi import csi_pipeline
from app.sources.gst import (
    APPSINK_TAIL,
    choose_backend,
    element_names,
    ensure_appsink,
    open_pipeline,
)
from app.sources.gst_opencv import OpenCVGstSource
from app.sources.images import natural_key
from app.sources.rtsp import rtsp_pipeline

if TYPE_CHECKING:
    from conftest import Clip

PNG_COUNT = 5  # conftest's png_folder
FAST = SourceOptions(fps=0)


def read_all(source, limit: int = 1000) -> list[np.ndarray]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
        assert len(frames) <= limit, "source did not end"
    return frames


def is_bgr(frame: np.ndarray, width: int, height: int) -> bool:
    return frame.shape == (height, width, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous


# ---- test:// --------------------------------------------------------------------------------

@pytest.mark.parametrize("uri", ["test://", "test://?pattern=checker"])
def test_pattern_has_size_and_moves(uri: str) -> None:
    with open_source(uri, SourceOptions(width=160, height=120, fps=0)) as source:
        frames = [source.read() for _ in range(3)]
    assert all(is_bgr(f, 160, 120) for f in frames)
    assert not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(frames[1], frames[2])
    assert source.is_live


def test_pattern_is_deterministic_and_defaults_to_640x480() -> None:
    with open_source("test://", FAST) as a, open_source("test://", FAST) as b:
        first = [a.read() for _ in range(4)]
        second = [b.read() for _ in range(4)]
    assert is_bgr(first[0], 640, 480)
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))


def test_pattern_is_paced_at_fps() -> None:
    with open_source("test://", SourceOptions(width=32, height=24, fps=50)) as source:
        start = time.monotonic()
        for _ in range(6):
            source.read()
        elapsed = time.monotonic() - start
    assert 0.09 <= elapsed < 1.0  # 5 periods of 20 ms after the first frame


def test_unknown_pattern_is_an_error() -> None:
    with pytest.raises(SourceError, match="unknown pattern 'nope'"):
        open_source("test://?pattern=nope", FAST)


# ---- video files ----------------------------------------------------------------------------

def test_video_file_frames_in_order_then_none(clip: Clip) -> None:
    with open_source(str(clip.path)) as source:
        assert not source.is_live
        frames = read_all(source)
        assert source.read() is None  # stays ended
    assert len(frames) == clip.frames
    assert all(is_bgr(f, clip.width, clip.height) for f in frames)
    # Sample a corner away from the moving box: the gray level written for that frame.
    assert [abs(int(f[100, 150, 1]) - clip.level(i)) <= 6 for i, f in enumerate(frames)] == [True] * clip.frames


def test_video_file_uri_and_loop(clip: Clip) -> None:
    with open_source(f"file://{clip.path}", SourceOptions(loop=True)) as source:
        frames = [source.read() for _ in range(2 * clip.frames + 5)]
    assert all(f is not None for f in frames)
    assert np.array_equal(frames[0], frames[clip.frames])  # restarted at the first frame
    assert np.array_equal(frames[3], frames[2 * clip.frames + 3])


def test_video_file_realtime_is_paced(clip: Clip) -> None:
    with open_source(str(clip.path), SourceOptions(realtime=True, fps=100)) as source:
        start = time.monotonic()
        for _ in range(11):
            source.read()
        assert time.monotonic() - start >= 0.09
    with open_source(str(clip.path)) as source:  # not realtime: as fast as it decodes
        start = time.monotonic()
        read_all(source)
        assert time.monotonic() - start < 0.9  # paced, 30 frames at 30 fps would take 1 s


def test_missing_and_bad_video_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match="no such video file: .*nope.mp4"):
        open_source(str(missing))
    with pytest.raises(SourceError, match="nope.mp4"):
        open_source(f"file://{missing}")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(SourceError, match="cannot decode .*junk.mp4"):
        open_source(str(junk))


# ---- image folders and globs ----------------------------------------------------------------

def blue_levels(frames: list[np.ndarray]) -> list[int]:
    return [int(f[0, 0, 0]) for f in frames]


def test_folder_plays_images_in_name_order(png_folder: Path) -> None:
    with open_source(str(png_folder)) as source:
        assert not source.is_live
        frames = read_all(source)
    assert blue_levels(frames) == [10 * (i + 1) for i in range(PNG_COUNT)]  # notes.txt skipped
    assert all(is_bgr(f, 32, 24) for f in frames)


def test_glob_file_uri_and_loop(png_folder: Path) -> None:
    with open_source(str(png_folder / "frame_00[13].png")) as source:
        assert blue_levels(read_all(source)) == [20, 40]
    with open_source(f"file://{png_folder}/", SourceOptions(loop=True)) as source:
        frames = [source.read() for _ in range(PNG_COUNT + 2)]
    assert blue_levels(frames) == [10, 20, 30, 40, 50, 10, 20]


def test_single_image_file(png_folder: Path) -> None:
    with open_source(str(png_folder / "frame_002.png")) as source:
        assert blue_levels(read_all(source)) == [30]


def test_image_folder_realtime_pacing(png_folder: Path) -> None:
    with open_source(str(png_folder), SourceOptions(realtime=True, fps=50)) as source:
        start = time.monotonic()
        read_all(source)
        assert time.monotonic() - start >= 0.07  # 4 periods of 20 ms


def test_natural_name_order() -> None:
    names = ["f10.png", "f2.png", "f1.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "f10.png"]


def test_empty_missing_and_unreadable_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images in folder .*empty"):
        open_source(str(empty))
    with pytest.raises(SourceError, match="no images in glob"):
        open_source(str(tmp_path / "*.png"))
    with pytest.raises(SourceError, match="no such folder or image: .*missing"):
        open_source(str(tmp_path / "missing") + "/")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    with open_source(str(broken)) as source, pytest.raises(SourceError, match="cannot read image .*a.png"):
        source.read()


def test_an_unreadable_image_is_skipped_counted_and_warned_about(
        png_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(png_folder, folder)
    (folder / "frame_001.png").write_bytes(b"damaged")  # the second of five
    (folder / "frame_004.png").write_bytes(b"")  # and the last
    with caplog.at_level(logging.WARNING), open_source(str(folder)) as source:
        frames = read_all(source)
        assert source.skipped == 2
    assert blue_levels(frames) == [10, 30, 40]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 + (len(warnings) > 1)  # the second may be held by the rate limit
    assert "cannot read image" in warnings[0] and "frame_001.png; skipped" in warnings[0]


def test_many_unreadable_images_warn_a_few_lines_and_fail_only_when_none_is_readable(
        png_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "mostly-bad"
    folder.mkdir()
    for i in range(200):
        (folder / f"bad_{i:03d}.png").write_bytes(b"x")
    shutil.copy(png_folder / "frame_002.png", folder / "good.png")
    with caplog.at_level(logging.WARNING), open_source(str(folder), SourceOptions(loop=True)) as source:
        assert blue_levels([source.read(), source.read()]) == [30, 30]  # looped past 200 bad
        assert source.skipped == 400
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) < 20  # one per bad file, at most one a second: not 200 lines
    (folder / "good.png").write_bytes(b"now damaged too")
    with open_source(str(folder), SourceOptions(loop=True)) as source:
        with pytest.raises(SourceError, match=r"cannot read image .*bad_000.png nor any of the "
                           r"other 200") as err:
            source.read()
        assert err.value.permanent


# ---- GStreamer (PyGObject appsink here; this OpenCV has no GStreamer) ------------------------

def test_backend_here_is_pygobject() -> None:
    assert choose_backend("auto") == "gi"
    with pytest.raises(SourceError, match="built without GStreamer"):
        choose_backend("opencv")


def test_no_gstreamer_at_all_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gst, "gi_available", lambda: False)  # as on a bare pip install
    with pytest.raises(SourceError, match=r"^gst://videotestsrc: .*gir1.2-gstreamer-1.0.*pygobject<3.51"):
        open_source("gst://videotestsrc")


@pytest.mark.parametrize("width", [160, 161])
def test_gst_videotestsrc_frames_then_eos(width: int) -> None:
    uri = (f"gst://videotestsrc num-buffers=20 ! video/x-raw,width={width},height=30 ! "
           "videoconvert ! appsink sync=false")
    with open_source(uri) as source:
        frames = read_all(source)
        assert source.read() is None
    assert len(frames) == 20
    assert all(is_bgr(f, width, 30) for f in frames)
    # The top of the SMPTE pattern is vertical bars: every row is the same unless the row
    # stride (484 bytes, not 483, for BGR at width 161) is handled wrongly.
    assert np.array_equal(frames[0][0], frames[0][10])
    assert len(np.unique(frames[0][0].reshape(-1, 3), axis=0)) >= 7


@pytest.mark.parametrize("fmt", ["BGR", "RGB", "BGRx", "RGBA", "xRGB"])
def test_gst_pixel_formats_become_bgr(fmt: str) -> None:
    uri = (f"gst://videotestsrc pattern=red num-buffers=2 ! video/x-raw,width=33,height=8 ! "
           f"videoconvert ! video/x-raw,format={fmt} ! appsink sync=false")
    with open_source(uri) as source:
        frame = source.read()
    assert is_bgr(frame, 33, 8)
    b, g, r = (int(v) for v in frame[4, 16])
    assert r > 200 and g < 50 and b < 50, (fmt, b, g, r)


def test_gst_gray_frames_become_three_channels() -> None:
    uri = ("gst://videotestsrc pattern=white num-buffers=1 ! video/x-raw,width=17,height=5 ! "
           "videoconvert ! video/x-raw,format=GRAY8 ! appsink sync=false")
    with open_source(uri) as source:
        frame = source.read()
    assert is_bgr(frame, 17, 5) and frame.min() > 200


def test_gst_decodes_the_real_video_file(clip: Clip) -> None:
    uri = f"gst://filesrc location={clip.path} ! decodebin ! videoconvert ! appsink sync=false"
    with open_source(uri) as source:
        frames = read_all(source)
    assert len(frames) == clip.frames
    assert all(is_bgr(f, clip.width, clip.height) for f in frames)


def test_gst_without_appsink_gets_one_appended() -> None:
    assert ensure_appsink("videotestsrc ! ") == f"videotestsrc ! {APPSINK_TAIL}"
    assert ensure_appsink("a ! appsink name=x") == "a ! appsink name=x"
    with open_source("gst://videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48") as source:
        frames = read_all(source)
    assert 1 <= len(frames) <= 5  # drop=true max-buffers=1: a slow reader may skip some
    assert is_bgr(frames[0], 64, 48)


def test_gst_unknown_element_is_named() -> None:
    with pytest.raises(SourceError, match="element 'nosuchelement' is not available") as err:
        open_source("gst://videotestsrc ! nosuchelement ! appsink")
    assert "\n" not in str(err.value)
    assert element_names("a x=1 ! video/x-raw,width=1 ! b ! t. ! c") == ["a", "b", "c"]


def test_gst_errors_at_start_and_while_running(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(SourceError, match=r"missing\.mp4"):  # filesrc fails going to PLAYING
        open_source(f"gst://filesrc location={missing} ! decodebin ! videoconvert ! appsink")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    # typefind fails in the streaming thread: the error arrives on the bus during read().
    with open_source(f"gst://filesrc location={junk} ! decodebin ! videoconvert ! appsink",
                     SourceOptions(timeout_s=3)) as source:
        start = time.monotonic()
        with pytest.raises(SourceError, match="gst://filesrc") as err:
            source.read()
        assert time.monotonic() - start < 2
    assert "\n" not in str(err.value)


NEVER = ('gst://appsrc caps="video/x-raw,format=BGR,width=8,height=8,framerate=1/1" ! '
         'videoconvert ! appsink')


def test_gst_no_frame_within_timeout() -> None:
    with open_source(NEVER, SourceOptions(timeout_s=0.8)) as source:
        start = time.monotonic()
        with pytest.raises(SourceError, match="no frame within 0.8 s"):
            source.read()
        assert 0.75 <= time.monotonic() - start < 2.0


def test_close_from_another_thread_unblocks_read() -> None:
    source = open_source(NEVER, SourceOptions(timeout_s=10))
    threading.Timer(0.2, source.close).start()
    start = time.monotonic()
    with pytest.raises(SourceError, match="after close"):
        source.read()
    assert time.monotonic() - start < 2.0


# ---- csi, rtsp, v4l2: hardware that cannot exist here ---------------------------------------

def test_csi_pipeline_string() -> None:
    assert csi_pipeline(0, SourceOptions()) == (
        "nvarguscamerasrc sensor-id=0 ! "
        "video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1 ! "
        "nvvidconv flip-method=0 ! video/x-raw,format=BGRx ! "
        "videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )
    text = csi_pipeline(1, SourceOptions(width=1920, height=1080, fps=29.97, flip=2))
    assert "sensor-id=1 " in text and "width=1920,height=1080,framerate=30000/1001" in text
    assert "flip-method=2 " in text


def test_csi_here_says_nvarguscamerasrc_is_missing() -> None:
    with pytest.raises(SourceError, match=r"^csi://0: .*'nvarguscamerasrc' is not available"):
        open_source("csi://0")
    with pytest.raises(SourceError, match="sensor number"):
        open_source("csi://front")
    with pytest.raises(ValueError, match="flip"):
        SourceOptions(flip=9)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free, and nothing listens once the socket closes


def test_rtsp_to_closed_port_fails_fast_and_hides_password() -> None:
    uri = f"rtsp://admin:secret@127.0.0.1:{closed_port()}/stream"
    assert f'location="{uri}" latency=50 ' in rtsp_pipeline(uri, SourceOptions(latency_ms=50))
    start = time.monotonic()
    # Open or first read, whichever notices the refused connection.
    with pytest.raises(SourceError) as err, open_source(uri, SourceOptions(timeout_s=2)) as source:
        assert "secret" not in source.name
        source.read()
    assert time.monotonic() - start < 3
    assert "secret" not in str(err.value) and "admin:***@127.0.0.1" in str(err.value)


def test_gst_uris_are_redacted_in_names_and_errors() -> None:
    uri = "gst://rtspsrc location=rtsp://admin:secret@127.0.0.1:9/x ! nosuchelement"
    with pytest.raises(SourceError) as err:
        open_source(uri)
    assert "secret" not in str(err.value) and "rtsp://admin:***@127.0.0.1" in str(err.value)
    source = open_source("gst://videotestsrc num-buffers=1 ! fakesink "
                         "rtspsrc location=rtsp://u:secret@127.0.0.1:9/x ! fakesink "
                         "videotestsrc ! appsink")
    assert "secret" not in source.name and "u:***@" in source.name
    source.close()


def test_rtsp_server_that_never_answers_times_out_and_closes_fast() -> None:
    with socket.socket() as server:  # accepts the TCP connection, never speaks RTSP
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        source = open_source(f"rtsp://127.0.0.1:{server.getsockname()[1]}/x", SourceOptions(timeout_s=1))
        start = time.monotonic()
        with pytest.raises(SourceError, match="no frame within 1 s"):
            source.read()
        source.close()
        assert time.monotonic() - start < 2.5


def test_eos_on_close_path_used_for_csi_is_bounded() -> None:
    source = open_pipeline("gst://live", "videotestsrc is-live=true ! videoconvert ! " + APPSINK_TAIL,
                           SourceOptions(), eos_on_close=True)
    assert source.read().shape == (240, 320, 3)
    start = time.monotonic()
    source.close()
    assert time.monotonic() - start < 1.5


def test_opencv_runner_names_a_missing_element() -> None:
    # This OpenCV has no GStreamer, so every pipeline fails to open: the message must still
    # say which element is missing when that is the reason.
    with pytest.raises(SourceError, match="'nosuchelement' is not available"):
        OpenCVGstSource("gst://x", "videotestsrc ! nosuchelement ! appsink", SourceOptions())


def test_v4l2_missing_or_not_a_camera(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^v4l2:///dev/video99: no such device /dev/video99") as err:
        open_source("v4l2:///dev/video99")
    assert err.value.permanent  # at start; the supervisor still retries one that vanishes later
    with pytest.raises(SourceError, match="no such device /dev/video98"):
        open_source("v4l2://98")
    fake = tmp_path / "video0"
    fake.write_bytes(b"")
    with pytest.raises(SourceError, match="cannot open .*video0 as a V4L2 camera") as err:
        open_source(f"v4l2://{fake}")
    assert not err.value.permanent  # a busy camera looks the same: worth another try


# ---- permanent errors and the start-up check ------------------------------------------------

@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gst://videotestsrc ! ! videoconvert ((", "syntax error"),
        ("gst://videotestsrc ! nosuchelement ! appsink", "'nosuchelement' is not available"),
        ("gst://videotestsrc no-such-property=1", 'no property "no-such-property"'),
        ("gst://", "empty pipeline"),
        ("csi://0", "'nvarguscamerasrc' is not available"),  # no Jetson here
        ("csi://front", "sensor number"),
        ("/dev/video97", "no such device /dev/video97"),
        ("v4l2://97", "no such device /dev/video97"),
        ("ftp://host/x", "unknown source scheme"),
        ("test://?pattern=plaid", "unknown pattern"),
        ("/no/such/clip.mp4", "no such video file"),
        ("/no/such/folder/", "no such folder"),
    ],
)
def test_what_can_never_work_is_permanent_at_check_and_at_open(uri: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as err:
        check_source(uri)
    assert err.value.permanent and "\n" not in str(err.value)
    with pytest.raises(SourceError, match=message) as err:
        open_source(uri)
    assert err.value.permanent


def test_a_stream_that_is_down_is_not_permanent() -> None:
    uri = f"rtsp://127.0.0.1:{closed_port()}/x"
    check_source(uri)  # nothing is contacted at check time
    with pytest.raises(SourceError) as err, open_source(uri, SourceOptions(timeout_s=2)) as source:
        source.read()
    assert not err.value.permanent


def test_check_source_parses_but_never_starts_the_pipeline() -> None:
    with socket.socket() as server:  # counts connections: the check must make none
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        check_source(f"rtsp://127.0.0.1:{port}/x")
        check_source(f"gst://rtspsrc location=rtsp://127.0.0.1:{port}/x ! decodebin")
        with pytest.raises(BlockingIOError):
            server.accept()
    check_source("test://")
    check_source("gst://videotestsrc ! videoconvert")


def test_the_gstreamer_modules_import_no_circle() -> None:
    """gst.py uses both runners; the runners and gst_support must not import gst.py back."""
    folder = Path(__file__).parents[2] / "app" / "sources"
    for name in ("gst_support", "gst_appsink", "gst_opencv"):
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "app.sources.gst" not in imported, name
        if name == "gst_support":
            assert not imported & {"app.sources.gst_appsink", "app.sources.gst_opencv"}


# ---- every source ---------------------------------------------------------------------------

@pytest.fixture(params=["test", "file", "folder", "gst"])
def any_uri(request: pytest.FixtureRequest, clip: Clip, png_folder: Path) -> str:
    return {
        "test": "test://",
        "file": str(clip.path),
        "folder": str(png_folder),
        "gst": "gst://videotestsrc ! video/x-raw,width=32,height=24 ! videoconvert ! appsink",
    }[request.param]


def test_read_after_close_raises(any_uri: str) -> None:
    source = open_source(any_uri, FAST)
    assert source.read() is not None
    source.close()
    source.close()  # twice is fine
    with pytest.raises(SourceError, match="read\\(\\) after close\\(\\)"):
        source.read()


@pytest.mark.parametrize("uri", ["", "   ", "ftp://host/x"])
def test_bad_uris(uri: str) -> None:
    with pytest.raises(SourceError):
        open_source(uri)


def test_sources_never_import_tensorflow() -> None:
    code = ("import sys, app.sources as s, app.sources.gst_appsink, app.sources.gst_opencv; "
            "[s.open_source(u).close() for u in ('test://', 'gst://videotestsrc')]; "
            "sys.exit('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], timeout=60)
    assert done.returncode == 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_open_close_does_not_leak(clip: Clip) -> None:
    uris = ["gst://videotestsrc ! video/x-raw,width=32,height=24 ! videoconvert ! appsink",
            str(clip.path)]
    for uri in uris:  # warm up: plugin loading and thread pools allocate once
        for _ in range(3):
            with open_source(uri, FAST) as source:
                source.read()
    fds, threads = open_fds(), len(os.listdir("/proc/self/task"))
    for _ in range(50):
        for uri in uris:
            with open_source(uri, FAST) as source:
                assert source.read() is not None
    assert open_fds() <= fds
    assert len(os.listdir("/proc/self/task")) <= threads + 4  # GLib keeps a few idle workers


def test_errors_are_one_line(tmp_path: Path) -> None:
    for uri in ["csi://0", "gst://videotestsrc ! ! appsink", str(tmp_path / "x.mp4"), "v4l2://97"]:
        with pytest.raises(SourceError) as err:
            open_source(uri)
        assert "\n" not in str(err.value) and str(err.value).startswith(uri.split("!")[0][:10])
