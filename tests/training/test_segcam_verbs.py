"""Every training-side verb of `segcam`, run for real as typed (subprocesses, from a folder
that is not the checkout) on a tiny CamVid-like tree: train -> evaluate -> convert -> evaluate
the bundle -> benchmark -> predict, and `config`. Then: `segcam predict` on the shipped clip's
first frames writes the masks `segcam evaluate` scores from the same bundle, and where
TensorFlow is missing the verbs that need it say so in one line while the others run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from testkit import NO_TENSORFLOW, ROOT, run_segcam

from tests.training.conftest import tiny_config, write_tiny_camvid

SHIPPED = ROOT / "models" / "camvid-unet"
CLIP = ROOT / "media" / "camvid-val.mp4"
NEEDS_TF = ("{prog} {verb}: needs TensorFlow (pip install -r requirements-train.txt); this "
            "machine has the runtime only")


def segcam(*args: str, cwd: Path, env: dict | None = None,
           timeout: float = 900) -> subprocess.CompletedProcess:
    return run_segcam(*args, cwd=cwd, env=env, timeout=timeout)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.args[3:], result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("verbs")
    data = write_tiny_camvid(base / "CamVid")
    config = tiny_config(data, base / "tiny.yaml", epochs=1)
    return {"base": base, "data": data, "config": config, "run": base / "run",
            "bundle": base / "bundle"}


@pytest.fixture(scope="module")
def trained(work: dict[str, Path]) -> dict[str, Path]:
    if NO_TENSORFLOW:
        pytest.skip(NO_TENSORFLOW)
    result = ok(segcam("train", "--config", str(work["config"]), "--out", str(work["run"]),
                       cwd=work["base"]))
    assert "memory allocator" in result.stdout
    return work


@pytest.fixture(scope="module")
def converted(trained: dict[str, Path]) -> dict[str, Path]:
    ok(segcam("convert", "--checkpoint", str(trained["run"] / "best.weights.h5"), "--out",
              str(trained["bundle"]), "--min-parity", "0", cwd=trained["base"]))
    return trained


def test_train(trained: dict[str, Path]) -> None:
    run = trained["run"]
    assert (run / "best.weights.h5").is_file() and (run / "config.yaml").is_file()
    assert len((run / "history.csv").read_text().splitlines()) == 2  # header + 1 epoch


def test_evaluate_a_checkpoint(trained: dict[str, Path]) -> None:
    scores = trained["base"] / "ckpt-scores.json"
    result = ok(segcam("evaluate", "--checkpoint", str(trained["run"] / "best.weights.h5"),
                       "--json", str(scores), cwd=trained["base"]))
    assert "mIoU" in result.stdout
    assert json.loads(scores.read_text())["samples"] == 4


def test_convert(converted: dict[str, Path]) -> None:
    import yaml

    manifest = yaml.safe_load((converted["bundle"] / "model.yaml").read_text())
    assert manifest["classes"] == ["sky", "building", "road", "car", "background"]
    assert set(manifest["files"]) == {"tflite", "onnx"}


def test_evaluate_benchmark_and_predict_the_bundle(converted: dict[str, Path]) -> None:
    bundle, data, base = (str(converted["bundle"]), str(converted["data"]), converted["base"])
    scores = base / "bundle-scores.json"
    ok(segcam("evaluate", "--bundle", bundle, "--data", data, "--json", str(scores), cwd=base))
    assert json.loads(scores.read_text())["samples"] == 4
    report = base / "bench.json"
    ok(segcam("benchmark", "--bundle", bundle, "--data", data, "--frames", "2",
              "--app-seconds", "0", "--json", str(report), cwd=base))
    assert {row["backend"] for row in json.loads(report.read_text())["rows"]} >= {"litert"}
    out = base / "predicted"
    ok(segcam("predict", str(converted["data"] / "val"), "--bundle", bundle, "--out", str(out),
              cwd=base))
    assert len(list(out.glob("*_mask.png"))) == 4


def test_config(work: dict[str, Path]) -> None:
    checked = ok(segcam("config", str(work["config"]), cwd=work["base"]))
    assert checked.stdout.strip().splitlines()[-1] == f"{work['config']}: ok"
    explained = ok(segcam("config", "--explain", cwd=work["base"]))
    assert "train.epochs" in explained.stdout or "epochs (" in explained.stdout


def first_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < count:
        ok_, frame = capture.read()
        assert ok_, f"{CLIP} has fewer than {count} frames"
        frames.append(frame)
    capture.release()
    return frames


def test_predict_writes_the_masks_evaluate_scores(tmp_path: Path) -> None:
    """The shipped clip's first 5 frames: `segcam predict` masks == the evaluate path's own
    predictions (training/evaluate_cli.py engine_predictor on the frames as it reads them), and
    `segcam evaluate` with those masks as the annotations scores every pixel right."""
    from models.engines import open_engine
    from training.datasets.camvid import CamVid
    from training.evaluate_cli import engine_predictor

    out = tmp_path / "predicted"
    ok(segcam("predict", str(CLIP), "--max-frames", "5", "--backend", "litert", "--out",
              str(out), cwd=tmp_path))
    masks = [np.asarray(Image.open(out / f"camvid-val_{i:06d}_mask.png")) for i in range(1, 6)]

    root = tmp_path / "CamVid"  # the frames as a CamVid val split, the masks as its labels
    for folder in ("val", "valannot"):
        (root / folder).mkdir(parents=True)
    for i, (frame, mask) in enumerate(zip(first_frames(5), masks, strict=True)):
        assert cv2.imwrite(str(root / "val" / f"clip_{i:05d}.png"), frame)
        assert cv2.imwrite(str(root / "valannot" / f"clip_{i:05d}.png"), mask)

    dataset = CamVid(root, "val")
    with open_engine(SHIPPED, backend="litert") as engine:
        predict = engine_predictor(engine)
        for i, mask in enumerate(masks):
            image, _raw = dataset.sample_indices(i)  # RGB, as evaluate reads it
            np.testing.assert_array_equal(predict(image), mask, err_msg=f"frame {i + 1}")

    scores = tmp_path / "scores.json"
    ok(segcam("evaluate", "--bundle", str(SHIPPED), "--data", str(root), "--split", "val",
              "--json", str(scores), cwd=tmp_path))
    measured = json.loads(scores.read_text())
    assert measured["samples"] == 5
    scored = sum(measured["pixels"])  # background (11) is CamVid's void: not scored
    assert scored == sum(int((m != 11).sum()) for m in masks) > 0
    assert measured["global_accuracy"] == 1.0


# -- a runtime-only machine (TensorFlow and the training extras made unimportable) ---------

BLOCKED = ("tensorflow", "tf_keras", "keras", "segmentation_models", "tf2onnx", "onnx",
           "albumentations", "matplotlib", "tqdm")


@pytest.fixture(scope="module")
def runtime_only(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An environment whose Python processes (and the ones they start) cannot import them."""
    site = tmp_path_factory.mktemp("runtime-only")
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        f"for name in {BLOCKED!r}:\n"
        "    sys.modules[name] = None  # import raises ImportError; find_spec gives None\n")
    return {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}


