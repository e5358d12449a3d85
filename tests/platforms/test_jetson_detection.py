"""scripts/is-jetson.sh and scripts/runtime-venv.sh (what `make demo` runs) on fake root folders.

No Jetson here: the detection reads files under a root prefix, so a folder with an L4T release
file or a device-tree model is one. runtime-venv.sh runs with --dry-run (it prints its commands).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IS_JETSON = REPO / "scripts" / "is-jetson.sh"
RUNTIME_VENV = REPO / "scripts" / "runtime-venv.sh"


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SEGCAM_JETSON", "SEGCAM_ROOT")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False,
                          env={**clean, **env})


def fake_root(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


ORIN = {"proc/device-tree/model": b"NVIDIA Jetson AGX Orin Developer Kit\0"}
L4T = {"etc/nv_tegra_release": b"# R36 (release), REVISION: 4.3, GCID: 38968081\n"}
PI = {"proc/device-tree/model": b"Raspberry Pi 5 Model B Rev 1.0\0"}


@pytest.mark.parametrize(
    ("files", "env", "code", "reason"),
    [
        (ORIN, {}, 0, "Jetson (NVIDIA Jetson AGX Orin Developer Kit)"),
        (L4T, {}, 0, "Jetson ({root}/etc/nv_tegra_release)"),
        (PI, {}, 1, "not a Jetson"),
        ({}, {}, 1, "not a Jetson"),
        ({}, {"SEGCAM_JETSON": "1"}, 0, "Jetson (SEGCAM_JETSON=1)"),
        (L4T, {"SEGCAM_JETSON": "0"}, 1, "not a Jetson (SEGCAM_JETSON=0)"),
    ],
)
def test_detection_reads_the_root_and_the_override(tmp_path: Path, files, env, code, reason):
    root = fake_root(tmp_path, files)
    result = run([str(IS_JETSON), str(root)], **env)
    assert result.returncode == code, result.stderr
    assert result.stdout.startswith(reason.format(root=root))


def test_bad_override_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run([str(IS_JETSON), str(fake_root(tmp_path, L4T))], SEGCAM_JETSON="yes")
    assert result.returncode == 2
    assert result.stderr == "SEGCAM_JETSON=yes: want 1 (a Jetson) or 0 (not one)\n"
    venv = run([str(RUNTIME_VENV), "--dry-run", str(tmp_path / "venv")], SEGCAM_JETSON="yes")
    assert venv.returncode == 2 and venv.stderr == result.stderr


def pip_line(out: str) -> str:
    """The requirements install (not pip's own upgrade, not the editable `segcam` command)."""
    (line,) = [x for x in out.splitlines()
               if x.startswith("would run:") and "pip install" in x and "--upgrade pip" not in x
               and " -e " not in x]
    return line


def test_jetson_venv_sees_the_system_packages_and_skips_pips_opencv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = run([str(RUNTIME_VENV), "--dry-run", str(venv)],
                 SEGCAM_ROOT=str(fake_root(tmp_path, ORIN)))
    assert result.returncode == 0, result.stderr
    assert f"would run: python3 -m venv --system-site-packages {venv}" in result.stdout
    assert pip_line(result.stdout).endswith("-r requirements-jetson.txt")
    assert "ORT_WHEEL=" in result.stdout  # says how to get NVIDIA's GPU build


def test_elsewhere_a_plain_venv_and_requirements_txt(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = run([str(RUNTIME_VENV), "--dry-run", str(venv)],
                 SEGCAM_ROOT=str(fake_root(tmp_path, PI)))
    assert result.returncode == 0, result.stderr
    assert f"would run: python3 -m venv {venv}" in result.stdout
    assert pip_line(result.stdout).endswith("-r requirements.txt")


def test_ort_wheel_is_installed_instead_of_pypis_onnxruntime(tmp_path: Path) -> None:
    wheel = tmp_path / "onnxruntime_gpu-1.20.0-cp310-cp310-linux_aarch64.whl"
    wheel.write_bytes(b"")
    venv = tmp_path / "venv"
    result = run([str(RUNTIME_VENV), "--dry-run", str(venv)], SEGCAM_JETSON="1",
                 ORT_WHEEL=str(wheel))
    assert result.returncode == 0, result.stderr
    assert pip_line(result.stdout).endswith(f"-r {venv}/requirements-ort.txt {wheel}")
    index = run([str(RUNTIME_VENV), "--dry-run", str(venv)], SEGCAM_JETSON="1",
                ORT_INDEX="https://example.invalid/jp6/cu126")
    assert pip_line(index.stdout).endswith(
        "--extra-index-url https://example.invalid/jp6/cu126 onnxruntime-gpu")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORT_WHEEL": "/nonexistent/onnxruntime_gpu.whl"},
         "ORT_WHEEL=/nonexistent/onnxruntime_gpu.whl: no such file"),
        ({"ORT_WHEEL": str(REPO / "requirements.txt")},
         f"ORT_WHEEL={REPO}/requirements.txt: not a wheel (.whl) file"),
        ({"ORT_WHEEL": "/x.whl", "ORT_INDEX": "https://example.invalid"},
         "ORT_WHEEL and ORT_INDEX: give one of them"),
    ],
)
def test_bad_ort_settings_exit_2_naming_the_variable(tmp_path: Path, env, message) -> None:
    result = run([str(RUNTIME_VENV), "--dry-run", str(tmp_path / "venv")], SEGCAM_JETSON="1", **env)
    assert result.returncode == 2
    assert result.stderr == f"runtime-venv: {message}\n"


def test_a_real_venv_made_the_other_way_is_recreated(tmp_path: Path) -> None:
    # A plain venv on a machine that turns out to be a Jetson: the flag cannot change in place.
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    result = run([str(RUNTIME_VENV), "--dry-run", str(venv)], SEGCAM_JETSON="1")
    assert "include-system-site-packages=false, want true: recreating it" in result.stdout
    assert f"would run: python3 -m venv --clear --system-site-packages {venv}" in result.stdout


def fake_installed(venv: Path, dist: str, version: str) -> None:
    """A real venv with a distribution's metadata in it (what pip leaves), without its code."""
    subprocess.run(["python3", "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    (site,) = venv.glob("lib/python3*/site-packages")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")


def test_a_rerun_keeps_the_gpu_build_an_earlier_run_installed(tmp_path: Path) -> None:
    # Else `pip install -r requirements-jetson.txt` would put PyPI's CPU build over its files.
    venv = tmp_path / "venv"
    fake_installed(venv, "onnxruntime-gpu", "1.20.0")
    result = run([str(RUNTIME_VENV), "--dry-run", str(venv)], SEGCAM_JETSON="1")
    assert result.returncode == 0, result.stderr
    assert "keeping the installed onnxruntime-gpu" in result.stdout
    assert pip_line(result.stdout).endswith(f"-r {venv}/requirements-ort.txt")
