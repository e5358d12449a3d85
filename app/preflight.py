"""Start-up checks of what the user named (source, stats file, recording folder): a mistake is
one ConfigError line and exit 2 now, for --check-config and the run alike, not a run that
retries forever or quietly does less than asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.config import ConfigError


def check_source(uri: str) -> None:
    """What can never work: a missing file or folder, a device path that does not exist, a
    GStreamer pipeline that does not parse or lacks an element. A camera or stream that is
    merely down is not checked: it may come later, and the capture loop waits for it."""
    from app.sources import SourceError, check_source

    try:
        check_source(uri)
    except SourceError as error:
        raise ConfigError(f"source.uri: {error}") from None


def check_stats_json(path: Path) -> None:
    """The stats file is written every period: a path that cannot be written fails now."""
    if path.is_dir():
        raise ConfigError(f"--stats-json: {path} is a directory")
    probe = path.with_name(path.name + ".tmp")  # the same temporary name report() uses
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"--stats-json: cannot write {path} ({error.strerror or error})") from None


def check_record_dir(directory: str) -> None:
    """Recording is on: the folder must be one we can write, or one we can create (its nearest
    existing parent is a folder we can write). Nothing is created here."""
    path = Path(directory)
    existing = path
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        if existing == path:
            raise ConfigError(f"record.dir: {path} is not a folder")
        raise ConfigError(f"record.dir: cannot create {path}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".segcam-probe-"):
            pass
    except OSError as error:
        what = f"write to {path}" if existing == path else f"create {path} in {existing}"
        raise ConfigError(f"record.dir: cannot {what} ({error.strerror or error})") from None
