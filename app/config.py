"""The app's configuration: YAML (safe_load) validated into typed settings.

An unknown key, a wrong type or a bad value is a ConfigError naming the file and the key;
the CLI turns it into one line on stderr and exit code 2 before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.settings_file import ConfigError as ConfigError  # re-exported: callers catch it here
from models.settings_file import apply_overrides, read_mapping, validate


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSettings(_Section):
    uri: str = Field("test://", description="csi://0, v4l2:///dev/video0, file://clip.mp4, rtsp://..., gst://..., test://")
    width: int | None = Field(None, gt=0, description="capture width (cameras, test://)")
    height: int | None = Field(None, gt=0, description="capture height")
    fps: float | None = Field(None, ge=0, description="capture rate; pacing for files when realtime")
    flip: int = Field(0, ge=0, le=7, description="CSI nvvidconv flip-method")
    loop: bool = Field(False, description="restart files and image folders at the end")
    realtime: bool = Field(False, description="pace files and folders to their frame rate")
    timeout_s: float = Field(5.0, gt=0, description="no frame for this long = camera offline")
    latency_ms: int = Field(200, ge=0, description="rtsp jitter buffer")
    reconnect_initial_s: float = Field(1.0, gt=0, description="first wait before reopening")
    reconnect_max_s: float = Field(30.0, gt=0, description="cap of the exponential backoff")

    @field_validator("uri")
    @classmethod
    def _not_blank(cls, uri: str) -> str:
        if not uri.strip():
            raise ValueError("empty source URI")
        return uri


class ModelSettings(_Section):
    bundle: str = Field("models/camvid-unet", description="model bundle folder")
    backend: Literal["auto", "litert", "onnx", "keras"] = "auto"
    threads: int | None = Field(None, gt=0, description="CPU threads for LiteRT/ONNX (None: all)")
    providers: list[str] = Field(["tensorrt", "cuda", "cpu"], description="ONNX Runtime order")
    cache_dir: str | None = Field(None, description="TensorRT engine cache folder")


class PipelineSettings(_Section):
    output_queue: int = Field(4, ge=1, le=256, description="frames between inference and output")
    stats_interval_s: float = Field(10.0, gt=0, description="period of the stats log line")


class OverlaySettings(_Section):
    mode: Literal["overlay", "mask", "side-by-side"] = "overlay"
    alpha: float = Field(0.5, ge=0, le=1)
    hidden: list[str | int] = Field(["background"],
                                    description="classes drawn transparent (names or ids 0..255)")
    legend: bool = True
    hud: bool = True

    @field_validator("hidden")
    @classmethod
    def _ids_in_range(cls, hidden: list[str | int]) -> list[str | int]:
        # Names are checked against the bundle at start-up (app/__main__.py); ids here.
        for item in hidden:
            if isinstance(item, int) and not 0 <= item <= 255:
                raise ValueError(f"class id {item} is outside 0..255")
        return hidden


class DisplaySettings(_Section):
    enabled: bool | Literal["auto"] = Field("auto", description="auto: a window when a display exists")
    fullscreen: bool = False
    title: str = "segcam"


class RecordSettings(_Section):
    enabled: bool = True
    dir: str = Field("runs/recordings", description="where segments go")
    segment_seconds: float = Field(60.0, gt=0)
    max_age_hours: float | None = Field(168.0, gt=0, description="delete older segments")
    min_free_gb: float = Field(1.0, ge=0, description="delete oldest segments below this")
    # Checked here, not when the first frame reaches the recorder (app/recording/encoders.py).
    encoder: Literal["auto", "x264", "x264enc", "nvv4l2h264", "nvv4l2h264enc", "openh264",
                     "openh264enc"] = Field("auto", description="auto | x264 | nvv4l2h264 | openh264")
    fps: float | None = Field(None, gt=0, description="recorded frame rate (None: source fps)")


class TelemetrySettings(_Section):
    enabled: bool = True
    interval_s: float = Field(2.0, gt=0)


class AppConfig(_Section):
    source: SourceSettings = SourceSettings()
    model: ModelSettings = ModelSettings()
    pipeline: PipelineSettings = PipelineSettings()
    overlay: OverlaySettings = OverlaySettings()
    display: DisplaySettings = DisplaySettings()
    record: RecordSettings = RecordSettings()
    telemetry: TelemetrySettings = TelemetrySettings()


def load_app_config(path: str | Path | None, overrides: dict | None = None) -> AppConfig:
    """Read `path` (None: defaults only), apply dotted overrides, validate.

    Relative paths in the file (bundle, record dir, file sources) resolve against the file's folder.
    """
    raw: dict = {}
    name = str(path) if path else "<defaults>"
    if path is not None:
        path = Path(path)
        raw = read_mapping(path)
        _resolve_paths(raw, path.parent)
    apply_overrides(raw, overrides, name)
    return validate(AppConfig, raw, name)


def _resolve_paths(raw: dict, base: Path) -> None:
    def resolve(section: str, key: str) -> None:
        node = raw.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str):
            value = node[key]
            blank = not value.strip()  # left for validation to refuse, not made a folder
            if not blank and "://" not in value and not Path(value).expanduser().is_absolute():
                node[key] = str((base / value).resolve())

    resolve("model", "bundle")
    resolve("model", "cache_dir")
    resolve("record", "dir")
    resolve("source", "uri")
