"""Files written whole or not at all: a temporary file beside the target, then a rename.

A reader (the web page, a resumed training, another process) never sees half a file, and a crash
or a full disk leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: str | Path, data: str | bytes, durable: bool = False) -> Path:
    """Write `data` to `path` through a temp file and rename; readable by all (0644), as the
    files we write are meant to be copied and read. `durable` syncs the data to the disk first
    (for artefacts that are costly to make again, not for files rewritten every second)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        with contextlib.suppress(OSError):  # the rename itself survives a power cut only so
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    return path
