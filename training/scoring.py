"""Several engines scored on one labelled split in one pass, as `python -m training evaluate
--bundle` scores one: the same data set, letterbox, confusion matrix and scores (it calls them).

Every image goes through every engine before the next image (so the converter's int8 check and
the benchmark decode each image once), and each engine's labels are also compared pixel by pixel
with a reference engine's. No TensorFlow here: the benchmark runs on runtime-only machines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from models.bundle import Bundle
from models.engines import Engine
from training.evaluate import Scores, confusion_matrix, scores_from_confusion, truth_labels
from training.evaluate_cli import _config_for, _config_for_bundle, engine_predictor


@dataclass(frozen=True)
class Split:
    dataset: Any  # sample_indices(i) -> (RGB image, index mask); encode(mask)
    classes: list[str]
    root: str
    name: str

    def __len__(self) -> int:
        return len(self.dataset)

    def describe(self) -> dict[str, Any]:
        return {"data": self.root, "split": self.name, "samples": len(self)}


def open_split(data: str | None, split: str, config: str | None = None,
               bundle: Bundle | None = None) -> Split:
    """The split a bundle is scored on: `config`'s data set (root replaced by `data`), else the
    bundle's provenance data set at `data`, as `python -m training evaluate --bundle` finds it."""
    from training.datasets import open_dataset

    root = str(Path(data).resolve()) if data else None
    args = SimpleNamespace(config=config, data=root, checkpoint=None)
    if config is None and bundle is None:
        raise ValueError("open_split needs a config or a bundle")
    settings = _config_for(args) if config else _config_for_bundle(args, bundle)
    # every data set gives labels by the label rule (one class: 0 background, 1 the class), as
    # `evaluate --bundle` scores them: no wrapper for one class
    return Split(open_dataset(settings.data, split), settings.label_names, settings.data.root,
                 split)


@dataclass
class SplitScore:
    scores: Scores
    agreement: float | None  # share of the split's pixels labelled as the reference labels them


def score_engines(split: Split, engines: Mapping[str, Engine], reference: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, SplitScore]:
    """Scores of each engine on the whole split; `reference` names the engine to agree with."""
    n = len(split.classes)
    predictors = {key: engine_predictor(engine) for key, engine in engines.items()}
    matrices = {key: np.zeros((n, n), np.int64) for key in engines}
    same = dict.fromkeys(engines, 0)
    pixels = 0
    for i in range(len(split)):
        image, mask = split.dataset.sample_indices(i)
        truth = truth_labels(split.dataset, mask)
        labels = {}
        for key, predict in predictors.items():
            labels[key] = predict(image)
            if labels[key].shape != truth.shape:
                raise ValueError(f"prediction {labels[key].shape} and truth {truth.shape} differ")
            matrices[key] += confusion_matrix(truth, labels[key], n)
        if reference is not None:
            for key in engines:
                same[key] += int(np.count_nonzero(labels[key] == labels[reference]))
        pixels += truth.size
        if progress:
            progress(i + 1, len(split))
    return {key: SplitScore(scores_from_confusion(matrices[key], split.classes),
                            same[key] / pixels if reference is not None and pixels else None)
            for key in engines}
