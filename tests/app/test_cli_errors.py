"""Every mistake a user can make in the app's config ends in one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("source: {uri: test://, colour: red}\n", "source.colour: unknown key"),
        ("overlay: {alpha: 2}\n", "overlay.alpha"),
        ("record: {segment_seconds: ten}\n", "record.segment_seconds"),
        ("pipeline: [1, 2\n", "not valid YAML"),
        ("model: {bundle: nowhere/at/all}\n", "model.bundle"),
        ("model: {backend: tensorflow}\n", "model.backend"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, text, expected):
    config = tmp_path / "app.yaml"
    config.write_text(text)
    result = run_app("--config", str(config), "--check-config")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert str(config) in lines[0] or "nowhere/at/all" in lines[0]  # names the file either way


def test_missing_config_file(tmp_path):
    result = run_app("--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'none.yaml'}: config file not found"


def test_missing_clip_names_the_file(tmp_path, tiny_bundle):
    result = run_app("--bundle", str(tiny_bundle), "--source", str(tmp_path / "clip.mp4"),
                     "--check-config")
    assert result.returncode == 2
    assert "source.uri" in result.stderr and "clip.mp4" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