@pytest.mark.parametrize("args", [
    ["train", "--config", "tiny.yaml"],
    ["convert", "--checkpoint", "run/best.weights.h5", "--out", "bundle"],
    ["evaluate", "--checkpoint", "run/best.weights.h5"],
    ["evaluate", "--bundle", "bundle", "--backend", "keras", "--data", "CamVid"],
])
def test_verbs_that_need_tensorflow_say_so_in_one_line(runtime_only: dict, tmp_path: Path,
                                                       args: list[str]) -> None:
    result = segcam(*args, cwd=tmp_path, env=runtime_only, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == NEEDS_TF.format(prog="segcam", verb=args[0])
    direct = subprocess.run([sys.executable, "-m", "training", *args], cwd=tmp_path,
                            env={**os.environ, **runtime_only}, capture_output=True, text=True,
                            timeout=120)
    assert (direct.returncode, direct.stderr.strip()) == (
        2, NEEDS_TF.format(prog="python -m training", verb=args[0]))


def test_models_convert_names_itself(runtime_only: dict, tmp_path: Path) -> None:
    """`python -m models convert` runs the training side's converter under its own name."""
    env = {**os.environ, **runtime_only}
    usage = subprocess.run([sys.executable, "-m", "models", "convert", "--help"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: python -m models convert ")
    missing = subprocess.run([sys.executable, "-m", "models", "convert", "--checkpoint", "x.h5",
                              "--out", "b"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert (missing.returncode, missing.stderr.strip()) == (
        2, NEEDS_TF.format(prog="python -m models", verb="convert"))


def test_the_other_verbs_run_without_tensorflow(runtime_only: dict, tmp_path: Path,
                                                work: dict[str, Path]) -> None:
    """A bundle's evaluation, the benchmark, the config check, predict and the app itself."""
    import yaml

    data = str(work["data"])
    tiny = ROOT / "tests" / "data" / "tiny-bundle"  # sky, road, car (+ background)
    config = str(tmp_path / "data.yaml")  # the tree read with the bundle's classes
    Path(config).write_text(yaml.safe_dump({"name": "tiny-data", "data": {
        "dataset": "camvid", "root": data, "classes": ["sky", "road", "car"]}}))

    def run(*args: str) -> subprocess.CompletedProcess:
        return ok(segcam(*args, cwd=tmp_path, env=runtime_only, timeout=300))

    assert "mIoU" in run("evaluate", "--bundle", str(tiny), "--data", data, "--config",
                         config).stdout
    run("benchmark", "--bundle", str(tiny), "--data", data, "--config", config, "--frames", "2",
        "--app-seconds", "0", "--json", str(tmp_path / "bench.json"))
    assert run("config", config).stdout.strip().endswith(": ok")
    run("config", "--explain")
    run("predict", str(work["data"] / "val"), "--bundle", str(tiny), "--out",
        str(tmp_path / "out"))
    assert len(list((tmp_path / "out").glob("*_mask.png"))) == 4
    quiet = tmp_path / "app.yaml"  # the defaults (test://, the shipped bundle), no recording
    quiet.write_text("record: {enabled: false}\ndisplay: {enabled: false}\n")
    run("--config", str(quiet), "--max-frames", "2")
    run("doctor", "--config", str(quiet))
    assert run("--help").stdout.startswith("usage: segcam ")
