"""Files and folders written whole or not at all: a temporary one beside the target, then a
rename.

A reader (the web page, a resumed training, another process, the app loading a bundle) never
sees half a file or half a folder, and a crash or a full disk leaves the previous version in
place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def staged_folder(target: str | Path,
                  keep: Callable[[str], bool] = lambda name: False) -> Iterator[Path]:
    """A new folder beside `target` to fill; it becomes `target` only when the block ends
    without an error, so a reader sees the old folder or the new one, never half of one.

    Entries of the old `target` that the new folder lacks and `keep(name)` accepts (a model
    card beside the model files) are copied into it first. On an error (Ctrl-C included) the
    new folder is removed and `target` stays as it was, byte for byte. A symlinked `target`
    keeps its link: the folder it points to is replaced.
    """
    target = Path(target)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it private; bundles are meant to be read
        yield staging
        if target.is_dir():
            _carry_over(target, staging, keep)
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _carry_over(old: Path, new: Path, keep: Callable[[str], bool]) -> None:
    for entry in old.iterdir():
        if (new / entry.name).exists() or not keep(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, new / entry.name, follow_symlinks=False)


def replace_folder(new: Path, target: Path) -> None:
    """Put folder `new` in the place of `target` (which may not exist): two renames on the same
    file system, the old folder put back if the second fails, then removed."""
    if not target.exists():
        os.rename(new, target)
        return
    # rename() replaces only an empty folder: move the old one aside first
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.replace(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.replace(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
