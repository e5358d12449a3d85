"""`segcam doctor`: one screen of what this machine has for the config, and whether it can run.

Reads only: nothing is started (no camera is opened, no engine is built). Exit 0 when the
config can run here, 1 when something it needs is missing (the last line names the one thing to
fix first), 2 when the config itself cannot be read.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from app.config import AppConfig, ConfigError, load_app_config

# The elements segcam may use, by job; the config decides which of them it needs.
SOURCE_ELEMENTS = ("nvarguscamerasrc", "nvvidconv", "v4l2src", "rtspsrc", "decodebin",
                   "videoconvert", "appsink")
RECORD_ELEMENTS = ("appsrc", "videoconvert", "h264parse", "splitmuxsink", "matroskamux")
ENCODERS = ("nvv4l2h264enc", "x264enc", "openh264enc")
RTSP_ELEMENTS = ("appsrc", "videoconvert", "h264parse", "rtph264pay")
WEB_MP4_ELEMENTS = ("filesrc", "matroskademux", "h264parse", "mp4mux")
LABEL = 22


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what stops the config; first = fix first

    def head(self, text: str) -> None:
        self.lines.append(text)

    def item(self, label: str, text: str) -> None:
        self.lines.append(f"  {label:<{LABEL}} {text}")

    def problem(self, text: str) -> None:
        self.problems.append(text)


def _parser(prog: str, default_config: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--config", default=default_config, help="app YAML (default: %(default)s)")
    parser.add_argument("--source", help="check this source.uri instead of the config's")
    parser.add_argument("--bundle", help="check this model.bundle instead of the config's")
    parser.add_argument("--backend", choices=["auto", "tensorrt", "litert", "onnx"],
                        help="check this model.backend instead of the config's")
    return parser


def main(argv: list[str] | None = None, prog: str = "segcam doctor",
         default_config: str | None = "configs/app.yaml") -> int:
    args = _parser(prog, default_config).parse_args(argv)
    overrides: dict = {}
    if args.source:
        overrides["source.uri"] = args.source
    if args.bundle:
        overrides["model.bundle"] = str(Path(args.bundle).resolve())
    if args.backend:
        overrides["model.backend"] = args.backend
    report = Report()
    report.head(f"segcam doctor: {args.config or '<built-in defaults>'}")
    platform_section(report)
    try:
        config = load_app_config(args.config, overrides)
    except ConfigError as error:
        _print(report)
        print(f"fix: {error}", flush=True)
        return 2
    from app.redact import remember_secrets

    remember_secrets(config.source.uri)
    model_section(report, config)
    opencv_section(report)
    gstreamer_section(report, config)
    source_section(report, config)
    devices_section(report, config)
    _print(report)
    if report.problems:
        more = len(report.problems) - 1
        print(f"cannot run this config here{f' ({more} more problem(s) above)' if more else ''}")
        print(f"fix: {report.problems[0]}", flush=True)
        return 1
    print("OK: this config can run here", flush=True)
    return 0


def _print(report: Report) -> None:
    from app.redact import redact

    print("\n".join(redact(line) for line in report.lines), flush=True)


# -- sections --------------------------------------------------------------------------------


def platform_section(report: Report) -> None:
    from models.engines.devices import jetson_model, jetson_release, nvidia_gpu_signs
    from models.version import version

    report.head("Platform")
    report.item("segcam", version())
    report.item("machine", f"{platform.machine()}, Linux {platform.release()}, "
                f"Python {platform.python_version()}")
    release = jetson_release()
    if release:
        model = jetson_model()
        report.item("Jetson", release + (f", {model}" if model else ""))
    else:
        report.item("Jetson", "no (no /etc/nv_tegra_release)")
    signs = nvidia_gpu_signs()
    report.item("NVIDIA GPU", ", ".join(signs) if signs else
                "none seen (no /dev/nvidia0, /proc/driver/nvidia or nvidia-smi)")
    report.item("CUDA", _cuda_line())


def _cuda_line() -> str:
    from models.engines.cuda import CudaError, CudaRuntime, first_gpu

    try:
        cuda = CudaRuntime.load()
        runtime = f"runtime {cuda.version()} ({cuda.path})"
    except CudaError as error:
        return str(error).removeprefix("CUDA: ")
    try:
        _cuda, gpu = first_gpu()
    except CudaError as error:
        return f"{str(error).removeprefix('CUDA: ')} ({cuda.path})"
    return f"{runtime}; GPU 0: {gpu.name} (sm {gpu.sm}{', integrated' if gpu.integrated else ''})"


def model_section(report: Report, config: AppConfig) -> None:
    from models.bundle import BundleError, load_bundle
    from models.engines import KERAS_REFERENCE, check_backends

    backend = config.model.backend
    try:
        bundle = load_bundle(config.model.bundle)
    except BundleError as error:
        report.head(f"Model {config.model.bundle}")
        report.item("bundle", f"PROBLEM: {error}")
        report.problem(f"model.bundle: {error}")
        return
    report.head(f"Model {bundle.name} (files: {', '.join(sorted(bundle.files))}; "
                f"model.backend: {backend})")
    checks = check_backends(bundle, config.model.providers)
    for check in checks:
        report.item(check.label, f"{'yes' if check.ok else 'no '}  {check.detail}")
    usable = [c for c in checks if c.ok]
    if backend == "keras":
        report.problem(f"model.backend: {KERAS_REFERENCE}")
        return
    if backend == "auto":
        if usable:
            report.item("auto picks", f"{usable[0].label} (the first 'yes' above)")
        else:
            report.item("auto picks", "nothing: no backend can run this bundle here")
            report.problem(f"model.backend: no backend can run {bundle.name} here "
                           f"(install ai-edge-litert or onnxruntime)")
        return
    mine = [c for c in checks if c.backend == backend]
    if not any(c.ok for c in mine):
        from models.engines.devices import gpu_install_hint

        hint = f" ({gpu_install_hint()})" if mine[0].gpu else ""
        report.problem(f"model.backend: {backend}: {mine[0].detail}{hint}")


def opencv_section(report: Report) -> None:
    import cv2

    from app.display import gui_backend
    from app.sources.gst import opencv_has_gstreamer

    report.head(f"OpenCV {cv2.__version__}")
    report.item("GStreamer", "yes" if opencv_has_gstreamer() else
                "no (GStreamer sources run through PyGObject's appsink instead)")
    gui = gui_backend()
    report.item("GUI", gui if gui.upper() != "NONE" else "none (a headless build: no window)")


def _gst_version() -> str | None:
    from app.sources.base import SourceError
    from app.sources.gst_support import gst_modules

    try:
        return gst_modules()[0].version_string()
    except SourceError:
        return None


def gstreamer_section(report: Report, config: AppConfig) -> None:
    from app.sources.gst_support import element_available, missing_element_message

    version = _gst_version()
    report.head(f"{version} (Python bindings)" if version else
                "GStreamer: no Python bindings (PyGObject); elements looked up with gst-inspect-1.0")
    have = {name: element_available(name) for name in
            dict.fromkeys([*SOURCE_ELEMENTS, *RECORD_ELEMENTS, *ENCODERS, *RTSP_ELEMENTS,
                           *WEB_MP4_ELEMENTS])}
    needed: dict[str, str] = {}  # element -> the config section that needs it
    for element in _source_elements(config):
        needed.setdefault(element, "source.uri")
    encoder = None
    if config.record.enabled or config.rtsp.enabled:
        encoder = _encoder_choice(config.record.encoder, have)
        if encoder is not None:
            needed.setdefault(encoder, "record.encoder")
    if config.record.enabled:
        for element in RECORD_ELEMENTS:
            needed.setdefault(element, "record")
    if config.rtsp.enabled:
        for element in RTSP_ELEMENTS:
            needed.setdefault(element, "rtsp")
    for name in needed:
        if name not in have:
            have[name] = element_available(name)

    def mark(name: str) -> str:
        return f"{name} {({True: 'yes', False: 'no', None: '?'})[have[name]]}"

    if needed:
        report.item("needed by this config", ", ".join(map(mark, needed)))
    report.item("others", ", ".join(mark(n) for n in have if n not in needed))
    for name, who in needed.items():
        if have[name] is False and who != "source.uri":  # the source check names its own
            report.problem(f"{who}: {missing_element_message(name)}")
    if (config.record.enabled or config.rtsp.enabled) and encoder is None:
        report.item("H.264 encoder", "none available")
        report.problem("record.encoder: no H.264 encoder here (x264enc is in "
                       "gstreamer1.0-plugins-ugly; a Jetson has nvv4l2h264enc)")
    if config.web.enabled and not all(have[n] for n in WEB_MP4_ELEMENTS):
        report.item("web downloads", "recordings are offered as .mkv only (no mp4mux remux)")


def _encoder_choice(requested: str, have: dict[str, bool | None]) -> str | None:
    names = ENCODERS if requested == "auto" else (
        requested if requested.endswith("enc") else f"{requested}enc",)
    for name in names:
        if have.get(name) is not False:
            return name
    return None


def _source_elements(config: AppConfig) -> list[str]:
    from app.sources.base import SourceError
    from app.sources.gst_support import element_names

    uri = config.source.uri.strip()
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.lower() if sep else ""
    options = config.source  # the source section is the options
    try:
        if scheme == "csi":
            from app.sources.csi import csi_pipeline, sensor_id

            return element_names(csi_pipeline(sensor_id(uri, rest.strip("/")), options))
        if scheme in ("rtsp", "rtsps"):
            from app.sources.rtsp import rtsp_pipeline

            return element_names(rtsp_pipeline(uri, options))
        if scheme == "gst":
            from app.sources.gst import gst_pipeline

            return element_names(gst_pipeline(uri))
    except SourceError:
        return []  # a malformed URI: the source check says so
    return []


def source_section(report: Report, config: AppConfig) -> None:
    from app import preflight

    report.head("Source")
    try:
        preflight.check_source(config.source.uri)
    except ConfigError as error:
        report.item(config.source.uri, f"PROBLEM: {str(error).removeprefix('source.uri: ')}")
        report.problem(str(error))
        return
    report.item(config.source.uri, "OK (what can be checked without opening it)")


def devices_section(report: Report, config: AppConfig) -> None:
    from app import preflight
    from app.display import display_available, gui_backend
    from models.engines.devices import jetson_release, sysroot

    report.head("Devices")
    root = sysroot()
    cameras = sorted(glob.glob(str(root / "dev" / "video*")))
    if cameras:
        report.item("cameras", ", ".join(_camera_name(Path(c), root) for c in cameras))
    else:
        report.item("cameras", "none (no /dev/video*)")
    display = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY")
    setting = config.display.enabled
    if display_available():
        report.item("display", f"{display} with OpenCV {gui_backend()} (display.enabled: "
                    f"{setting}): {'a window' if setting else 'no window'}")
    elif display:
        report.item("display", f"{display}, but this OpenCV has no GUI: headless")
    else:
        report.item("display", f"none (DISPLAY and WAYLAND_DISPLAY unset): headless "
                    f"(display.enabled: {setting})")
    if config.record.enabled:
        try:
            preflight.check_record_dir(config.record.dir)
        except ConfigError as error:
            report.item("recording", f"PROBLEM: {error}")
            report.problem(str(error))
        else:
            recording_space(report, config.record.dir, config.record.min_free_gb)
    else:
        report.item("recording", "off (record.enabled: false)")
    report.item("jtop service", _jtop_line(jetson_release() is not None, root))


def _camera_name(device: Path, root: Path) -> str:
    try:
        name = (root / "sys/class/video4linux" / device.name / "name").read_text().strip()
    except OSError:
        return f"/dev/{device.name}"
    return f"/dev/{device.name} ({name})"


def recording_space(report: Report, directory: str, min_free_gb: float) -> None:
    """Free space against record.min_free_gb, as the recorder will find it at its start: below
    it, and deleting every old segment would not get there, recording stops at once."""
    from app.recording.retention import GB, Pruned, amount, free_bytes, space_check

    path = Path(directory)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # not made yet: its disk is the nearest parent's
    try:
        if existing == path:
            space = space_check(path, "seg", min_free_gb)
        else:  # a folder not made yet holds no segment to delete
            now = free_bytes(existing)
            space = Pruned(free_bytes=now, short_bytes=max(0, int(min_free_gb * GB) - now))
    except OSError as error:
        report.item("recording", f"{directory}: free space unknown ({error})")
        return
    line = f"{directory}: {amount(space.free_bytes)} free (record.min_free_gb: {min_free_gb:g})"
    if space.short_bytes:
        problem = (f"record.min_free_gb: {amount(space.free_bytes)} free in {directory}, under "
                   f"record.min_free_gb {min_free_gb:g} even with every old segment deleted: "
                   f"recording would stop at once (free {amount(space.short_bytes)} more, or "
                   "lower record.min_free_gb)")
        report.item("recording", f"PROBLEM: {line}: recording would stop at once")
        report.problem(problem)
        return
    if space.free_bytes < min_free_gb * GB:
        line += "; the oldest segments will be deleted to keep it"
    report.item("recording", line)


def _jtop_line(jetson: bool, root: Path) -> str:
    running = (root / "run" / "jtop.sock").exists()
    installed = find_spec("jtop") is not None
    if running:
        return "running: the HUD shows GPU load and power" + (
            "" if installed else " (but jetson-stats is not in this Python: pip install jetson-stats)")
    if jetson:
        return ("not running: the HUD reads /proc and /sys (no GPU load or power); jetson-stats "
                "provides it (sudo pip3 install -U jetson-stats, then reboot)")
    return "not running (jtop is for Jetsons): the HUD reads /proc and /sys"


if __name__ == "__main__":
    sys.exit(main())
