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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("record: {encoder: h265}\n", "record.encoder"),
        ("overlay: {hidden: [300]}\n", "overlay.hidden: Value error, class id 300 is outside 0..255"),
        ("source:\n  uri: test://\nmodel: nowhere\n", "model: Input should be a valid dictionary"),
    ],
)
def test_more_bad_values_are_one_line_and_exit_2(tmp_path, text, expected):
    config = tmp_path / "app.yaml"
    config.write_text(text)
    result = run_app("--config", str(config), "--check-config")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {config}: {expected}"), lines


def test_empty_section_with_a_flag_is_not_a_crash(tmp_path, tiny_bundle):
    config = tmp_path / "app.yaml"
    config.write_text("source:\n  # uri: csi://0\nrecord:\n")
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source",
                     "test://", "--check-config")
    assert result.returncode == 0, result.stderr
    assert "source test://" in result.stdout


def test_unwritable_stats_json_is_one_line_and_exit_2(tmp_path):
    for bad in (tmp_path / "no" / "dir" / "stats.json", tmp_path):
        result = run_app("--stats-json", str(bad), "--check-config")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --stats-json: ") and str(bad) in lines[0]


def test_hidden_class_missing_from_the_bundle_is_a_warning_naming_the_key(tmp_path, tiny_bundle):
    config = tmp_path / "app.yaml"
    config.write_text("overlay: {hidden: [background, bakground]}\n")
    result = run_app("--config", str(config), "--bundle", str(tiny_bundle), "--source",
                     "test://", "--check-config")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if "WARNING" in line]
    assert len(warning) == 1 and "overlay.hidden: 'bakground'" in warning[0], result.stdout
