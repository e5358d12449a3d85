"""The interface every frame source implements, its options and its one error type."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.redact import redact as redact  # re-exported: the sources' one redaction function


class SourceError(Exception):
    """A source failed in a way a user can cause or fix (no camera, missing file, dead stream).

    The message is always one line and starts with the source's (redacted) URI, so the
    supervisor can log it as is and decide to reconnect.

    `permanent`: retrying cannot help (a pipeline that does not parse, a GStreamer element that
    is not installed, a device path or file that does not exist); the user has to fix it. The
    supervisor stops on a permanent error at the first open only: a camera that was there
    and vanishes later (unplugged) is still waited for.
    """

    def __init__(self, source: str, message: str, *, permanent: bool = False) -> None:
        # One line whatever GStreamer said, and never a password, whatever the URI's kind.
        self.source = redact(source)
        self.message = redact(" ".join(str(message).split()))
        self.permanent = permanent
        super().__init__(f"{self.source}: {self.message}")


class SourceOptions(BaseModel):
    """How to open a source; the config's `source:` section is this plus the URI and the
    reconnect backoff (app/config.py: SourceSettings). None means "the source's own default"."""

    model_config = ConfigDict(extra="forbid")

    width: int | None = Field(None, gt=0, description="capture width (cameras, test://)")
    height: int | None = Field(None, gt=0, description="capture height")
    fps: float | None = Field(None, ge=0, description="capture rate; pacing for files when realtime")
    flip: int = Field(0, ge=0, le=7, description="CSI nvvidconv flip-method")
    loop: bool = Field(False, description="restart files and image folders at the end")
    realtime: bool = Field(False, description="pace files and folders to their frame rate")
    timeout_s: float = Field(5.0, gt=0, description="no frame for this long = camera offline")
    latency_ms: int = Field(200, ge=0, description="rtsp jitter buffer")


class Source(ABC):
    """One kind of frame source. Subclasses implement `_read` and `_close`.

    `read()` returns an (H, W, 3) uint8 BGR frame, or None when a finite stream has ended;
    it raises SourceError when the source fails or no frame comes within `options.timeout_s`.
    """

    is_live: bool = False  # cameras and network streams are live; files and folders are not
    fps: float | None = None  # nominal frames per second, when the source knows it
    size: tuple[int, int] | None = None  # (width, height), when known before the first frame
    skipped: int = 0  # frames the source could not read and left out (unreadable images)

    def __init__(self, uri: str, name: str | None = None) -> None:
        self.uri = uri
        self.name = redact(name or uri)  # what logs and errors show (passwords removed)
        self._closed = False

    def read(self) -> np.ndarray | None:
        if self._closed:
            raise SourceError(self.name, "read() after close()")
        return self._read()

    def close(self) -> None:
        """Release everything the source holds. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    @abstractmethod
    def _read(self) -> np.ndarray | None: ...

    @abstractmethod
    def _close(self) -> None: ...

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Pacer:
    """Sleeps so that successive `wait()` calls are 1/fps apart; fps 0/None means no pacing."""

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next: float | None = None

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next is None:
            self._next = now
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)
        elif delay < -self.period:
            self._next = now  # fell behind (slow consumer): do not burst to catch up
        self._next += self.period


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Coerce what OpenCV hands back (gray, BGRA, 16-bit) into (H, W, 3) uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)
