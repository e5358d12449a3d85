"""Every mistake a user can make in the app's config ends in one line and exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.conftest import decode

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def check_config_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    """`--check-config` on a config file holding `text`: exit 2 and one line; (file, line)."""
    config = tmp_path / "app.yaml"
    config.write_text(text)
    result = run_app("--config", str(config), "--check-config")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return config, lines[0]


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
    config, line = check_config_error(tmp_path, text)
    assert expected in line
    assert str(config) in line or "nowhere/at/all" in line  # names the file either way


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
        ("overlay: {hidden: [300]}\n", "overlay.hidden: class id 300 is outside 0..255"),
        ("source:\n  uri: test://\nmodel: nowhere\n", "model: Input should be a valid dictionary"),
    ],
)
def test_more_bad_values_are_one_line_and_exit_2(tmp_path, text, expected):
    config, line = check_config_error(tmp_path, text)
    assert line.startswith(f"error: {config}: {expected}"), line


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


def one_error_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Exit 2, nothing on stderr but one `error: ...` line holding every `expected` text."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(text in lines[0] for text in expected), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"source:\n  uri: \"\xff\"\n", "not UTF-8 text"),
        (b"source: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
        (b"# padding\n" * 200_000, "larger than 1 MB"),
    ],
)
def test_a_config_that_is_no_yaml_text_is_one_line(tmp_path, content, expected):
    config = tmp_path / "app.yaml"
    config.write_bytes(content)
    one_error_line(run_app("--config", str(config), "--check-config"), str(config), expected)


def test_a_config_that_is_no_regular_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "app.yaml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):  # before: reads /dev/zero forever, waits on the FIFO
        one_error_line(run_app("--config", path, timeout=60), f"{path}: not a regular file")


def test_a_deeply_nested_model_yaml_is_one_line(tmp_path, tiny_bundle):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    (bundle / "model.yaml").write_text("name: " + "[" * 3000 + "]" * 3000 + "\n")
    result = run_app("--bundle", str(bundle), "--source", "test://", "--check-config")
    one_error_line(result, "model.bundle", "model.yaml: not valid YAML (nested too deeply)")


@pytest.mark.parametrize("flag", ["--source", "--bundle", "--record"])
def test_an_empty_flag_is_an_error_not_the_configs_value(flag):
    one_error_line(run_app(flag, "", "--check-config"), f"{flag}: empty value")


def test_an_empty_source_uri_in_the_config(tmp_path):
    config = tmp_path / "app.yaml"
    config.write_text("source:\n  uri: ''\n")
    one_error_line(run_app("--config", str(config), "--check-config"),
                   f"{config}: source.uri: empty source URI")


@pytest.mark.parametrize("check", [True, False])
def test_a_record_dir_that_cannot_be_written_stops_the_start(tmp_path, tiny_bundle, check):
    afile = tmp_path / "afile"
    afile.write_text("")
    cases = [(afile, f"record.dir: {afile} is not a folder"),
             (afile / "sub", f"record.dir: cannot create {afile / 'sub'}: {afile} is not a folder"),
             (Path("/proc/segcam-recordings"), "record.dir: cannot create /proc/segcam-recordings")]
    for directory, expected in cases:
        args = ["--bundle", str(tiny_bundle), "--source", "test://", "--headless",
                "--max-frames", "5", "--record", str(directory)]
        one_error_line(run_app(*args, *(["--check-config"] if check else [])), expected)


def test_a_record_dir_that_does_not_exist_yet_is_fine(tmp_path, tiny_bundle):
    directory = tmp_path / "new" / "recordings"
    result = run_app("--bundle", str(tiny_bundle), "--source", "test://", "--record",
                     str(directory), "--check-config")
    assert result.returncode == 0, result.stderr
    assert not directory.parent.exists()  # the check creates nothing


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gst://videotestsrc ! ! videoconvert ((", "syntax error"),
        ("gst://videotestsrc ! nosuchelement", "'nosuchelement' is not available"),
        ("/dev/video9", "no such device /dev/video9"),
        ("v4l2://9", "no such device /dev/video9"),
    ],
)
@pytest.mark.parametrize("check", [True, False])
def test_a_source_that_can_never_work_stops_the_start(tiny_bundle, uri, expected, check):
    args = ["--bundle", str(tiny_bundle), "--source", uri, "--headless", "--no-record"]
    result = run_app(*args, *(["--check-config"] if check else []), timeout=60)
    one_error_line(result, "source.uri: ", expected)
    assert "first frame" not in result.stdout and "camera offline" not in result.stdout


@pytest.mark.parametrize("until", ["third line", "first frame through"])
def test_a_closed_stdout_ends_the_run_quietly(tmp_path, tiny_bundle, until):
    """`python -m app | head -3`: the reader leaves (while starting, or once frames flow); no
    'Logging error' tracebacks, the recording closed, exit 0."""
    config = tmp_path / "app.yaml"
    config.write_text("pipeline: {stats_interval_s: 0.2}\nrecord: {segment_seconds: 1}\n")
    record = tmp_path / "rec"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--config", str(config), "--bundle", str(tiny_bundle),
         "--source", "test://", "--headless", "--record", str(record)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        while until not in "third line" and until not in lines[-1]:
            lines.append(process.stdout.readline())
            assert lines[-1], "".join(lines)
        process.stdout.close()  # as head does
        _, stderr = process.communicate(timeout=60)  # test:// never ends: it must stop itself
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "Logging error" not in stderr, stderr[-3000:]
    segments = sorted(record.glob("*.mkv"))
    assert segments or until == "third line"  # a stop that early may come before any frame
    assert all(decode(segment) for segment in segments)  # closed properly
