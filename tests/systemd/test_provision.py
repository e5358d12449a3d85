"""scripts/provision-nspawn.sh where this machine cannot provision: one line, exit 77, no tree.

The provisioning itself (debootstrap, apt, pip: minutes) runs in .ci/run's second step, whose
booted-container tests (test_unit.py) use the tree it prints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "provision-nspawn.sh"
SKIP = 77


def provision(script: Path, cache: Path, *, uid: int | None = None,
              **env: str) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(script)]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd,
        env={**os.environ, "SEGCAM_NSPAWN_CACHE": str(cache), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_unprivileged_it_skips_with_one_line(
    shared_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    result = provision(shared_copy("scripts/provision-nspawn.sh"), tmp_path / "cache", uid=65534)
    assert result.returncode == SKIP, result.stdout + result.stderr
    assert result.stdout == ""  # stdout carries the tree's path, and only when it is ready
    assert result.stderr == (
        "provision-nspawn: booted-container tests skipped: needs root (debootstrap, systemd-nspawn)\n"
    )


def test_an_unreachable_mirror_skips_and_leaves_no_tree(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not all(map(shutil.which, ("debootstrap", "systemd-nspawn"))):
        pytest.skip("needs root, debootstrap and systemd-nspawn")  # never installed by a test
    cache = tmp_path / "cache"
    # Nothing listens on the loopback discard port: the connection is refused at once.
    result = provision(SCRIPT, cache, SEGCAM_DEBIAN_MIRROR="http://127.0.0.1:9/debian")
    assert result.returncode == SKIP, result.stdout + result.stderr
    assert result.stdout == ""
    # A progress line, then the one line that says why; debootstrap's own words stay in the log.
    assert result.stderr.splitlines() == [
        f"provision-nspawn: debootstrap bookworm into {cache}/nspawn-bookworm.new",
        "provision-nspawn: booted-container tests skipped: cannot reach the Debian mirror"
        " (debootstrap could not fetch the bookworm Release file)",
    ], result.stderr
    assert not (cache / "nspawn-bookworm").exists()
    assert not (cache / "nspawn-bookworm.new").exists()
    assert "127.0.0.1:9" in (cache / "provision.log").read_text()
