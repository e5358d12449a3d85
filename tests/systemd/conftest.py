"""Fixtures for the systemd tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_copy() -> Iterator[Callable[[str], Path]]:
    """Copies a script of the checkout, at the same relative path, where any user can read it.

    The checkout may sit in a folder only root can enter (a clone in `mktemp -d`, mode 0700), and
    pytest's tmp_path is 0700 too: an unprivileged run of the checkout's own script would fail
    with "Permission denied" (exit 126) before the script says anything.
    """
    base = Path(tempfile.mkdtemp(prefix="segcam-shared-"))
    base.chmod(0o755)

    def copy(relative: str) -> Path:
        dest = base / relative
        for folder in reversed(dest.relative_to(base).parents[:-1]):
            (base / folder).mkdir(mode=0o755, exist_ok=True)
        shutil.copy2(REPO / relative, dest)
        dest.chmod(0o755)
        return dest

    try:
        yield copy
    finally:
        shutil.rmtree(base)
