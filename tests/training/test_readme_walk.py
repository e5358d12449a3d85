"""The README's "Train on your own images" walk, as a user types it (`segcam` subprocesses):
generated images and masks in a folder, the README's own config (made tiny), config check,
train, evaluate, convert, the app on the photos, predict, and evaluating the bundle with only
--data (its provenance knows `images_dir`)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import yaml
from testkit import run_segcam

from tests.training.shapes import write_shapes

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = run_segcam(*args, timeout=timeout)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result


def readme_config() -> dict:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Train on your own images", 1)[1]
    block = re.search(r"`water\.yaml`:\n\n((?:    .*\n)+)", section).group(1)
    return yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))


def own_folder(root: Path) -> Path:
    """photos/ and masks/ (0 land, 1 water, 255 void) with train.txt and val.txt."""
    voc = write_shapes(root / "generated", n_train=12, n_val=4)
    (root / "photos").mkdir()
    (root / "masks").mkdir()
    for image in (voc / "JPEGImages").iterdir():
        image.rename(root / "photos" / image.name)
        (voc / "SegmentationClass" / f"{image.stem}.png").rename(root / "masks" / f"{image.stem}.png")
    for split in ("train", "val"):
        (voc / "ImageSets/Segmentation" / f"{split}.txt").rename(root / f"{split}.txt")
    return root


def test_from_images_and_masks_to_the_app(tmp_path: Path) -> None:
    data = own_folder(tmp_path / "water")
    config = readme_config()
    assert config["data"]["images_dir"] == "photos" and config["data"]["classes"] == ["water"]
    config["data"].update(root=str(data), input_size=[64, 96])  # tiny, for the test's sake
    config["model"]["decoder_filters"] = [16, 8, 8, 8, 8]
    config["model"]["bn_momentum"] = 0.6
    config["train"].update(epochs=3, batch_size=4, learning_rate=0.005,
                           augment={"crop": None})
    path = tmp_path / "water.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir, bundle = tmp_path / "runs/water", tmp_path / "models/water"

    assert "ok" in run("config", str(path)).stdout
    run("train", "--config", str(path), "--out", str(run_dir))
    scores = run_dir / "scores.json"
    run("evaluate", "--checkpoint", str(run_dir / "best.weights.h5"), "--json", str(scores))
    run("convert", "--checkpoint", str(run_dir / "best.weights.h5"), "--out", str(bundle),
        "--metrics", str(scores), "--formats", "tflite")
    manifest = yaml.safe_load((bundle / "model.yaml").read_text())
    assert manifest["classes"] == ["background", "water"]
    assert manifest["palette"] == [[0, 0, 0], [0, 90, 255]]  # the config's colour, bg black
    assert manifest["input"]["height"] == 64 and manifest["input"]["width"] == 96

    stats = tmp_path / "stats.json"
    run("--bundle", str(bundle), "--source", str(data / "photos"), "--headless",
        "--no-record", "--max-frames", "4", "--stats-json", str(stats))
    assert json.loads(stats.read_text())
    predicted = tmp_path / "predicted"
    run("predict", str(data / "photos"), "--bundle", str(bundle), "--areas", "csv", "--out",
        str(predicted))
    photos = len(list((data / "photos").iterdir()))
    assert len(list(predicted.glob("*_mask.png"))) == photos
    assert len((predicted / "areas.csv").read_text().splitlines()) == 1 + 2 * photos

    again = tmp_path / "bundle-scores.json"
    run("evaluate", "--bundle", str(bundle), "--data", str(data), "--json", str(again))
    measured = json.loads(again.read_text())
    assert measured["samples"] == 4 and measured["classes"] == ["background", "water"]
    masks = [cv2.imread(str(data / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
             for name in (data / "val.txt").read_text().split()]
    assert sum(measured["pixels"]) == sum(int((m != 255).sum()) for m in masks)
