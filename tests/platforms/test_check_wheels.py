"""scripts/check-wheels.sh against the real package index (this machine reaches it).

It must fail, naming each package, on the requirements that broke JetPack 6 (numpy 2.4.6 and
onnxruntime 1.32.0 have no Python 3.10 aarch64 wheels). That it passes on the shipped ones is
CI's own step (make check-wheels).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check-wheels.sh"
PIP = Path(sys.executable).with_name("pip")

OLD_REQUIREMENTS = """\
numpy==2.4.6
pyyaml==6.0.4
ai-edge-litert==2.3.0
onnxruntime==1.32.0
pygobject==3.50.2
"""

pytestmark = pytest.mark.slow


def check(*targets: str) -> subprocess.CompletedProcess[str]:
    if subprocess.run([str(REPO / "scripts/find-python.sh"), targets[0].rsplit(":", 1)[1]],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip(f"no Python {targets[0].rsplit(':', 1)[1]} here (scripts/find-python.sh)")
    return subprocess.run([str(SCRIPT), *targets], capture_output=True, text=True, timeout=900,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PIP": str(PIP)},
                          check=False)


def test_fails_naming_every_package_without_a_wheel(tmp_path: Path) -> None:
    old = tmp_path / "requirements.txt"
    old.write_text(OLD_REQUIREMENTS)
    result = check(f"{old}:aarch64:2.35:3.10")
    assert result.returncode == 1, result.stdout + result.stderr
    missing = [line for line in result.stderr.splitlines() if line.startswith("no wheel: ")]
    assert [line.split()[2] for line in missing] == ["numpy==2.4.6", "onnxruntime==1.32.0"]
    assert "pygobject==3.50.2 from source" in result.stdout  # source-only: checked, not fetched
    assert result.stderr.endswith("check-wheels: FAILED\n")

