"""Whether a recorder could start now, found without starting one: the recording output asks
before it retries after a failure, so a disk that is still full or a folder that is still
unwritable costs a stat and a probe file, not a pipeline and a log line each time."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app.recording.retention import amount, space_check


def low_disk_reason(directory: Path, free_bytes: int, min_free_gb: float) -> str:
    """The one line a recorder stopped for low disk gives (also the doctor's)."""
    return (f"recorder: {amount(free_bytes)} free in {directory}, and deleting old segments "
            f"cannot bring it to min_free_gb {min_free_gb:g}; recording stopped, the recordings "
            "are kept")


def blocker(directory: Path, min_free_gb: float, prefix: str = "seg") -> tuple[str, str] | None:
    """(state, one-line reason) that would stop a recorder in `directory` at once, or None."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
        space = space_check(directory, prefix, min_free_gb)
    except OSError as exc:
        return "error", f"recorder: cannot write to {directory} ({exc}); recording disabled"
    if space.short_bytes:
        return "low_disk", low_disk_reason(directory, space.free_bytes, min_free_gb)
    return None
