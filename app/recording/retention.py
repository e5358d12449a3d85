"""Segment names and the retention rule: delete the oldest segments by age and by free disk."""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

EXTENSION = ".mkv"


def segment_name(prefix: str, started: datetime, sequence: int) -> str:
    """e.g. seg_20261125T231500_0001.mkv: sorts by start time, then by sequence."""
    return f"{prefix}_{started:%Y%m%dT%H%M%S}_{sequence:04d}{EXTENSION}"


def segment_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}_\d{{8}}T\d{{6}}_\d{{4,}}{re.escape(EXTENSION)}")


def list_segments(directory: Path, prefix: str) -> list[Path]:
    """Segments of this naming pattern in `directory`, oldest first. Other files are ignored."""
    pattern = segment_pattern(prefix)
    try:
        names = [p for p in directory.iterdir() if pattern.fullmatch(p.name) and p.is_file()]
    except OSError:
        return []
    return sorted(names, key=lambda p: p.name)


def free_gb(directory: Path) -> float:
    return shutil.disk_usage(directory).free / 1e9


def prune(
    directory: Path,
    prefix: str,
    max_age_s: float | None,
    min_free_gb: float,
    protect: Collection[Path] = (),
    keep_newest: bool = True,
) -> list[Path]:
    """Delete the oldest segments that are older than `max_age_s` or while free space is below
    `min_free_gb`. Anything in `protect` (the open segment) is never deleted, nor is the newest
    segment while `keep_newest` (during recording it is, or is about to be, the open one).
    Returns the deleted paths."""
    segments = list_segments(directory, prefix)
    keep = {p.resolve() for p in protect}
    if segments and keep_newest:
        keep.add(segments[-1].resolve())
    deleted: list[Path] = []
    now = time.time()
    for path in segments:
        if path.resolve() in keep:
            continue
        try:
            too_old = max_age_s is not None and now - path.stat().st_mtime > max_age_s
            low_disk = min_free_gb > 0 and free_gb(directory) < min_free_gb
            if not (too_old or low_disk):
                break  # oldest first: nothing newer qualifies by age, and the disk is fine
            path.unlink()
        except FileNotFoundError:
            continue  # removed by someone else meanwhile
        except OSError as exc:
            log.warning("recorder: cannot delete old segment %s: %s", path, exc)
            break
        deleted.append(path)
        log.info(
            "recorder: deleted %s (%s)", path.name, "age" if too_old else "low free disk"
        )
    return deleted
