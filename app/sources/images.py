"""A folder, a glob or a single image file, played as a stream in name order."""

from __future__ import annotations

import glob
import logging
import math
import os
import re
import threading
import time

import cv2
import numpy as np

from app.sources.base import Pacer, Source, SourceError, SourceOptions, to_bgr

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_FPS = 15.0  # pacing rate when realtime is on and no fps is given
WARN_EVERY_S = 1.0  # at most one "cannot read image" line per second; the rest are counted


def is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def is_image_file(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def natural_key(path: str) -> list[object]:
    """frame2.png sorts before frame10.png; zero-padded names sort as plain text would."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def list_images(pattern: str) -> list[str]:
    """The files a folder (image extensions only), a glob or a single file stands for."""
    if os.path.isdir(pattern):
        names = (os.path.join(pattern, n) for n in os.listdir(pattern))
        files = [p for p in names if is_image_file(p) and os.path.isfile(p)]
    elif is_glob(pattern):
        files = [p for p in glob.glob(pattern) if os.path.isfile(p)]
    else:
        files = [pattern] if os.path.isfile(pattern) else []
    return sorted(files, key=natural_key)


class ImageFolderSource(Source):
    is_live = False

    def __init__(self, uri: str, pattern: str, options: SourceOptions) -> None:
        super().__init__(uri)
        if not is_glob(pattern) and not os.path.exists(pattern):
            raise SourceError(uri, f"no such folder or image: {pattern}", permanent=True)
        self.files = list_images(pattern)
        if not self.files:
            what = "folder" if os.path.isdir(pattern) else "glob"
            raise SourceError(uri, f"no images in {what} {pattern} (extensions: "
                              f"{' '.join(IMAGE_EXTENSIONS)})", permanent=True)
        self.loop = options.loop
        fps = options.fps if options.fps is not None else DEFAULT_FPS
        self._pacer = Pacer(fps if options.realtime else None)
        self._next = 0
        self._decoded_this_pass = 0  # a whole pass without one is the end: nothing is readable
        self._warned: set[str] = set()
        self._warned_at = -math.inf
        self._unwarned = 0  # files skipped without a line of their own (rate limit)
        self._lock = threading.Lock()
        log.info("opened %s (%d images%s)", pattern, len(self.files), ", loop" if self.loop else "")

    def _read(self) -> np.ndarray | None:
        while True:
            with self._lock:
                if self._next >= len(self.files):
                    if self._decoded_this_pass == 0:
                        raise self._nothing_readable()
                    if not self.loop:
                        return None
                    self._next = self._decoded_this_pass = 0
                path = self.files[self._next]
                self._next += 1
            # IMREAD_COLOR turns gray, palette, 16-bit and alpha images into 8-bit BGR.
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                self._skip(path)  # one damaged file must not end a folder of good ones
                continue
            self._decoded_this_pass += 1
            self._pacer.wait()
            return to_bgr(image)

    def _skip(self, path: str) -> None:
        """Count the file; warn once per file, and at most one line per WARN_EVERY_S."""
        self.skipped += 1
        if path in self._warned:
            return
        self._warned.add(path)
        now = time.monotonic()
        if now - self._warned_at < WARN_EVERY_S:
            self._unwarned += 1
            return
        more = f" ({self._unwarned} more since the last warning)" if self._unwarned else ""
        log.warning("%s: cannot read image %s; skipped%s", self.name, path, more)
        self._warned_at, self._unwarned = now, 0

    def _nothing_readable(self) -> SourceError:
        first, others = self.files[0], len(self.files) - 1
        rest = f" nor any of the other {others}" if others else ""
        return SourceError(self.name, f"cannot read image {first}{rest} (not images, or damaged)",
                           permanent=True)

    def _close(self) -> None:
        pass  # nothing is held open between reads
