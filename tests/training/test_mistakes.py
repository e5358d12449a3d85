"""A user's mistakes in their own data are one line and exit 2 before training starts (no
TensorFlow is loaded: each command here returns in seconds); doubtful data gets one warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.training.shapes import shapes_config, write_shapes

ROOT = Path(__file__).resolve().parents[2]


def run_training(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def one_line_exit_2(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    error = result.stderr.strip()
    assert error.count("\n") == 0 and error.startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in expected:
        assert text in error, error
    return error


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(root / "data")
    return root


def config_with(shapes: Path, name: str, data: dict | None = None, train: dict | None = None,
                remove: tuple[str, ...] = ()) -> Path:
    raw = yaml.safe_load(shapes_config(shapes / "data", shapes / f"{name}.yaml",
                                       ["water"]).read_text())
    raw["data"].update(data or {})
    raw["train"].update(train or {})
    for key in remove:
        raw["data"].pop(key)
    path = shapes / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def train(config: Path, out: Path) -> subprocess.CompletedProcess:
    result = run_training("train", "--config", str(config), "--out", str(out))
    assert not (out / "state").exists() and not (out / "history.csv").exists()
    return result


def test_a_crop_off_the_stride(shapes, tmp_path):
    config = config_with(shapes, "crop", train={"augment": {"crop": [100, 100]}})
    one_line_exit_2(train(config, tmp_path / "r"), "train.augment.crop: crop 100x100",
                    "multiples of 32, e.g. 128x128")


def test_an_image_and_mask_of_other_sizes_deep_in_the_split(shapes, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(shapes / "data", data)
    voc = data / "VOCdevkit/VOC2012"
    last = (voc / "ImageSets/Segmentation/train.txt").read_text().split()[-1]
    mask = cv2.imread(str(voc / "SegmentationClass" / f"{last}.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(voc / "SegmentationClass" / f"{last}.png"), mask[:-3])
    config = config_with(shapes, "sizes", data={"root": str(data)})
    one_line_exit_2(train(config, tmp_path / "r"), "image and mask sizes differ",
                    f"{last}.jpg", f"{last}.png")


def test_a_class_value_no_mask_holds(shapes, tmp_path):
    raw = yaml.safe_load(shapes_config(shapes / "data", tmp_path / "c.yaml",
                                       ["water", "land"]).read_text())
    raw["data"]["values"] = [0, 2]  # the masks hold 0, 1 and 255
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(raw))
    one_line_exit_2(train(path, tmp_path / "r"), "data.values: no mask of the 24 sampled",
                    "holds 2 (class 'land')", "the masks hold 0, 1, 255")


def test_own_classes_in_voc_layout_need_values_or_colours(shapes, tmp_path):
    config = config_with(shapes, "novalues", remove=("values",))
    one_line_exit_2(train(config, tmp_path / "r"), "data.classes: 'water' is no VOC class",
                    "data.values")


def test_a_named_split_file_that_is_missing(shapes, tmp_path):
    config = config_with(shapes, "split", data={"val_split": "valid"})
    one_line_exit_2(train(config, tmp_path / "r"), "data.val_split: valid: no split file",
                    "ImageSets/Segmentation/valid.txt")


def test_train_and_val_that_overlap(shapes, tmp_path):
    config = config_with(shapes, "overlap", data={"val_split": "train"})
    one_line_exit_2(train(config, tmp_path / "r"), "24 of the 24 validation images are "
                                                   "training images too")


def test_an_unknown_key_lists_the_valid_ones(shapes, tmp_path):
    config = config_with(shapes, "key", data={"images": "JPEGImages"})
    one_line_exit_2(train(config, tmp_path / "r"), "data.images: unknown key (valid: dataset, "
                                                   "root, classes,", "images_dir, masks_dir")


def test_scores_json_into_a_missing_folder_fails_first(shapes, tmp_path):
    config = config_with(shapes, "eval")
    result = run_training("evaluate", "--checkpoint", str(tmp_path / "none.weights.h5"),
                          "--config", str(config), "--json", str(tmp_path / "no/scores.json"))
    one_line_exit_2(result, f"--json: {tmp_path / 'no/scores.json'}: folder",
                    "does not exist")


def test_small_images_and_large_crops_are_warned_about(shapes, tmp_path):
    config = config_with(shapes, "warn", data={"input_size": [256, 320]},
                         train={"augment": {"crop": [320, 320]}})
    result = run_training("config", str(config))  # the checks training runs first, alone
    assert result.returncode == 0, result.stderr
    assert ("scaled up more than 2x to fit data.input_size 256x320 (height x width; smallest "
            "50x50") in result.stdout
    assert "crop 320x320 is larger than data.input_size 256x320" in result.stdout


def test_a_folder_without_split_files_refuses_to_validate_on_its_training_images(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(4):
        cv2.imwrite(str(tmp_path / "images" / f"{i}.png"), np.full((40, 50, 3), 9, np.uint8))
        cv2.imwrite(str(tmp_path / "masks" / f"{i}.png"), np.eye(40, 50, dtype=np.uint8))
    config = tmp_path / "folder.yaml"
    config.write_text(yaml.safe_dump({"data": {"dataset": "folder", "root": str(tmp_path),
                                               "classes": ["line"]},
                                      "train": {"batch_size": 2}}))
    one_line_exit_2(run_training("config", str(config)),
                    "4 of the 4 validation images are training images too")
    (tmp_path / "train.txt").write_text("0\n1\n2\n")
    (tmp_path / "val.txt").write_text("3\n")
    assert run_training("config", str(config)).returncode == 0
    raw = yaml.safe_load(config.read_text())
    raw["data"]["train_split"] = "training"  # named, so it must be found
    config.write_text(yaml.safe_dump(raw))
    one_line_exit_2(run_training("config", str(config)),
                    f"data.train_split: training: no split file {tmp_path / 'training.txt'}")


def test_the_reference_names_every_key(capsys):
    from training.config import Config
    from training.reference import explain

    text = explain()

    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            annotation = field.annotation
            inner = getattr(annotation, "__args__", (None,))[0]
            nested = next((m for m in (annotation, inner) if isinstance(m, type)
                           and issubclass(m, Config.__mro__[1])), None)
            if nested is not None:
                yield from walk(nested, f"{prefix}{name}{'[]' if nested is inner else ''}.")
            else:
                yield f"{prefix}{name}", field.description

    keys = list(walk(Config))
    assert len(keys) > 40
    for key, description in keys:
        assert f"  {key} (" in text, key
        assert description, f"{key} has no description"
    result = run_training("config", "--explain")
    assert result.returncode == 0 and result.stdout == text


@pytest.mark.parametrize("folder, year", [("VOCdevkit/VOC2007", None), ("WaterBodies", "WaterBodies"),
                                          (".", None)])
def test_any_voc_folder_and_split_file(tmp_path, folder, year):
    from training.config import load_config
    from training.datasets import open_dataset

    voc = write_shapes(tmp_path / "data", n_train=6, n_val=2, folder=folder)
    (voc / "mine.txt").write_text("img_000\nimg_002\n")
    config = shapes_config(tmp_path / "data", tmp_path / "c.yaml", ["water"])
    raw = yaml.safe_load(config.read_text())
    raw["data"].update(year=year, train_split="mine.txt", check_samples=2)
    raw["train"]["batch_size"] = 2
    config.write_text(yaml.safe_dump(raw))
    assert run_training("config", str(config)).returncode == 0
    assert open_dataset(load_config(config).data, "mine.txt").names == ["img_000", "img_002"]
