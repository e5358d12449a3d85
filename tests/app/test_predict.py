"""`segcam predict` for real (a subprocess, as typed): images, a folder, a glob and a clip
through the tiny bundle; per picture an overlay and an indexed class-id PNG equal to what the
Python API gives; areas as CSV and JSON; unreadable inputs one line each with the rest written;
mistakes in the command one line and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from testkit import ROOT, run_segcam

from models.parity import synthetic_frames
from models.segmenter import Segmenter


def predict(*args: str, cwd: Path = ROOT):
    return run_segcam("predict", *args, cwd=cwd, timeout=180)


def write_images(folder: Path) -> dict[str, np.ndarray]:
    """Three real pictures of sizes unlike the model's 64x64 (letterboxed), as name -> BGR."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for i, (h, w) in enumerate([(90, 120), (48, 40), (70, 70)]):
        image = synthetic_frames(1, h, w, seed=40 + i)[0]
        assert cv2.imwrite(str(folder / f"photo_{i}.png"), image)
        images[f"photo_{i}"] = image
    return images


def read_mask(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(class ids, palette) of an indexed PNG."""
    image = Image.open(path)
    assert image.mode == "P", path
    palette = np.frombuffer(bytes(image.getpalette()), np.uint8).reshape(-1, 3)
    return np.asarray(image), palette


@pytest.fixture(scope="module")
def segmenter(tiny_bundle: Path):
    with Segmenter.load(tiny_bundle, backend="litert") as opened:
        yield opened


def test_images_folder_glob_and_clip(tiny_bundle: Path, clip, segmenter, tmp_path: Path) -> None:
    images = write_images(tmp_path / "photos")
    (tmp_path / "photos" / "notes.txt").write_text("a folder's other files are left alone")
    single = tmp_path / "single.jpg"
    assert cv2.imwrite(str(single), synthetic_frames(1, 50, 80, seed=7)[0])
    globbed = write_images(tmp_path / "more")  # the same names again: -2 is added
    out = tmp_path / "out"
    result = predict(str(tmp_path / "photos"), str(single), str(tmp_path / "more" / "*.png"),
                     str(clip.path), "--bundle", str(tiny_bundle), "--backend", "litert",
                     "--out", str(out), "--max-frames", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0].startswith(
        "segcam 0.1.0 predict: 7 image file(s), 1 clip(s) with tiny on LiteRT fp16 on CPU")
    assert result.stdout.splitlines()[-1].startswith("11 image(s) in ")

    expected = {**images, "single": cv2.imread(str(single))}
    expected |= {f"{name}-2": image for name, image in globbed.items()}
    frames = [frame for _, frame in zip(range(4), _decode(clip.path), strict=False)]
    expected |= {f"clip_{i + 1:06d}": frame for i, frame in enumerate(frames)}
    names = sorted(p.name.removesuffix("_mask.png") for p in out.glob("*_mask.png"))
    assert names == sorted(expected)
    for name, image in expected.items():
        ids, palette = read_mask(out / f"{name}_mask.png")
        assert ids.shape == image.shape[:2]  # at the input's own size
        np.testing.assert_array_equal(ids, segmenter(image), err_msg=name)
        np.testing.assert_array_equal(palette[:len(segmenter.classes)], segmenter.palette)
        overlay = cv2.imread(str(out / f"{name}_overlay.jpg"))
        assert overlay.shape == image.shape
    assert not list(out.glob("notes*"))


def _decode(path: Path):
    capture = cv2.VideoCapture(str(path))
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        yield frame
    capture.release()


def test_areas_as_csv_and_json(tiny_bundle: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "photos")
    for kind in ("csv", "json"):
        out = tmp_path / kind
        result = predict(str(tmp_path / "photos"), "--bundle", str(tiny_bundle), "--out",
                         str(out), "--areas", kind)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.splitlines()[-1].endswith(f"areas in areas.{kind}")
        if kind == "json":
            rows = json.loads((out / "areas.json").read_text())
        else:
            with (out / "areas.csv").open() as handle:
                rows = list(csv.DictReader(handle))
        assert len(rows) == 3 * 4  # three pictures, four classes each
        for name in ("photo_0", "photo_1", "photo_2"):
            ids, _ = read_mask(out / f"{name}_mask.png")
            mine = [row for row in rows if row["name"] == name]
            assert [row["class"] for row in mine] == ["sky", "road", "car", "background"]
            assert [int(row["pixels"]) for row in mine] == list(np.bincount(ids.ravel(),
                                                                            minlength=4))
            assert sum(float(row["fraction"]) for row in mine) == pytest.approx(1, abs=1e-5)
            assert all(row["frame"] in ("", None) for row in mine)


def test_unreadable_inputs_are_one_line_each_and_the_rest_are_written(
        tiny_bundle: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "photos")
    bad = tmp_path / "photos" / "broken.png"
    bad.write_text("not a picture")
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    result = predict(str(tmp_path / "photos"), str(clip), "--bundle", str(tiny_bundle),
                     "--out", str(out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {bad}: not an image OpenCV can decode",
                      f"error: {clip}: cannot open as a video"], result.stderr
    assert sorted(p.name for p in out.glob("*_mask.png")) == [
        "photo_0_mask.png", "photo_1_mask.png", "photo_2_mask.png"]
    assert result.stdout.splitlines()[-1].endswith("; 2 input(s) could not be read")


def test_the_shipped_bundle_by_default_from_any_folder(tmp_path: Path) -> None:
    image = synthetic_frames(1, 120, 160, seed=3)[0]
    assert cv2.imwrite(str(tmp_path / "street.png"), image)
    result = predict("street.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert " with camvid-unet on " in result.stdout.splitlines()[0]
    ids, palette = read_mask(tmp_path / "runs" / "predict" / "street_mask.png")
    assert ids.shape == (120, 160) and int(ids.max()) < 12
    assert palette[:12].tolist() == Segmenter.load(backend="litert").palette.tolist()


@pytest.mark.parametrize(("args", "expected"), [
    (["{tmp}/nope.png"], "error: {tmp}/nope.png: no such file or folder"),
    (["{tmp}/empty"], "error: {tmp}/empty: no images or clips in this folder"),
    (["{tmp}/empty/*.jpg"], "error: {tmp}/empty/*.jpg: no file matches"),
    (["{image}", "--out", "{image}"], "error: --out: {image}: File exists"),
    (["{image}", "--bundle", "{tmp}/empty"],
     "error: --bundle: {tmp}/empty/model.yaml: missing (not a model bundle)"),
    (["{image}", "--alpha", "1.5"], "error: --alpha: 1.5 is not within 0..1"),
    (["{image}", "--max-frames", "0"], "error: --max-frames: must be a positive number"),
])
def test_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: list[str],
                                          expected: str) -> None:
    (tmp_path / "empty").mkdir()
    image = tmp_path / "one.png"
    assert cv2.imwrite(str(image), synthetic_frames(1, 32, 32, seed=1)[0])

    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{image}", str(image))

    result = predict(*map(fill, args), "--backend", "litert", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == fill(expected)
    assert result.stdout == ""
