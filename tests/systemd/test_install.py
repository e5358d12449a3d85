"""systemd/install.sh run for real into a staging root (--root), and shellcheck on all scripts.

Nothing here touches this machine's /opt, /etc or user database: every real run uses --root
(under which install.sh creates no user and contacts no systemd), and --no-venv keeps pip out.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "systemd" / "install.sh"
SHIPPED_CONFIG = "# segcam test config\nsource: test://\n"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the project to install, with a known configs/service.yaml."""
    src = tmp_path / "src"
    src.mkdir()
    for item in ("app", "models", "systemd", "requirements.txt", "requirements-jetson.txt",
                 "pyproject.toml"):
        path = REPO / item
        if path.is_dir():
            shutil.copytree(path, src / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, src / item)
    (src / "configs").mkdir()
    (src / "configs" / "service.yaml").write_text(SHIPPED_CONFIG)
    return src


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def install(
    source: Path | None,
    *args: str,
    check: bool = True,
    uid: int | None = None,
    script: Path = INSTALL,
) -> subprocess.CompletedProcess[str]:
    cmd = ["bash", str(script), *(["--source", str(source)] if source else []), *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def write_accounts(root: Path, groups: str) -> None:
    """An /etc/passwd and /etc/group for the staging root (the target's, not this machine's)."""
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nkiosk:x:1000:1000::/home/kiosk:/bin/bash\n"
    )
    (etc / "group").write_text("root:x:0:\nkiosk:x:1000:\n" + groups)


def test_dry_run_prints_the_steps_and_creates_nothing(source: Path, root: Path) -> None:
    result = install(source, "--dry-run", "--root", str(root), "--display", "nobody")
    out = result.stdout
    assert f"would run: mkdir -p {root}/opt/segcam" in out
    assert f"would run: cp -a -- {source}/app {root}/opt/segcam/app.new/" in out
    assert "would run: python3 -m venv" in out and "-m pip install" in out
    assert f"would run: install -m 0644 {source}/configs/service.yaml {root}/etc/segcam/app.yaml" in out
    assert f"would write: {root}/etc/systemd/system/segcam.service.d/50-display.conf" in out
    assert "User=nobody" in out
    assert "nothing was changed" in out
    assert tree(root) == set()


def test_dry_run_on_the_real_system_paths_changes_nothing(source: Path) -> None:
    # Without --root the plan names /opt, /etc and useradd: still nothing may happen.
    before = {p: os.path.exists(p) for p in ("/opt/segcam", "/etc/segcam", "/var/lib/segcam")}
    if any(before.values()) or _user_exists("segcam"):
        pytest.skip("segcam is installed on this machine")
    result = install(source, "--dry-run")
    assert "would run: useradd --system --no-create-home" in result.stdout
    assert "would run: install -m 0644" in result.stdout
    assert not any(os.path.exists(p) for p in before)
    assert not _user_exists("segcam")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_install_into_root_lays_down_the_files(source: Path, root: Path) -> None:
    result = install(source, "--root", str(root), "--no-venv")
    assert "skip: no user is created under --root" in result.stdout
    assert not _user_exists("segcam")
    unit = root / "etc/systemd/system/segcam.service"
    assert unit.read_text() == (source / "systemd/segcam.service").read_text()
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    wants = root / "etc/systemd/system/multi-user.target.wants/segcam.service"
    assert wants.is_symlink() and os.readlink(wants) == "/etc/systemd/system/segcam.service"
    app = root / "opt/segcam/app"
    assert (app / "app/notify.py").is_file()
    assert (app / "requirements.txt").is_file()
    assert (app / "systemd/segcam-display-env.sh").is_file()  # the display drop-in runs it
    assert not list(app.rglob("__pycache__"))
    assert (root / "etc/segcam/app.yaml").read_text() == SHIPPED_CONFIG
    assert (root / "var/lib/segcam/recordings").is_dir()
    assert not (root / "opt/segcam/venv").exists()
    # No account database in this root: the groups drop-in is skipped, not guessed.
    assert not (root / "etc/systemd/system/segcam.service.d").exists()


