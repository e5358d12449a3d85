"""test:// - a synthetic moving pattern, so the whole app runs without a camera."""

from __future__ import annotations

import logging

import numpy as np

from app.sources.base import Pacer, Source, SourceError, SourceOptions

log = logging.getLogger(__name__)

PATTERNS = ("bars", "checker")
DEFAULT_SIZE = (640, 480)
DEFAULT_FPS = 30.0
SPEED = 4  # pixels per frame: visible motion at any size

# White, yellow, cyan, green, magenta, red, blue, black (BGR): the classic colour bars.
_BARS = np.array(
    [[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0],
     [255, 0, 255], [0, 0, 255], [255, 0, 0], [0, 0, 0]],
    dtype=np.uint8,
)


class TestPatternSource(Source):
    """Deterministic frames: frame i depends only on i, so tests can check what they get."""

    __test__ = False  # not a pytest class, whatever its name says
    is_live = True

    def __init__(self, uri: str, options: SourceOptions, pattern: str = "bars") -> None:
        super().__init__(uri)
        if pattern not in PATTERNS:
            raise SourceError(uri, f"unknown pattern {pattern!r} (choose from "
                              f"{', '.join(PATTERNS)})", permanent=True)
        self.width = options.width or DEFAULT_SIZE[0]
        self.height = options.height or DEFAULT_SIZE[1]
        self.fps = DEFAULT_FPS if options.fps is None else options.fps
        self.pattern = pattern
        self._index = 0
        self._pacer = Pacer(self.fps)
        # One period of the pattern, twice as wide, so every frame is a slice of it.
        self._strip = _make_strip(pattern, self.width, self.height)
        log.info("opened %s (%s %dx%d @ %s fps)", uri, pattern, self.width, self.height,
                 self.fps or "unpaced")

    def _read(self) -> np.ndarray | None:
        self._pacer.wait()
        i = self._index
        self._index += 1
        if self.pattern == "checker":
            # Diagonal motion: shift both axes.
            shift = (i * SPEED) % 64
            rows = self._strip[shift: shift + self.height]
            return np.ascontiguousarray(rows[:, shift: shift + self.width])
        shift = (i * SPEED) % self.width
        return np.ascontiguousarray(self._strip[:, shift: shift + self.width])

    def _close(self) -> None:
        self._strip = np.empty((0, 0, 3), np.uint8)


def _make_strip(pattern: str, width: int, height: int) -> np.ndarray:
    if pattern == "checker":
        cell = 32  # shifts wrap every 2 cells, so a 64-pixel margin is enough
        y = np.arange(height + 2 * cell)[:, None] // cell
        x = np.arange(width + 2 * cell)[None, :] // cell
        board = ((x + y) % 2 * 255).astype(np.uint8)
        return np.repeat(board[:, :, None], 3, axis=2)
    columns = np.arange(2 * width) % width * len(_BARS) // width
    return np.ascontiguousarray(np.broadcast_to(_BARS[columns][None], (height, 2 * width, 3)))
