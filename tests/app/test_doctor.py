"""`segcam doctor` (`python -m app doctor`) as a user runs it: a real subprocess on this machine.

What is present here (GStreamer, x264enc, LiteRT) and what is not (nvarguscamerasrc, TensorRT,
a GPU driver); a Jetson that is not here is a staged root (SEGCAM_SYSROOT) with its files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from testkit import ROOT

SHIPPED = ROOT / "models" / "camvid-unet"


def doctor(*args: str, sysroot: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if sysroot is not None:
        env["SEGCAM_SYSROOT"] = str(sysroot)
    return subprocess.run([sys.executable, "-m", "app", "doctor", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def config_file(folder: Path, **sections) -> Path:
    path = folder / "app.yaml"
    settings = {"source": {"uri": "test://"}, "model": {"bundle": str(SHIPPED)},
                "record": {"enabled": False}}
    settings.update(sections)
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture
def jetson(tmp_path: Path) -> Path:
    root = tmp_path / "jetson"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "nv_tegra_release").write_text(
        "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, "
        "DATE: Fri Jul 19 23:24:25 UTC 2024\n")
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\0")
    return root


def test_the_default_config_can_run_here() -> None:
    result = doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    lines = out.strip().splitlines()
    assert lines[-1] == "OK: this config can run here"
    assert lines[0] == f"segcam doctor: {ROOT / 'configs' / 'app.yaml'}"
    for heading in ("Platform", "Model camvid-unet", "OpenCV ", "Source", "Devices"):
        assert any(line.startswith(heading) for line in lines), heading
    assert "  Jetson                 no (no /etc/nv_tegra_release)" in lines
    assert "auto picks             litert (the first 'yes' above)" in out
    assert "x264enc yes" in out and "splitmuxsink yes" in out and "matroskamux yes" in out
    assert "nvarguscamerasrc no" in out  # listed, but this config does not need it
    assert "GUI" in out and "GStreamer" in out
    assert "sudo" not in out  # nothing here asks for a Jetson's service to be installed
    assert "jtop service           not running (jtop is for Jetsons)" in out


def test_a_csi_camera_here_is_exit_1_naming_nvarguscamerasrc(tmp_path: Path) -> None:
    result = doctor("--config", str(config_file(tmp_path, source={"uri": "csi://0"})))
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("fix: source.uri: csi://0: GStreamer element 'nvarguscamerasrc' "
                           "is not available")
    assert "needed by this config  nvarguscamerasrc no, nvvidconv no" in result.stdout


def test_a_config_that_does_not_load_is_exit_2_with_its_error_last(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  backend: tpu\n")
    result = doctor("--config", str(bad))
    assert result.returncode == 2
    assert "Platform" in result.stdout  # what the machine has is still shown
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"fix: {bad}") and "model.backend" in last


def test_a_missing_bundle_is_the_fix(tmp_path: Path) -> None:
    config = config_file(tmp_path, model={"bundle": str(tmp_path / "nothing")})
    result = doctor("--config", str(config))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == (
        f"fix: model.bundle: {tmp_path / 'nothing' / 'model.yaml'}: missing (not a model bundle)")


def test_backend_tensorrt_without_tensorrt_names_what_to_install(tmp_path: Path) -> None:
    from models.engines.tensorrt import availability

    if availability()[0] is None:
        pytest.skip("TensorRT runs here")
    result = doctor("--config", str(config_file(tmp_path)), "--backend", "tensorrt")
    assert result.returncode == 1
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("fix: model.backend: tensorrt: ")
    assert "pip install tensorrt" in last  # not a Jetson: the desktop way


def test_on_a_jetson_it_shows_the_release_and_the_jetson_advice(tmp_path: Path,
                                                                jetson: Path) -> None:
    result = doctor("--config", str(config_file(tmp_path)), "--backend", "tensorrt",
                    sysroot=jetson)
    out = result.stdout
    assert "  Jetson                 L4T R36.3.0 (JetPack 6), NVIDIA Jetson Orin Nano Developer Kit" in out
    assert "  NVIDIA GPU             a Jetson (L4T R36.3.0 (JetPack 6))" in out
    assert "jetson-stats provides it (sudo pip3 install -U jetson-stats" in out
    if result.returncode == 1:  # no TensorRT here: the JetPack way to get it
        assert "apt install python3-libnvinfer" in out.strip().splitlines()[-1]


def test_recording_into_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = config_file(tmp_path, record={"enabled": True, "dir": str(blocker / "rec")})
    result = doctor("--config", str(config))
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1].startswith(f"fix: record.dir: cannot create {blocker / 'rec'}")


def test_a_camera_that_is_not_plugged_in(tmp_path: Path) -> None:
    result = doctor("--config", str(config_file(tmp_path, source={"uri": "v4l2:///dev/video7"})),
                    sysroot=tmp_path)
    assert result.returncode == 1
    assert "cameras                none (no /dev/video*)" in result.stdout
    assert "no such device /dev/video7" in result.stdout.strip().splitlines()[-1]


def test_a_disk_below_min_free_gb_is_the_fix(tmp_path: Path) -> None:
    """More free space asked for than the disk has, even with every old segment deleted:
    recording would stop at once, so doctor says so instead of OK."""
    record = tmp_path / "rec"
    record.mkdir()
    config = config_file(tmp_path, record={"enabled": True, "dir": str(record),
                                           "min_free_gb": 100000})
    result = doctor("--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"recording              PROBLEM: {record}: " in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("fix: record.min_free_gb: ") and f"free in {record}" in last
    assert "recording would stop at once" in last and "lower record.min_free_gb" in last
    enough = config_file(tmp_path, record={"enabled": True, "dir": str(record),
                                           "min_free_gb": 0.001})
    assert doctor("--config", str(enough)).returncode == 0
