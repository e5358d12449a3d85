"""One command for users: `segcam` (run), `segcam doctor`, `segcam check-config`, `segcam --help`
and `--version`; the same as `python -m app ...`. The start-up line that says what runs the
model, and the defaults found from the code wherever the command runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from testkit import ROOT, run_segcam

from models.version import version

SHIPPED = ROOT / "models" / "camvid-unet"


def app(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=180)


def segcam(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_segcam(*args, cwd=cwd, timeout=180)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump({
        "source": {"uri": "test://", "width": 160, "height": 120},
        "model": {"bundle": str(SHIPPED), "threads": 1}, "display": {"enabled": False},
        "record": {"enabled": False}, "telemetry": {"enabled": False}}))
    return path


def test_pyproject_declares_the_segcam_command() -> None:
    text = (ROOT / "pyproject.toml").read_text()  # tomllib is Python 3.11+, JetPack 6 has 3.10
    scripts = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    assert 'segcam = "segcam_cli.main:main"' in scripts.splitlines()
    assert ('include = ["app", "app.*", "models", "models.*", "training", "training.*", '
            '"segcam_cli"]') in text
    assert 'models = ["camvid-unet/*"]' in text  # the default bundle travels with the code


def test_check_config_as_a_subcommand_and_a_flag(config: Path) -> None:
    for result in (segcam("check-config", "--config", str(config)),
                   app("check-config", "--config", str(config)),
                   app("--config", str(config), "--check-config")):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == (
            f"config OK: {config} (bundle camvid-unet, source test://)")


def test_doctor_through_segcam(config: Path) -> None:
    result = segcam("doctor", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "OK: this config can run here"


def test_flags_pass_through_to_the_run_and_errors_stay_one_line(config: Path) -> None:
    result = segcam("--config", str(config), "--max-frames", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --max-frames: must be a positive number"
    usage = segcam("--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: segcam ")


VERBS = ("run", "predict", "doctor", "check-config", "train", "evaluate", "convert",
         "benchmark", "config")


def test_help_lists_every_verb_on_a_line_of_its_own() -> None:
    result = segcam("--help")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.split("verbs:\n", 1)[1].split("\n\n")[0]
              .splitlines()]
    assert listed == list(VERBS)
    assert all(len(line) <= 100 for line in result.stdout.splitlines())


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_has_its_own_help_under_its_own_name(verb: str) -> None:
    result = segcam(verb, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: segcam {verb} "), result.stdout[:200]


def test_version_everywhere_it_is_asked() -> None:
    assert version() == "0.1.0"  # pyproject.toml's
    for result in (segcam("--version"), app("--version"),
                   subprocess.run([sys.executable, "-m", "training", "--version"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "segcam 0.1.0"


def test_version_falls_back_to_the_metadata_then_unknown(tmp_path: Path, monkeypatch) -> None:
    from models import version as module

    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "something-else"\nversion = "9.9"\n')
    assert module.pyproject_version(other) is None  # not ours: not our version
    other.write_text('[tool.x]\nversion = "1"\n[project]\nname = "segcam"\nversion = "2.3.4"\n')
    assert module.pyproject_version(other) == "2.3.4"
    monkeypatch.setattr(module, "PYPROJECT", tmp_path / "missing.toml")
    monkeypatch.setattr(module, "distribution_version", lambda _name: "1.2.3")
    module.version.cache_clear()
    try:
        assert module.version() == "1.2.3"

        def not_installed(name: str) -> str:
            raise module.PackageNotFoundError(name)

        monkeypatch.setattr(module, "distribution_version", not_installed)
        module.version.cache_clear()
        assert module.version() == "unknown"
    finally:
        module.version.cache_clear()


def test_a_mistyped_verb_is_one_line() -> None:
    result = segcam("trian", "--config", "x.yaml")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "segcam: unknown verb 'trian' (one of run, predict, doctor, check-config, train, "
        "evaluate, convert, benchmark, config; segcam --help)")


def test_from_another_folder_with_an_empty_config_and_with_none(tmp_path: Path) -> None:
    """The built-in defaults (the shipped bundle, configs/app.yaml) come from the code, not the
    current folder; a config's own paths are relative to the config file."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = segcam("check-config", "--config", str(empty), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"config OK: {empty} (bundle camvid-unet, source test://)")
    result = segcam("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"config OK: {ROOT / 'configs' / 'app.yaml'} (bundle camvid-unet, "
        f"source {ROOT / 'media' / 'camvid-val.mp4'})")
    # A real run on the defaults alone (test:// source, the shipped bundle) from that folder.
    result = segcam("--config", str(empty), "--headless", "--no-record", "--max-frames", "2",
                    cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert " engine camvid-unet: " in result.stdout


def test_paths_in_a_config_are_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (tmp_path / "bundles").mkdir()
    (tmp_path / "bundles" / "mine").symlink_to(SHIPPED)
    config = folder / "app.yaml"
    config.write_text("model: {bundle: ../bundles/mine}\nrecord: {dir: ../recordings}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = segcam("check-config", "--config", str(config), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "(bundle camvid-unet, source test://)" in result.stdout


def test_the_start_up_line_says_what_runs_the_model(config: Path) -> None:
    result = app("--config", str(config), "--max-frames", "2", env={"SEGCAM_SYSROOT": "/"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if ", engine camvid-unet: " in line]
    assert len(lines) == 1, result.stdout
    assert lines[0].split(" app: ", 1)[1] == (
        f"segcam {version()}, engine camvid-unet: LiteRT fp16 on CPU (1 thread); input 384x288, "
        "12 classes; source test://")
    assert "WARNING" not in result.stdout  # no NVIDIA GPU here: nothing to warn about


def test_a_gpu_left_unused_is_a_warning_saying_why_and_what_to_install(config: Path,
                                                                      tmp_path: Path) -> None:
    from models.engines.tensorrt import availability

    if availability()[0] is None:
        pytest.skip("TensorRT runs here: the model would be on the GPU")
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "nvidia0").write_text("")  # a desktop GPU's node, staged
    result = app("--config", str(config), "--max-frames", "2", env={"SEGCAM_SYSROOT": str(root)})
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stdout.splitlines() if " WARNING " in line]
    assert len(warnings) == 1, result.stdout
    text = warnings[0].split(" app: ", 1)[1]
    assert text.startswith("an NVIDIA GPU is here (/dev/nvidia0) but the model runs on the CPU "
                           "(tensorrt: ")
    assert "onnx (TensorRT/CUDA): onnxruntime" in text
    assert text.endswith("For the GPU: pip install tensorrt (its wheels bring the CUDA runtime; "
                         "the NVIDIA driver must be installed), or onnxruntime-gpu for ONNX "
                         "Runtime's CUDA provider")
