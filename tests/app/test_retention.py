"""Retention and full disks on a REAL small file system: an 8 MB tmpfs mounted for each test.

Needs root (mount); skipped with the reason otherwise. Free space on a tmpfs is exact to the
page, so "free", "needed" and "deleted" are measured, not assumed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_recorder import SIZE, cv2_frames, segments

from app.recording import SegmentRecorder
from app.recording.retention import prune

MB = 1 << 20
GB = 1e9  # min_free_gb's unit
FPS = 15

pytestmark = pytest.mark.skipif(
    os.environ.get("SEGCAM_SKIP_GST") == "1", reason="GStreamer tests disabled"
)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An empty 8 MB tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)  # a file still open


def free_bytes(disk: Path) -> int:
    return shutil.disk_usage(disk).free


def fill(disk: Path, leave: int, name: str = "other-data.bin") -> Path:
    """Grow a file that is not a recording until only `leave` bytes are free."""
    path = disk / name
    with open(path, "ab") as f:
        grow = free_bytes(disk) - leave
        if grow > 0:
            os.posix_fallocate(f.fileno(), f.seek(0, os.SEEK_END), grow)
    return path


def old_segment(disk: Path, n: int, size: int = MB) -> Path:
    """A segment left by an earlier run (n orders them: 1 is the oldest)."""
    path = disk / f"seg_20200101T0000{n:02d}_0001.mkv"
    path.write_bytes(b"\0" * size)
    return path


def noise(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def record_until(rec: SegmentRecorder, done, what: str, rate: float | None = None,
                 timeout: float = 60) -> int:
    """Write noise frames until done() holds: every one (as for a clip), and no faster than
    `rate` frames/s of real time if given (as a camera would). Returns the frames written."""
    start = time.monotonic()
    i = 0
    while not done():
        assert time.monotonic() < start + timeout, f"timed out waiting for {what}"
        assert rec.wait_for_room(5)
        rec.write(noise(i))
        i += 1
        if rate is not None:
            time.sleep(max(0.0, start + i / rate - time.monotonic()))  # pacing, not a sync
    return i


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- the retention rule ------------------------------------------------------------------------

def test_low_disk_deletes_just_enough_of_the_oldest_segments(disk, caplog):
    olds = [old_segment(disk, n) for n in range(1, 6)]
    fill(disk, leave=MB)
    goal = free_bytes(disk) + MB + MB // 2  # 1.5 MB short: two segments of 1 MB are needed
    pruned = prune(disk, "seg", None, goal / GB)
    assert pruned.deleted == olds[:2] and pruned.short_bytes == 0
    assert all(p.exists() for p in olds[2:])
    assert free_bytes(disk) >= goal
    lines = warnings(caplog)
    assert len(lines) == 2 and olds[0].name in lines[0] and olds[1].name in lines[1]


def test_goal_out_of_reach_deletes_nothing(disk):
    olds = [old_segment(disk, n) for n in range(1, 4)]
    fill(disk, leave=MB // 2)
    goal = free_bytes(disk) + 4 * MB  # more than all three segments would give back
    pruned = prune(disk, "seg", None, goal / GB)
    assert pruned.deleted == [] and all(p.exists() for p in olds)
    assert pruned.short_bytes == 2 * MB  # the newest is kept: the other two give back 2 MB


def test_open_and_just_closed_segments_are_never_deleted(disk):
    oldest, older, just_closed, open_now = (old_segment(disk, n) for n in range(1, 5))
    fill(disk, leave=0)
    pruned = prune(disk, "seg", None, 2 * MB / GB, protect={just_closed, open_now})
    assert pruned.deleted == [oldest, older]
    assert just_closed.exists() and open_now.exists()
    # Asking for more than the two others hold deletes none of the four.
    fill(disk, leave=0)
    pruned = prune(disk, "seg", None, 3 * MB / GB, protect={just_closed, open_now})
    assert pruned.deleted == [] and pruned.short_bytes > 0


# -- the recorder on a small disk ------------------------------------------------------------

def test_low_disk_at_start_keeps_every_earlier_segment_and_stops(disk, caplog):
    olds = [old_segment(disk, n) for n in range(1, 4)]
    fill(disk, leave=MB // 2)
    goal = (free_bytes(disk) + 4 * MB) / GB  # out of reach even with all three deleted
    rec = SegmentRecorder(disk, FPS, SIZE, segment_seconds=1, min_free_gb=goal, encoder="x264")
    assert rec.failed and rec.status == "low_disk"
    assert "min_free_gb" in rec.stopped_reason
    for i in range(5):
        rec.write(noise(i))  # no-ops
    rec.close()
    assert all(p.exists() for p in olds)  # the history is not eaten
    assert segments(disk) == olds and rec.files == []
    assert warnings(caplog) == [rec.stopped_reason]
    assert rec.status == "low_disk"  # still readable after close, for a status page


def test_low_disk_mid_run_deletes_only_the_oldest_segments_needed(disk, caplog):
    olds = [old_segment(disk, n) for n in range(1, 4)]
    fill(disk, leave=2 * MB)
    goal = (free_bytes(disk) - MB // 2) / GB  # met at start; missed after 2 s of noise
    # A short queue: close() then adds well under 1 MB (~250 KB a second) after the deletion.
    rec = SegmentRecorder(disk, FPS, SIZE, segment_seconds=1, min_free_gb=goal,
                          encoder="x264", bitrate_kbps=2000, max_queue_frames=4)
    assert not rec.failed and all(p.exists() for p in olds)
    record_until(rec, lambda: not olds[0].exists(), "the oldest segment to be deleted")
    rec.close()
    assert olds[1].exists() and olds[2].exists()  # 1 MB was enough
    assert not rec.failed and rec.status == "closed"
    lines = warnings(caplog)
    assert len(lines) == 1 and olds[0].name in lines[0]
    assert len(rec.files) >= 2 and all(p.exists() for p in rec.files)  # ours: all kept
    assert all(len(cv2_frames(p)) > 0 for p in rec.files)


def test_disk_filled_by_something_else_stops_recording_and_keeps_the_segments(disk, caplog):
    fill(disk, leave=6 * MB)
    goal = 4 * MB / GB
    # Until the next segment closes and recording stops, frames still go to the disk: at the
    # pace of a camera and with a short queue, that stays well inside the 1 MB left (a second of
    # this noise is ~250 KB), however late the loaded machine gets round to the check.
    rec = SegmentRecorder(disk, FPS, SIZE, segment_seconds=1, min_free_gb=goal,
                          encoder="x264", bitrate_kbps=2000, max_queue_frames=4)
    record_until(rec, lambda: len(rec.files) >= 2, "two closed segments")
    kept = rec.files
    fill(disk, leave=MB)  # another program takes the space: 3 MB short, far more than we hold
    record_until(rec, lambda: rec.failed, "recording to stop", rate=FPS)
    assert rec.status == "low_disk" and "min_free_gb" in rec.stopped_reason
    rec.close()
    assert all(p.exists() for p in kept)  # nothing was deleted for a goal out of reach
    assert rec.files[: len(kept)] == kept
    assert all(len(cv2_frames(p)) > 0 for p in rec.files)  # the last one ended cleanly too
    assert warnings(caplog) == [rec.stopped_reason]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("leave", [0, 24 * 1024])
def test_full_disk_never_lists_an_empty_or_frameless_file(disk, caplog, leave):
    # min_free_gb 0: nothing guards the disk, the writes themselves fail (ENOSPC).
    fill(disk, leave=leave)
    rec = SegmentRecorder(disk, FPS, SIZE, segment_seconds=1, encoder="x264",
                          max_queue_frames=64)
    deadline = time.monotonic() + 30
    i = 0
    while not rec.failed:
        assert time.monotonic() < deadline, "the full disk was never noticed"
        rec.write(noise(i))
        i += 1
        time.sleep(0.01)  # pacing: a steady producer, not a synchronisation
    rec.close()
    assert rec.status == "error" and "space" in rec.stopped_reason.lower()
    for path in rec.files:
        assert path.stat().st_size > 0 and len(cv2_frames(path)) > 0
    assert not [p for p in segments(disk) if p.stat().st_size == 0]  # deleted, not left behind
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
