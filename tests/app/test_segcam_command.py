"""One command for users: `segcam` (run), `segcam doctor`, `segcam check-config`; the same as
`python -m app ...`. And the start-up line that says what runs the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from testkit import ROOT

SHIPPED = ROOT / "models" / "camvid-unet"


def app(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=180)


def segcam(*args: str) -> subprocess.CompletedProcess:
    """The console script's own code path (app.cli:main), as the installed `segcam` runs it."""
    code = "import sys; from app.cli import main; sys.argv[0] = 'segcam'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


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
    assert 'segcam = "app.cli:main"' in scripts.splitlines()
    assert 'include = ["app", "app.*", "models", "models.*"]' in text


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
    assert "segcam doctor" in usage.stdout


def test_the_start_up_line_says_what_runs_the_model(config: Path) -> None:
    result = app("--config", str(config), "--max-frames", "2", env={"SEGCAM_SYSROOT": "/"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if " app: engine " in line]
    assert len(lines) == 1, result.stdout
    assert lines[0].split(" app: ", 1)[1] == (
        "engine camvid-unet: LiteRT fp16 on CPU (1 thread); input 384x288, 12 classes; "
        "source test://")
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
