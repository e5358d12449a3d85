"""A folder, a glob or a single image file, played as a stream in name order."""

from __future__ import annotations

import glob
import logging
import os
import re
import threading

import cv2
import numpy as np

from app.sources.base import Pacer, Source, SourceError, SourceOptions, to_bgr

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_FPS = 15.0  # pacing rate when realtime is on and no fps is given


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
            raise SourceError(uri, f"no such folder or image: {pattern}")
        self.files = list_images(pattern)
        if not self.files:
            what = "folder" if os.path.isdir(pattern) else "glob"
            raise SourceError(uri, f"no images in {what} {pattern} (extensions: {' '.join(IMAGE_EXTENSIONS)})")
        self.loop = options.loop
        fps = options.fps if options.fps is not None else DEFAULT_FPS
        self._pacer = Pacer(fps if options.realtime else None)
        self._next = 0
        self._lock = threading.Lock()
        log.info("opened %s (%d images%s)", pattern, len(self.files), ", loop" if self.loop else "")

    def _read(self) -> np.ndarray | None:
        with self._lock:
            if self._next >= len(self.files):
                if not self.loop:
                    return None
                self._next = 0
            path = self.files[self._next]
            self._next += 1
        self._pacer.wait()
        # IMREAD_COLOR turns gray, palette, 16-bit and alpha images into 8-bit BGR.
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(self.name, f"cannot read image {path}")
        return to_bgr(image)

    def _close(self) -> None:
        pass  # nothing is held open between reads
