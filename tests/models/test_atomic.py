"""Files and folders written whole or not at all: a write that fails (here the file-size limit, as
a full disk fails it, or an error while a folder is filled) leaves the previous version and no
temporary file or folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.atomic import staged_folder, write_atomically

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


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder` with its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def old_bundle(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.yaml").write_text("name: old\n")
    (folder / "model_fp16.tflite").write_bytes(b"old model")
    (folder / "README.md").write_text("model card")
    (folder / "extras").mkdir()
    (folder / "extras" / "notes.txt").write_text("notes")
    return folder


def test_a_filled_folder_replaces_the_old_one_keeping_what_keep_accepts(tmp_path):
    target = old_bundle(tmp_path / "bundle")
    with staged_folder(target, keep=lambda name: name in ("README.md", "extras")) as new:
        assert new.parent == tmp_path and new != target
        assert snapshot(target)["model.yaml"] == b"name: old\n"  # untouched while filling
        (new / "model.yaml").write_text("name: new\n")
        (new / "README.md").write_text("new card")  # the new folder's own file wins
    assert snapshot(target) == {"README.md": b"new card", "extras": None,
                                "extras/notes.txt": b"notes", "model.yaml": b"name: new\n"}
    assert target.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_failure_while_filling_leaves_the_old_folder_byte_for_byte(tmp_path):
    target = old_bundle(tmp_path / "bundle")
    before = snapshot(target)
    with pytest.raises(KeyboardInterrupt), staged_folder(target) as new:
        (new / "model.yaml").write_text("half")
        raise KeyboardInterrupt  # Ctrl-C part-way
    assert snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_failure_leaves_no_folder_where_there_was_none(tmp_path):
    target = tmp_path / "models" / "new"
    with pytest.raises(RuntimeError, match="boom"), staged_folder(target) as new:
        (new / "model_fp16.tflite").write_bytes(b"half")
        raise RuntimeError("boom")
    assert list((tmp_path / "models").iterdir()) == []
    with staged_folder(target) as new:
        (new / "model.yaml").write_text("name: new\n")
    assert snapshot(target) == {"model.yaml": b"name: new\n"}


def test_a_symlinked_folder_keeps_its_link(tmp_path):
    real = old_bundle(tmp_path / "v1")
    link = tmp_path / "current"
    link.symlink_to(real)
    with staged_folder(link) as new:
        (new / "model.yaml").write_text("name: new\n")
    assert link.is_symlink() and (link / "model.yaml").read_text() == "name: new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"]
