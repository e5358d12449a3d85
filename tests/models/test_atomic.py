"""Files written whole or not at all: a write that fails (here the file-size limit, as a full disk
fails it) leaves the previous version and no temporary file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from models.atomic import write_atomically

ROOT = Path(__file__).resolve().parents[2]

FAILING_WRITE = """
import resource, signal, sys
from models.atomic import write_atomically
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_atomically(sys.argv[1], b"x" * 1_000_000, durable=True)
except OSError as error:
    print(error.errno)
    sys.exit(3)
"""


def test_a_file_is_replaced_whole_and_readable_by_all(tmp_path):
    target = tmp_path / "stats.json"
    target.write_text("old")
    assert write_atomically(target, '{"new": 1}') == target
    assert target.read_text() == '{"new": 1}'
    assert target.stat().st_mode & 0o777 == 0o644
    write_atomically(target, b"\x00\x01", durable=True)
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "history.csv"
    target.write_text("epoch,loss\n1,0.5\n")
    result = subprocess.run([sys.executable, "-c", FAILING_WRITE, str(target)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == "27"  # EFBIG
    assert target.read_text() == "epoch,loss\n1,0.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]