def test_second_run_is_idempotent_and_keeps_an_edited_config(source: Path, root: Path) -> None:
    install(source, "--root", str(root), "--no-venv")
    unit = root / "etc/systemd/system/segcam.service"
    app = root / "opt/segcam/app"
    config = root / "etc/segcam/app.yaml"
    config.write_text(SHIPPED_CONFIG + "# my camera\n")
    unit_mtime, app_inode = unit.stat().st_mtime_ns, app.stat().st_ino
    files_before = tree(root)

    result = install(source, "--root", str(root), "--no-venv")
    assert config.read_text() == SHIPPED_CONFIG + "# my camera\n"
    dist = root / "etc/segcam/app.yaml.dist"
    assert dist.read_text() == SHIPPED_CONFIG
    assert "was edited: kept" in result.stdout
    assert unit.stat().st_mtime_ns == unit_mtime  # unchanged files are left alone
    assert app.stat().st_ino == app_inode  # the project copy was not swapped
    assert f"{app} is up to date" in result.stdout
    assert tree(root) == files_before | {"etc/segcam/app.yaml.dist"}

    # A changed project is swapped in.
    (source / "app" / "added.py").write_text("X = 1\n")
    install(source, "--root", str(root), "--no-venv")
    assert (app / "app/added.py").is_file()
    assert not (root / "opt/segcam/app.old").exists()
    assert not (root / "opt/segcam/app.new").exists()


def test_uninstall_keeps_recordings_and_an_edited_config(source: Path, root: Path) -> None:
    install(source, "--root", str(root), "--no-venv")
    recording = root / "var/lib/segcam/recordings/2024-01-01_00-00-00.mp4"
    recording.write_bytes(b"\x00" * 16)
    config = root / "etc/segcam/app.yaml"
    config.write_text("edited: true\n")
    install(source, "--root", str(root), "--no-venv")  # writes app.yaml.dist

    result = install(source, "--root", str(root), "--uninstall")
    assert "kept" in result.stdout
    assert recording.read_bytes() == b"\x00" * 16
    assert config.read_text() == "edited: true\n"
    assert not (root / "etc/segcam/app.yaml.dist").exists()
    assert not (root / "opt/segcam").exists()
    assert not (root / "etc/systemd/system/segcam.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/segcam.service").exists()

    install(source, "--root", str(root), "--uninstall")  # twice is fine


def test_uninstall_removes_an_unedited_config_and_purge_removes_the_rest(
    source: Path, root: Path
) -> None:
    install(source, "--root", str(root), "--no-venv")
    install(source, "--root", str(root), "--uninstall")
    assert not (root / "etc/segcam").exists()  # it was the shipped one: nothing of the user's
    assert (root / "var/lib/segcam/recordings").is_dir()
    install(source, "--root", str(root), "--uninstall", "--purge")
    assert not (root / "var/lib/segcam").exists()


def test_display_dropin_for_a_user_of_the_target(source: Path, root: Path) -> None:
    write_accounts(root, "video:x:44:\nrender:x:105:\n")
    install(source, "--root", str(root), "--no-venv", "--display", "kiosk")
    dropins = root / "etc/systemd/system/segcam.service.d"
    display = (dropins / "50-display.conf").read_text()
    assert "User=kiosk\n" in display and "Group=kiosk\n" in display
    assert "@" not in display.replace("@/tmp/.X11-unix", "")
    assert not (dropins / "10-groups.conf").exists()  # both groups exist on the target

    install(source, "--root", str(root), "--no-venv")  # a plain rerun keeps the display setup
    assert (dropins / "50-display.conf").exists()
    install(source, "--root", str(root), "--no-venv", "--headless")
    assert not (dropins / "50-display.conf").exists()

    result = install(source, "--root", str(root), "--no-venv", "--display", "ghost", check=False)
    assert result.returncode != 0 and "no such user" in result.stderr


def test_missing_render_group_gets_a_groups_dropin(source: Path, root: Path) -> None:
    # SupplementaryGroups= naming a group that does not exist fails the start (216/GROUP).
    write_accounts(root, "video:x:44:\n")
    install(source, "--root", str(root), "--no-venv")
    groups = root / "etc/systemd/system/segcam.service.d/10-groups.conf"
    assert "SupplementaryGroups=\nSupplementaryGroups=video\n" in groups.read_text()
    with (root / "etc/group").open("a") as f:
        f.write("render:x:105:\n")
    install(source, "--root", str(root), "--no-venv")
    assert not groups.exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_installer_verifies_the_staged_unit(source: Path, root: Path) -> None:
    # With a venv Python in place, install.sh runs systemd-analyze verify on what it installed.
    venv_bin = root / "opt/segcam/venv/bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    write_accounts(root, "video:x:44:\nrender:x:105:\n")
    result = install(source, "--root", str(root), "--no-venv", "--display", "kiosk")
    assert f"+ systemd-analyze verify {root}/etc/systemd/system/segcam.service" in result.stdout
    assert "warning" not in result.stdout.lower() + result.stderr.lower()


