"""The app's configuration: YAML (safe_load) validated into typed settings.

An unknown key, a wrong type or a bad value is a ConfigError naming the file and the key;
the CLI turns it into one line on stderr and exit code 2 before anything starts.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.sources.base import SourceOptions
from models.settings_file import ConfigError as ConfigError  # re-exported: callers catch it here
from models.settings_file import apply_overrides, read_mapping, validate
from models.shipped import SHIPPED_BUNDLE


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SourceUri(_Section):
    uri: str = Field("test://", description="csi://0, v4l2:///dev/video0, file://clip.mp4, rtsp://..., gst://..., test://")

    @field_validator("uri")
    @classmethod
    def _not_blank(cls, uri: str) -> str:
        if not uri.strip():
            raise ValueError("empty source URI")
        return uri


class SourceSettings(SourceOptions, _SourceUri):
    """The `source:` section: the URI, the source's own options (app/sources/base.py) and the
    reconnect backoff. The bases' order keeps `uri` first among the keys an error lists."""

    reconnect_initial_s: float = Field(1.0, gt=0, description="first wait before reopening")
    reconnect_max_s: float = Field(30.0, gt=0, description="cap of the exponential backoff")


class ModelSettings(_Section):
    # The shipped bundle, found from the installed code: a config without this key works from
    # any folder.
    bundle: str = Field(str(SHIPPED_BUNDLE), description="model bundle folder (default: the "
                        "shipped models/camvid-unet)")
    backend: Literal["auto", "tensorrt", "litert", "onnx", "keras"] = Field(
        "auto", description="auto: TensorRT, then ONNX Runtime on the GPU, then LiteRT")
    threads: int | None = Field(None, gt=0, description="CPU threads for LiteRT/ONNX (None: all)")
    providers: list[str] = Field(["tensorrt", "cuda", "cpu"], description="ONNX Runtime order")
    cache_dir: str | None = Field(None, description="TensorRT engine cache folder (None: "
                                  "$XDG_CACHE_HOME/segcam/tensorrt)")


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
    dir: str = Field("runs/recordings", description="where segments go (default: runs/recordings "
                     "in the current folder)")
    segment_seconds: float = Field(
        60.0, gt=0, description="length of one file; it ends on a key frame, one comes a second")
    max_age_hours: float | None = Field(
        168.0, gt=0, description="delete segments older than this (None: keep them by age)")
    min_free_gb: float = Field(
        0.5, ge=0,
        description="free space to leave on the disk: the oldest segments are deleted to keep it"
        " (never the open one or the one just closed, never more than needed); when deleting"
        " them cannot get there because other files fill the disk, recording stops with a"
        " warning and keeps them. 0.5 GB: room for logs and small updates on an 8-32 GB SD"
        " card without taking much of what is left for video (a minute at 4 Mbit/s is 30 MB)."
        " 0: no floor; a full disk then stops recording with an error")
    # Checked here, not when the first frame reaches the recorder (app/recording/encoders.py).
    encoder: Literal["auto", "x264", "x264enc", "nvv4l2h264", "nvv4l2h264enc", "openh264",
                     "openh264enc"] = Field("auto", description="auto | x264 | nvv4l2h264 | openh264")
    fps: float | None = Field(None, gt=0, description="recorded frame rate (None: source fps)")


class TelemetrySettings(_Section):
    enabled: bool = True
    interval_s: float = Field(2.0, gt=0)


class WebSettings(_Section):
    enabled: bool = Field(False, description="serve the live view, recordings, JSON and /metrics")
    token_sha256: str | None = Field(None, description="sha256 (hex) of the access token; "
                                     "required unless listen is a loopback address")
    max_clients: int = Field(4, ge=1, le=64, description="live streams at once; more get 503")
    jpeg_quality: int = Field(80, ge=10, le=100, description="quality of the live JPEG frames")
    # Last: its validator reads token_sha256 (pydantic validates fields in declaration order).
    listen: str = Field("127.0.0.1:8080",
                        description="host:port or [v6]:port; port 0: any free port (logged)")

    @field_validator("token_sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip().lower()
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ValueError("must be the 64 hex digits of the token's sha256 "
                                 "(printf %s TOKEN | sha256sum)")
        return value

    @field_validator("listen")
    @classmethod
    def _local_or_token(cls, value: str, info: ValidationInfo) -> str:
        host, _port = split_listen(value)
        if (info.data.get("enabled") and not is_loopback(host)
                and not info.data.get("token_sha256")):
            raise ValueError(f"{value} is reachable from other machines: set web.token_sha256 "
                             "(see README, 'Watch it over the network') or listen on 127.0.0.1")
        return value


def split_listen(listen: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError with a readable message."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{listen!r} is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


class RtspSettings(_Section):
    enabled: bool = False
    port: int = Field(8554, ge=1, le=65535, description="TCP port of the RTSP server")
    path: str = Field("/segcam", description="mount point: rtsp://HOST:PORT/segcam")
    listen: str = Field("127.0.0.1", description="address to bind: 127.0.0.1, ::1, 0.0.0.0, ...")
    bitrate_kbps: int = Field(4000, ge=100, le=100_000, description="H.264 target bitrate")
    username: str | None = Field(None, min_length=1, pattern=r"^[^:\s]+$",
                                 description="Basic auth user (required off localhost)")
    password: SecretStr | None = Field(None, min_length=1, description="plain password")
    password_hash: str | None = Field(
        None, description="pbkdf2_sha256$ITERATIONS$SALT$HASH (python -m app.outputs.rtsp_auth)")

    @field_validator("path")
    @classmethod
    def _mount_path(cls, path: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path):
            raise ValueError("must start with / and hold only letters, digits, . _ ~ - and /"
                             " (e.g. /segcam)")
        return path

    @field_validator("listen")
    @classmethod
    def _an_address(cls, listen: str) -> str:
        from app.outputs.rtsp_auth import is_local_address

        is_local_address(listen)  # ValueError: not an IP address
        return listen

    @field_validator("password_hash")
    @classmethod
    def _hash_format(cls, value: str | None) -> str | None:
        from app.outputs.rtsp_auth import check_hash_format

        return None if value is None else check_hash_format(value)

    @model_validator(mode="after")
    def _credential_off_localhost(self) -> RtspSettings:
        from app.outputs.rtsp_auth import is_local_address

        secret = self.password is not None or self.password_hash is not None
        if self.password is not None and self.password_hash is not None:
            raise ValueError("set rtsp.password or rtsp.password_hash, not both")
        if secret and self.username is None:
            raise ValueError("a password needs rtsp.username")
        if self.username is not None and not secret:
            raise ValueError("rtsp.username needs rtsp.password_hash (or rtsp.password)")
        if self.enabled and not secret and not is_local_address(self.listen):
            raise ValueError(f"rtsp.listen {self.listen} is not a local address: anyone on the "
                             "network could watch; set rtsp.username and rtsp.password_hash "
                             "(or rtsp.password)")
        return self


class AppConfig(_Section):
    source: SourceSettings = SourceSettings()
    model: ModelSettings = ModelSettings()
    pipeline: PipelineSettings = PipelineSettings()
    overlay: OverlaySettings = OverlaySettings()
    display: DisplaySettings = DisplaySettings()
    record: RecordSettings = RecordSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    web: WebSettings = WebSettings()
    rtsp: RtspSettings = RtspSettings()


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
