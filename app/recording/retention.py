"""Segment names and the retention rule: delete the oldest segments by age and by free disk.

The free-space rule never eats the history: it deletes only as many of the oldest segments as it
takes to get back to the goal, and when deleting every segment it may delete would still not
get there (the disk is filled by something else), it deletes none and says so; the recorder
then stops instead of deleting each new segment as it closes.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

EXTENSION = ".mkv"
GB = 1e9


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


def amount(size: float) -> str:
    """Bytes for a log line: 1.25 GB, 0.40 GB, 3.1 MB."""
    return f"{size / GB:.2f} GB" if size >= 0.1 * GB else f"{size / 1e6:.1f} MB"


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


@dataclass
class Pruned:
    """What one retention pass did. `short_bytes` > 0: the free-space goal is out of reach by
    deleting old segments (none was deleted for it); that many bytes are missing."""

    deleted: list[Path] = field(default_factory=list)
    free_bytes: int = 0
    short_bytes: int = 0


def prune(
    directory: Path,
    prefix: str,
    max_age_s: float | None,
    min_free_gb: float,
    protect: Collection[Path] = (),
    keep_newest: bool = True,
) -> Pruned:
    """Delete segments older than `max_age_s`, then the oldest ones while free space is below
    `min_free_gb`. Anything in `protect` (the open segment, the one just closed) is never
    deleted, nor is the newest segment while `keep_newest`."""
    segments = list_segments(directory, prefix)
    keep = {p.resolve() for p in protect}
    if segments and keep_newest:
        keep.add(segments[-1].resolve())
    candidates = [p for p in segments if p.resolve() not in keep]
    result = Pruned()
    if max_age_s is not None:
        candidates = _delete_old(candidates, max_age_s, result)
    try:
        result.free_bytes = free_bytes(directory)
    except OSError as exc:
        log.warning("recorder: cannot read the free space of %s: %s", directory, exc)
        return result
    need = int(min_free_gb * GB) - result.free_bytes
    if min_free_gb > 0 and need > 0:
        _free_space(candidates, need, min_free_gb, result)
    return result


def space_check(directory: Path, prefix: str, min_free_gb: float) -> Pruned:
    """What prune() at a recorder's start would find, deleting nothing: the free space, and
    the bytes still missing for `min_free_gb` after deleting every segment (0: reachable).
    OSError when the free space cannot be read."""
    result = Pruned(free_bytes=free_bytes(directory))
    need = int(min_free_gb * GB) - result.free_bytes
    if min_free_gb > 0 and need > 0:
        deletable = 0
        for path in list_segments(directory, prefix):
            try:
                deletable += path.stat().st_blocks * 512
            except FileNotFoundError:
                continue
        result.short_bytes = max(0, need - deletable)
    return result


def _delete_old(candidates: list[Path], max_age_s: float, result: Pruned) -> list[Path]:
    """Delete the candidates older than `max_age_s`; return the ones left."""
    now = time.time()
    left = []
    for path in candidates:
        try:
            old = now - path.stat().st_mtime > max_age_s
        except FileNotFoundError:
            continue  # removed by someone else meanwhile
        if old and _unlink(path):
            result.deleted.append(path)
            log.info("recorder: deleted %s (older than %.0f h)", path.name, max_age_s / 3600)
        else:
            left.append(path)
    return left


def _free_space(candidates: list[Path], need: int, min_free_gb: float, result: Pruned) -> None:
    """Delete the oldest candidates until `need` bytes are freed, or none when they cannot."""
    sizes = []
    for path in candidates:
        try:
            sizes.append(path.stat().st_blocks * 512)  # what deleting it gives back
        except FileNotFoundError:
            sizes.append(0)
    if sum(sizes) < need:
        result.short_bytes = need - sum(sizes)
        return
    freed = 0
    for path, size in zip(candidates, sizes, strict=True):
        if freed >= need:
            break
        if not _unlink(path):
            break  # logged; the next pass tries again
        freed += size
        result.deleted.append(path)
        log.warning(
            "recorder: deleted %s to keep %s free (%s were free)",
            path.name, amount(min_free_gb * GB), amount(result.free_bytes),
        )
    result.free_bytes += freed


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return True  # gone already: as good as deleted
    except OSError as exc:
        log.warning("recorder: cannot delete old segment %s: %s", path, exc)
        return False
    return True