def test_jetson_site_packages_keep_the_system_opencv_and_pygobject(source: Path, root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.0\n")
    result = install(source, "--dry-run", "--root", str(root))
    out = result.stdout
    assert "python3 -m venv --system-site-packages" in out  # auto: this root is a Jetson
    assert f"-r {source}/requirements-jetson.txt" in out
    assert "--ort-wheel" in out  # the hint: PyPI's onnxruntime is CPU-only
    assert "jetson-stats" in out  # the jtop hint
    forced = install(source, "--dry-run", "--root", str(root), "--no-system-site-packages")
    assert "--system-site-packages" not in forced.stdout.replace("--no-system-site-packages", "")
    assert f"-r {source}/requirements.txt" in forced.stdout


@pytest.mark.parametrize(
    ("files", "env", "jetson"),
    [
        ({"proc/device-tree/model": "NVIDIA Jetson AGX Orin Developer Kit\0"}, {}, True),
        ({"proc/device-tree/model": "Raspberry Pi 5 Model B Rev 1.0\0"}, {}, False),
        ({}, {}, False),
        ({}, {"SEGCAM_JETSON": "1"}, True),
        ({"etc/nv_tegra_release": "# R36\n"}, {"SEGCAM_JETSON": "0"}, False),
    ],
)
def test_jetson_detection_sets_the_venv_flag(source: Path, root: Path, files, env, jetson) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    result = subprocess.run(["bash", str(INSTALL), "--source", str(source), "--dry-run", "--root",
                             str(root)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("venv --system-site-packages" in result.stdout) is jetson


def test_ort_wheel_replaces_pypis_onnxruntime(source: Path, root: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "onnxruntime_gpu-1.20.0-cp310-cp310-linux_aarch64.whl"
    wheel.write_bytes(b"")  # pip is not run: --dry-run
    result = install(source, "--dry-run", "--root", str(root), "--system-site-packages",
                     "--ort-wheel", str(wheel))
    out = result.stdout
    written = out.split("requirements.txt (mode 0644):", 1)[1].split("would run:", 1)[0]
    planned = [line.removeprefix("    | ") for line in written.splitlines()
               if line.startswith("    | ") and not line.startswith("    | #")]
    names = [line.split("=")[0] for line in planned]
    assert "numpy==1.26.4" in planned and "ai-edge-litert" in names
    assert "onnxruntime" not in names and "opencv-python" not in names
    assert f"-r {root}/opt/segcam/requirements.txt {wheel}" in out
    index = install(source, "--dry-run", "--root", str(root), "--ort-index", "https://example.invalid/jp6")
    assert "--extra-index-url https://example.invalid/jp6 onnxruntime-gpu" in index.stdout


def test_upgrade_keeps_an_installed_onnxruntime_gpu(source: Path, root: Path) -> None:
    venv = root / "opt/segcam/venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "onnxruntime_gpu-1.20.0.dist-info").mkdir()
    (site / "onnxruntime_gpu-1.20.0.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.20.0\n")
    out = install(source, "--dry-run", "--root", str(root), "--system-site-packages").stdout
    assert "keeping the installed onnxruntime-gpu" in out
    planned = out.split("requirements.txt (mode 0644):", 1)[1].split("would run:", 1)[0]
    assert "numpy==1.26.4" in planned and "\n    | onnxruntime" not in planned


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--ort-wheel", "/nonexistent/ort.whl"], {}, "--ort-wheel /nonexistent/ort.whl: no such file"),
        (["--ort-wheel"], {}, "--ort-wheel needs a wheel file"),
        ([], {"SEGCAM_JETSON": "yes"}, "SEGCAM_JETSON=yes: want 1 (a Jetson) or 0 (not one)"),
    ],
)
def test_bad_ort_or_jetson_settings_exit_2_with_one_line(source: Path, root: Path, args, env,
                                                         message) -> None:
    result = subprocess.run(["bash", str(INSTALL), "--source", str(source), "--dry-run", "--root",
                             str(root), *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env}, check=False)
    assert result.returncode == 2
    assert result.stderr == f"install.sh: {message}\n"


def test_refuses_to_run_unprivileged_without_root_or_dry_run(
    shared_copy: Callable[[str], Path],
) -> None:
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    # A copy any user can read (conftest.py); no --source: the refusal must come first.
    script = shared_copy("systemd/install.sh")
    result = install(None, uid=65534, check=False, script=script)  # nobody
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == "install.sh: must run as root (or use --dry-run, or --root DIR to stage)\n"


def test_rejects_unknown_options(source: Path) -> None:
    result = install(source, "--frobnicate", check=False)
    assert result.returncode != 0 and "unknown option" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_passes_on_every_shell_script() -> None:
    scripts = sorted([*REPO.glob("systemd/*.sh"), *REPO.glob("scripts/*.sh"), REPO / ".ci" / "run"])
    scripts = [s for s in scripts if s.exists()]
    assert INSTALL in scripts
    result = subprocess.run(
        ["shellcheck", *map(str, scripts)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
