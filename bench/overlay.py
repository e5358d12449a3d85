"""Renderer overlay vs a straightforward per-class masking loop, measured side by side.

    .venv/bin/python bench/overlay.py [--repeats N]

Both paths get the same frame and the same nearest-neighbour-resized labels (12 classes, class 0
hidden); their outputs are compared (off-by-one allowed: the loop truncates, OpenCV rounds).
Times are the median (and best) of several rounds: a busy machine inflates both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.render import Renderer  # noqa: E402
from models.palette import voc_palette  # noqa: E402

NUM_CLASSES = 12
ALPHA = 0.5


def make_inputs(
    frame: tuple[int, int], label_size: tuple[int, int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy frame and blobby labels (like a real segmentation, not per-pixel noise)."""
    rng = np.random.default_rng(seed)
    width, height = frame
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    coarse = rng.integers(0, NUM_CLASSES, (label_size[1] // 16, label_size[0] // 16), np.uint8)
    labels = cv2.resize(coarse, label_size, interpolation=cv2.INTER_NEAREST)
    return image, labels


def loop_overlay(image: np.ndarray, labels: np.ndarray, palette_rgb: np.ndarray) -> np.ndarray:
    """The obvious version: resize labels, then one boolean mask per class."""
    height, width = image.shape[:2]
    labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    out = image.copy()
    for c in range(1, NUM_CLASSES):  # class 0 is hidden, as in the renderer
        m = labels == c
        colour = palette_rgb[c][::-1].astype(np.float64)
        out[m] = (1 - ALPHA) * image[m] + ALPHA * colour
    return out


def time_ms(fn: Callable[[], object], rounds: int, per_round: int) -> tuple[float, float]:
    """(median, best) ms per call over `rounds` rounds: the median is what a busy machine
    gives, the best is close to the cost on an idle one."""
    fn()  # warm up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        samples.append((time.perf_counter() - start) / per_round * 1000)
    return statistics.median(samples), min(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timing rounds per case")
    parser.add_argument("--threads", type=int, help="cv2.setNumThreads (default: OpenCV's)")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    palette = voc_palette(NUM_CLASSES)
    renderer = Renderer(palette, alpha=ALPHA, hidden=[0], hud=False)
    hud_renderer = Renderer(palette, alpha=ALPHA, hidden=[0], legend=True, hud=True)
    cases = [
        ((640, 480), (480, 384)),
        ((640, 480), (640, 480)),
        ((1280, 720), (480, 384)),
        ((1280, 720), (1280, 720)),
    ]
    print(f"cv2 {cv2.__version__}, numpy {np.__version__}, cv2 threads {cv2.getNumThreads()}")
    print("ms per frame, median (best) of the rounds; ratio = loop median / renderer median")
    print(f"{'frame':<9} {'labels':<8} {'loop ms':>15} {'renderer ms':>13} {'ratio':>6} "
          f"{'+legend+hud ms':>15} {'max diff':>8}")
    ok = True
    for frame, label_size in cases:
        image, labels = make_inputs(frame, label_size)
        expected = loop_overlay(image, labels, palette)
        got = renderer.annotate(image, labels)
        diff = int(np.abs(expected.astype(np.int16) - got.astype(np.int16)).max())
        ok &= diff <= 1
        loop = time_ms(lambda: loop_overlay(image, labels, palette), args.repeats, 3)  # noqa: B023
        fast = time_ms(lambda: renderer.annotate(image, labels), args.repeats, 20)  # noqa: B023
        full = time_ms(
            lambda: hud_renderer.annotate(image, labels, "15.0 FPS 60 ms"),  # noqa: B023
            args.repeats,
            20,
        )
        print(f"{frame[0]}x{frame[1]:<4} {label_size[0]}x{label_size[1]:<4} "
              f"{loop[0]:7.2f} ({loop[1]:6.2f}) {fast[0]:5.2f} ({fast[1]:5.2f}) "
              f"{loop[0] / fast[0]:5.1f}x {full[0]:6.2f} ({full[1]:5.2f}) {diff:8d}")
    if not ok:
        print("MISMATCH: renderer output differs from the loop by more than 1")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
