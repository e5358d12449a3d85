"""What `segcam predict` reads: SOURCE arguments (files, folders, globs) -> images and clips,
and their frames. An input that cannot be read is reported, never fatal: the rest go on."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# A folder contributes only these (it may hold anything else too); a file named outright is a
# clip when its suffix says so and an image otherwise.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                            ".ppm", ".pgm", ".pnm"})
CLIP_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg",
                           ".ts", ".mts"})


class InputError(ValueError):
    """A SOURCE argument that names nothing to read; one line naming it."""


class Unreadable(Exception):  # noqa: N818 - an outcome, reported per input
    """One input that cannot be read (the message names why); the others are still processed."""


@dataclass(frozen=True)
class Item:
    path: Path
    clip: bool
    name: str  # the output files' prefix, unique in the run

    @property
    def kind(self) -> str:
        return "clip" if self.clip else "image"


@dataclass(frozen=True)
class Picture:
    """One image, or one frame of a clip (`index` from 1), ready to segment."""

    item: Item
    index: int | None
    image: np.ndarray  # (H, W, 3) uint8 BGR

    @property
    def name(self) -> str:
        return self.item.name if self.index is None else f"{self.item.name}_{self.index:06d}"


def expand(sources: list[str]) -> list[Item]:
    """Every file the arguments name, in order, each once; InputError for one that names
    nothing (a missing path, an empty folder, a glob without matches)."""
    paths: list[Path] = []
    for source in sources:
        if not source.strip():
            raise InputError("SOURCE: empty value")
        path = Path(source).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | CLIP_SUFFIXES)
            if not found:
                raise InputError(f"{source}: no images or clips in this folder")
            paths += found
        elif path.is_file():
            paths.append(path)
        elif any(c in source for c in "*?["):  # a pattern the shell left unexpanded
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True)
                           if Path(p).is_file())
            if not found:
                raise InputError(f"{source}: no file matches")
            paths += found
        else:
            raise InputError(f"{source}: no such file or folder")
    return _named(list(dict.fromkeys(p.resolve() for p in paths)))


def _named(paths: list[Path]) -> list[Item]:
    """Output prefixes from the file names; a name seen before gets -2, -3, ..."""
    items, used = [], set()
    for path in paths:
        name, n = path.stem, 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}"
        used.add(name)
        items.append(Item(path, path.suffix.lower() in CLIP_SUFFIXES, name))
    return items


def frame_count(item: Item, max_frames: int | None) -> int:
    """How many pictures the item should give (for the progress bar; a clip's count is the
    container's estimate, and 0 when it does not say)."""
    if not item.clip:
        return 1
    capture = cv2.VideoCapture(str(item.path))
    try:
        count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))) if capture.isOpened() else 0
    finally:
        capture.release()
    return min(count, max_frames) if max_frames else count


def pictures(item: Item, max_frames: int | None = None) -> Iterator[Picture]:
    """The image, or the clip's frames in order (at most `max_frames`); Unreadable when the
    file cannot be decoded at all."""
    if not item.clip:
        yield Picture(item, None, read_image(item.path))
        return
    capture = cv2.VideoCapture(str(item.path))
    try:
        if not capture.isOpened():
            raise Unreadable(f"{item.path}: cannot open as a video")
        index = 0
        while max_frames is None or index < max_frames:
            ok, image = capture.read()
            if not ok:
                break
            index += 1
            yield Picture(item, index, image)
        if index == 0:
            raise Unreadable(f"{item.path}: no frame could be decoded")
    finally:
        capture.release()


def read_image(path: Path) -> np.ndarray:
    """BGR uint8, as cv2.imread reads it (EXIF orientation applied, grey and 16-bit made 8-bit
    BGR); decoded from bytes so a bad file is one Unreadable, without OpenCV's own warning."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise Unreadable(f"{path}: {error.strerror or error}") from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise Unreadable(f"{path}: not an image OpenCV can decode")
    return image
