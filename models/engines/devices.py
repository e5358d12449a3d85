"""What the machine says about NVIDIA hardware, without loading any GPU library.

Signs of a GPU: a Jetson's /etc/nv_tegra_release, /dev/nvidia0, /proc/driver/nvidia, nvidia-smi.
`SEGCAM_SYSROOT` moves the root these are looked for under (a staged image; tests of a Jetson
that is not there).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# L4T major release -> JetPack major release (NVIDIA's release table).
_JETPACK = {"32": "4", "34": "5", "35": "5", "36": "6", "38": "7"}


def sysroot() -> Path:
    return Path(os.environ.get("SEGCAM_SYSROOT") or "/")


def _at(path: str) -> Path:
    return sysroot() / path.lstrip("/")


def jetson_release() -> str | None:
    """'L4T R36.3.0 (JetPack 6)' from /etc/nv_tegra_release, or None when this is no Jetson."""
    try:
        text = _at("/etc/nv_tegra_release").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if not match:
        return "L4T (unreadable /etc/nv_tegra_release)"
    major, revision = match.groups()
    jetpack = _JETPACK.get(major)
    return f"L4T R{major}.{revision}" + (f" (JetPack {jetpack})" if jetpack else "")


def jetson_model() -> str | None:
    """The board's name from the device tree, e.g. 'NVIDIA Jetson Orin Nano Developer Kit'."""
    try:
        return _at("/proc/device-tree/model").read_text(errors="replace").strip("\0\n ") or None
    except OSError:
        return None


def nvidia_gpu_signs() -> list[str]:
    """What on this machine says an NVIDIA GPU is here (empty: none)."""
    signs = []
    release = jetson_release()
    if release:
        signs.append(f"a Jetson ({release})")
    for path in ("/dev/nvidia0", "/proc/driver/nvidia"):
        if _at(path).exists():
            signs.append(path)
    smi = shutil.which("nvidia-smi") if sysroot() == Path("/") else None
    if smi is None and _at("/usr/bin/nvidia-smi").exists():
        smi = "/usr/bin/nvidia-smi"
    if smi:
        signs.append(smi)
    return signs


def gpu_install_hint() -> str:
    """What to install for the GPU backends on this kind of machine."""
    if jetson_release():
        return ("TensorRT comes with JetPack (apt install python3-libnvinfer); the venv must see "
                "the system's packages (python3 -m venv --system-site-packages; systemd/install.sh "
                "does that on a Jetson)")
    return ("pip install tensorrt (its wheels bring the CUDA runtime; the NVIDIA driver must be "
            "installed), or onnxruntime-gpu for ONNX Runtime's CUDA provider")


def gpu_unused_warning(engine, requested: str, providers: list[str] | None = None) -> str | None:
    """On a machine with an NVIDIA GPU, the model running on the CPU: why, and what to do."""
    signs = nvidia_gpu_signs()
    if not signs or engine.on_gpu:
        return None
    here = f"an NVIDIA GPU is here ({signs[0]}) but the model runs on the CPU"
    gpu_labels = ("tensorrt:", "onnx (TensorRT/CUDA):")
    if requested != "auto":
        from models.engines import check_backends

        checks = [c for c in check_backends(engine.bundle, providers) if c.gpu]
        usable = [c for c in checks if c.ok]
        if usable:
            return (f"{here}: model.backend is {requested}; backend auto (or tensorrt) would "
                    f"use it ({usable[0].detail})")
        reasons = [f"{c.label}: {c.detail}" for c in checks]
    else:
        reasons = [s for s in engine.skipped if s.startswith(gpu_labels)]
    why = "; ".join(reasons) or "no GPU backend could run it"
    return f"{here} ({why}). For the GPU: {gpu_install_hint()}"
