"""Training on one's own data in VOC layout: real image files of mixed sizes, own classes given
by mask values, a tiny Unet trained for real. One class learns its background (it used to be
void, so a model predicting the class everywhere scored a perfect 1.0), validation batches images
of any size, and the logged validation mIoU agrees with `python -m training evaluate`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import history
from tests.training.shapes import SIZES, VOID, shapes_config, write_shapes

IOU_FLOOR = 0.7  # for the class and for background; a model answering one label scores < 0.5
# Validation scores the labels of images fitted to 64x96, evaluation those stretched back to the
# full image (up to 140x180 here): boundary pixels differ. On the same pixels they are equal.
AGREEMENT = 0.05
SAME_PIXELS = 1e-4


def fitted_copy(data: Path, out: Path) -> Path:
    """The val images and masks as validation sees them (fitted to 64x96), as lossless files."""
    import cv2

    from models.letterbox import scale_to_fit

    source, target = data / "VOCdevkit/VOC2012", out / "VOCdevkit/VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (target / sub).mkdir(parents=True)
    ids = (source / "ImageSets/Segmentation/val.txt").read_text()
    (target / "ImageSets/Segmentation/val.txt").write_text(ids)
    (target / "ImageSets/Segmentation/train.txt").write_text(ids)
    for name in ids.split():
        image = cv2.imread(str(source / "JPEGImages" / f"{name}.jpg"))
        mask = cv2.imread(str(source / "SegmentationClass" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(target / "JPEGImages" / f"{name}.png"), scale_to_fit(image, 64, 96))
        cv2.imwrite(str(target / "SegmentationClass" / f"{name}.png"),
                    scale_to_fit(mask, 64, 96, nearest=True))
    return out


def train_and_evaluate(base: Path, classes: list[str]) -> dict:
    from training.__main__ import main

    data = base / "data"
    write_shapes(data, land="land" in classes)
    config = shapes_config(data, base / "shapes.yaml", classes, epochs=4)
    run = base / "run"
    started = time.process_time()
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    cpu = time.process_time() - started
    scores_path = base / "scores.json"
    assert main(["evaluate", "--checkpoint", str(run / "best.weights.h5"), "--split", "val",
                 "--json", str(scores_path)]) == 0
    fitted = base / "fitted.json"
    assert main(["evaluate", "--checkpoint", str(run / "best.weights.h5"), "--config",
                 str(config), "--data", str(fitted_copy(data, base / "fitted")), "--split",
                 "val", "--json", str(fitted)]) == 0
    rows = history(run)
    best = min(rows, key=lambda row: row["val_loss"])  # best.weights.h5 is that epoch's
    result = {"scores": json.loads(scores_path.read_text()),
              "fitted": json.loads(fitted.read_text())}
    print(f"{classes}: trained in {cpu:.0f} s of CPU; logged val_miou {best['val_miou']:.6f}, "
          f"evaluate {result['scores']['miou']:.6f} (full size), "
          f"{result['fitted']['miou']:.6f} (fitted); IoU {result['scores']['iou']}")
    return {"data": data, "run": run, "config": config, "best": best, "rows": rows,
            **result}


@pytest.fixture(scope="module")
def one_class(tmp_path_factory):
    return train_and_evaluate(tmp_path_factory.mktemp("one"), ["water"])


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    return train_and_evaluate(tmp_path_factory.mktemp("two"), ["water", "land"])


def test_mixed_sizes_in_voc_layout_with_own_classes(one_class):
    ids = (one_class["data"] / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").read_text()
    assert len(ids.split()) == 8 and len(SIZES) > 4  # validation batches of 4 mixed sizes
    assert one_class["scores"]["samples"] == 8


def test_one_class_learns_the_class_and_its_background(one_class):
    scores = one_class["scores"]
    assert scores["classes"] == ["background", "water"]
    iou = dict(zip(scores["classes"], scores["iou"], strict=True))
    assert iou["water"] > IOU_FLOOR and iou["background"] > IOU_FLOOR, iou
    assert abs(one_class["best"]["val_miou"] - scores["miou"]) < AGREEMENT
    assert abs(one_class["best"]["val_miou"] - one_class["fitted"]["miou"]) < SAME_PIXELS
    assert one_class["rows"][0]["val_miou"] < 1.0  # no perfect score from the first epoch


def test_two_classes_learn_and_agree_with_evaluate(two_classes):
    scores = two_classes["scores"]
    assert scores["classes"] == ["water", "land", "background"]
    assert min(scores["iou"]) > IOU_FLOOR, scores["iou"]
    assert abs(two_classes["best"]["val_miou"] - scores["miou"]) < AGREEMENT
    assert abs(two_classes["best"]["val_miou"] - two_classes["fitted"]["miou"]) < SAME_PIXELS


def test_void_pixels_are_not_scored_and_background_pixels_are(one_class):
    """Every non-void pixel of the val masks is scored (background included), no void one."""
    import cv2

    voc = one_class["data"] / "VOCdevkit/VOC2012"
    ids = (voc / "ImageSets/Segmentation/val.txt").read_text().split()
    masks = [cv2.imread(str(voc / "SegmentationClass" / f"{i}.png"), cv2.IMREAD_UNCHANGED)
             for i in ids]
    pixels = dict(zip(one_class["scores"]["classes"], one_class["scores"]["pixels"], strict=True))
    assert pixels["background"] == sum(int((m == 0).sum()) for m in masks)
    assert pixels["water"] == sum(int((m == 1).sum()) for m in masks)
    assert sum(int((m == VOID).sum()) for m in masks) > 0


def test_a_model_answering_the_class_everywhere_scores_low(one_class):
    from training.config import load_config
    from training.datasets import open_dataset
    from training.evaluate import evaluate

    config = load_config(one_class["config"])
    dataset = open_dataset(config.data, "val")
    everywhere = evaluate(dataset, lambda image: np.ones(image.shape[:2], np.int64),
                          config.label_names)
    assert everywhere.miou < 0.3 and everywhere.iou[0] == 0.0


def test_evaluating_held_out_groups(one_class, tmp_path, capsys):
    """Groups from a file: validation on group 'b' taken out of train; evaluate --split heldout."""
    import yaml

    from training.__main__ import main
    from training.config import load_config
    from training.datasets import open_dataset

    data = one_class["data"]
    train_ids = (data / "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt").read_text().split()
    (data / "groups.txt").write_text("".join(f"{name} {'ab'[i % 2]}\n"
                                             for i, name in enumerate(train_ids)))
    raw = yaml.safe_load(one_class["config"].read_text())
    raw["data"].update(val_groups=["b"], groups_file="groups.txt")
    grouped = tmp_path / "grouped.yaml"
    grouped.write_text(yaml.safe_dump(raw))
    config = load_config(grouped)
    held, kept = open_dataset(config.data, "heldout"), open_dataset(config.data, "train")
    assert held.names == train_ids[1::2] and kept.names == train_ids[0::2]
    out = tmp_path / "heldout.json"
    assert main(["evaluate", "--checkpoint", str(one_class["run"] / "best.weights.h5"),
                 "--config", str(grouped), "--split", "heldout", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["samples"] == len(train_ids) // 2
    capsys.readouterr()


def test_a_data_error_during_an_epoch_is_one_line(one_class, tmp_path):
    """A file that goes bad after the checks: the loader's error, not TensorFlow's traceback."""
    import shutil

    from training.checks import preflight
    from training.config import load_config
    from training.datasets.common import DatasetError
    from training.train import train

    shutil.copytree(one_class["data"], tmp_path / "data")
    config = load_config(one_class["config"], {"data.root": str(tmp_path / "data"),
                                               "train.epochs": 1, "data.cache": False})
    datasets = preflight(config)
    broken = datasets[0].image_path(5)
    broken.write_bytes(b"not a jpeg any more")
    with pytest.raises(DatasetError) as error:
        train(config, tmp_path / "run", datasets=datasets)
    assert str(error.value) == f"cannot read image (corrupt or unsupported format): {broken}"
