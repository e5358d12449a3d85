"""Evaluation the way the SegNet paper reports CamVid: one confusion matrix over the whole split.

Per-class IoU = TP / (TP + FP + FN), mIoU = mean over classes that occur in the split's ground
truth, global accuracy = correct / labelled pixels, class-average accuracy = mean per-class recall.
Void pixels (and padding) are left out of the matrix entirely.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.labels import VOID


def confusion_matrix(truth: np.ndarray, prediction: np.ndarray, n: int) -> np.ndarray:
    """(n, n) int64 counts, rows = truth, columns = prediction; truth outside 0..n-1 is ignored."""
    truth = truth.reshape(-1).astype(np.int64)
    prediction = prediction.reshape(-1).astype(np.int64)
    keep = (truth >= 0) & (truth < n)
    return np.bincount(n * truth[keep] + prediction[keep], minlength=n * n).reshape(n, n)


@dataclass
class Scores:
    classes: list[str]
    iou: list[float | None]  # None: class absent from the ground truth and never predicted
    accuracy: list[float | None]
    pixels: list[int]
    miou: float
    global_accuracy: float
    class_average_accuracy: float
    scored_classes: list[str]

    def table(self) -> str:
        lines = [f"{'class':<14}{'IoU':>8}{'acc':>8}{'pixels':>12}"]
        for name, iou, acc, px in zip(self.classes, self.iou, self.accuracy, self.pixels, strict=True):
            iou_s = "-" if iou is None else f"{100 * iou:.1f}"
            acc_s = "-" if acc is None else f"{100 * acc:.1f}"
            lines.append(f"{name:<14}{iou_s:>8}{acc_s:>8}{px:>12}")
        lines.append(f"{'mIoU':<14}{100 * self.miou:>8.1f}")
        lines.append(f"{'global acc':<14}{100 * self.global_accuracy:>8.1f}")
        lines.append(f"{'class acc':<14}{100 * self.class_average_accuracy:>8.1f}")
        return "\n".join(lines)


def scores_from_confusion(matrix: np.ndarray, classes: Sequence[str]) -> Scores:
    matrix = matrix.astype(np.float64)
    tp = np.diag(matrix)
    truth = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    union = truth + predicted - tp
    occurs = truth > 0  # the paper's mean runs over the classes of the test set
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    accuracy = np.where(occurs, tp / np.maximum(truth, 1), np.nan)
    labelled = matrix.sum()
    return Scores(
        classes=list(classes),
        iou=[None if np.isnan(v) else float(v) for v in iou],
        accuracy=[None if np.isnan(v) else float(v) for v in accuracy],
        pixels=[int(v) for v in truth],
        miou=float(np.mean(iou[occurs])) if occurs.any() else 0.0,
        global_accuracy=float(tp.sum() / labelled) if labelled else 0.0,
        class_average_accuracy=float(np.mean(accuracy[occurs])) if occurs.any() else 0.0,
        scored_classes=[c for c, o in zip(classes, occurs, strict=True) if o],
    )


def truth_labels(dataset, index_mask: np.ndarray) -> np.ndarray:
    """Index mask -> label values (models.labels), void as -1 (from the data set's label map)."""
    labels = dataset.labels(index_mask).astype(np.int64)
    labels[labels == VOID] = -1
    return labels


Predict = Callable[[np.ndarray], np.ndarray]  # RGB uint8 (H,W,3) -> labels (H,W)


def evaluate(dataset, predict: Predict, classes: Sequence[str], grid_path: Path | None = None,
             grid_samples: int = 4, palette: np.ndarray | None = None,
             progress: Callable[[int, int], None] | None = None) -> Scores:
    """Run `predict` over the data set, accumulate one confusion matrix, score it."""
    n = len(classes)
    matrix = np.zeros((n, n), dtype=np.int64)
    rows = []
    for i in range(len(dataset)):
        image, mask = dataset.sample_indices(i)
        truth = truth_labels(dataset, mask)
        prediction = predict(image)
        if prediction.shape != truth.shape:
            raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ")
        matrix += confusion_matrix(truth, prediction, n)
        if grid_path is not None and i < grid_samples:
            rows.append((image, truth, prediction))
        if progress:
            progress(i + 1, len(dataset))
    if grid_path is not None and rows:
        from training.grid import save_prediction_grid

        save_prediction_grid(rows, grid_path, palette)
    return scores_from_confusion(matrix, classes)


def write_json(scores: Scores, path: Path, extra: dict | None = None) -> None:
    path.write_text(json.dumps({**asdict(scores), **(extra or {})}, indent=2))
