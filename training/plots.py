"""Plots of a run: loss and IoU curves from history.csv."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

from training.history import read_history  # noqa: E402


def plot_history(csv_path: Path, png_path: Path) -> None:
    rows = read_history(Path(csv_path))
    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric, title in ((axes[0], "loss", "loss"), (axes[1], "iou_score", "IoU (0.5)")):
        for prefix, label in (("", "train"), ("val_", "val")):
            key = prefix + metric
            points = [(e, r[key]) for e, r in zip(epochs, rows, strict=True) if key in r]
            if points:  # a metric may start part-way (a column added on resume)
                axis.plot(*zip(*points, strict=True), label=label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    tmp = Path(png_path).with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(png_path)
