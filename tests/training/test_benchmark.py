"""`python -m training benchmark` on the tiny fp16+int8 bundle and a tree of real PNGs: one row
per format and backend, the scores `python -m training evaluate --bundle` gives, the app's own
rate on a clip, and a run with TensorFlow made unimportable (a runtime-only machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from testkit import ROOT, with_precision

ROW_FIELDS = {"key", "format", "backend", "device", "precision", "file_bytes", "frames",
              "p50_ms", "p95_ms", "fps", "miou", "global_accuracy", "agreement", "gmacs"}
CORES = len(os.sched_getaffinity(0))
THREADS = f"{CORES} thread{'s' * (CORES != 1)}"


def run_training(*args: str, code: str | None = None,
                 timeout: float = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "training",
                                                                 *args]
    return subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def benchmark(int8_bundle: Path, labelled_data: tuple[Path, Path],
              tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    root, config = labelled_data
    out = tmp_path_factory.mktemp("benchmark")
    result = run_training("benchmark", "--bundle", str(int8_bundle), "--data", str(root),
                          "--config", str(config), "--split", "val", "--frames", "6",
                          "--app-seconds", "1", "--json", str(out / "bench.json"),
                          "--markdown", str(out / "bench.md"))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), result.stdout, out


def expected_rows() -> set[str]:
    rows = {"keras", f"tflite litert {THREADS}", f"tflite-int8 litert {THREADS}",
            "onnx onnx cpu", "onnx-int8 onnx cpu"}
    if CORES > 1:
        rows |= {"tflite litert 1 thread", "tflite-int8 litert 1 thread"}
    return rows


def test_one_row_per_format_and_backend(benchmark) -> None:
    report, stdout, out = benchmark
    rows = {row["key"]: row for row in report["rows"]}
    assert set(rows) == expected_rows()
    assert report["reference"] == "keras" and rows["keras"]["agreement"] == 1.0
    assert report["split"] == {"data": report["split"]["data"], "split": "val", "samples": 4}
    macs = report["macs_per_frame"]
    for key, row in rows.items():
        assert set(row) == ROW_FIELDS, key
        assert row["frames"] == 6, key  # 4 images scored, cycled to 6 timed calls
        assert 0 < row["p50_ms"] <= row["p95_ms"] and row["fps"] > 0, key
        # both figures are rounded to 2 places in the report: compare within that rounding
        assert abs(row["gmacs"] - macs * row["fps"] / 1e9) <= 0.011, key
        assert 0.0 <= row["agreement"] <= 1.0 and 0.0 <= row["miou"] <= 1.0, key
    assert {rows[k]["precision"] for k in rows if "int8" in k} == {"int8"}
    assert rows["keras"]["precision"] == "fp32"
    assert rows["onnx onnx cpu"]["device"] == "CPUExecutionProvider"
    skipped = {s["row"]: s["reason"] for s in report["skipped"]}
    assert "this onnxruntime has no TensorrtExecutionProvider" in skipped["onnx onnx tensorrt"]
    assert "onnx-int8 onnx cuda" in skipped
    # the terminal table and the Markdown file carry the same rows
    markdown = (out / "bench.md").read_text()
    header = next(line for line in stdout.splitlines() if line.startswith("format "))
    for column in ("format", "backend", "precision", "MB", "p50 ms", "p95 ms", "frames/s",
                   "GMAC/s", "mIoU", "global acc", "= reference"):
        assert column in header and f" {column} |" in markdown, column
    assert markdown.count("| tflite-int8 | litert |") == (2 if CORES > 1 else 1)


def test_macs_are_the_keras_model_s(benchmark) -> None:
    """The TFLite graph's count equals one made from the Keras layers at the input size."""
    from training.framework import keras
    from training.model import unet

    report, _, _ = benchmark
    model = unet("mobilenetv2", 3, decoder_filters=(16, 8, 8, 8, 8), input_shape=(64, 64, 3))
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            total += h * w * c * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            cin = layer.input.shape[-1] // layer.groups
            total += h * w * c * layer.kernel_size[0] * layer.kernel_size[1] * cin
    assert report["macs_per_frame"] == total > 0


@pytest.mark.parametrize(("backend", "precision", "row"), [
    ("litert", "fp16", f"tflite litert {THREADS}"),
    ("onnx", "fp16", "onnx onnx cpu"),
    ("litert", "int8", f"tflite-int8 litert {THREADS}"),
])
def test_scores_equal_evaluate_bundle(benchmark, int8_bundle: Path, labelled_data,
                                      tmp_path: Path, backend: str, precision: str,
                                      row: str) -> None:
    report, _, _ = benchmark
    root, config = labelled_data
    bundle = with_precision(int8_bundle, tmp_path / "bundle", precision)
    scores = tmp_path / "scores.json"
    result = run_training("evaluate", "--bundle", str(bundle), "--config", str(config),
                          "--data", str(root), "--split", "val", "--backend", backend,
                          "--json", str(scores))
    assert result.returncode == 0, result.stderr[-2000:]
    evaluated = json.loads(scores.read_text())
    benched = {r["key"]: r for r in report["rows"]}[row]
    assert benched["miou"] == evaluated["miou"]
    assert benched["global_accuracy"] == evaluated["global_accuracy"]


def test_the_app_runs_each_file_end_to_end(benchmark) -> None:
    report, stdout, _ = benchmark
    apps = {row["key"]: row for row in report["app_rows"]}
    assert set(apps) == expected_rows() - {"keras"}
    for key, row in apps.items():
        assert row["fps"] > 0 and row["frames"] >= 60, (key, row)
        assert row["note"].startswith(("steady", "whole run")), (key, row)
        assert row["vs_engine"] > 0 and row["gmacs"] > 0
    assert "app (clip, headless, recording)" in stdout


BLOCKED = ("tensorflow", "tf_keras", "keras", "segmentation_models", "tf2onnx", "onnx",
           "albumentations", "tqdm")


def test_runs_without_tensorflow(int8_bundle: Path, labelled_data, tmp_path: Path) -> None:
    """A runtime-only machine: the Keras row is skipped with its reason, the others run, and
    progress is a plain line (no tqdm)."""
    root, config = labelled_data
    code = ("import sys\n"
            f"for name in {BLOCKED!r}:\n"
            "    sys.modules[name] = None  # import raises ImportError\n"
            "from training.__main__ import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "bench.json"
    result = run_training("benchmark", "--bundle", str(int8_bundle), "--data", str(root),
                          "--config", str(config), "--app-seconds", "0", "--json", str(out),
                          code=code)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {row["key"] for row in report["rows"]} == expected_rows() - {"keras"}
    assert report["app_rows"] == []
    reason = {s["row"]: s["reason"] for s in report["skipped"]}["keras"]
    assert "needs TensorFlow" in reason
    assert report["reference"] == f"tflite litert {THREADS}"
    assert "engines: 4/4" in result.stderr


@pytest.mark.parametrize(("flags", "expected"), [
    (["--bundle", "{missing}"], "model.yaml: missing (not a model bundle)"),
    (["--bundle", "{bundle}"], "--data: give the data set root to evaluate a bundle on"),
    (["--bundle", "{bundle}", "--data", "{data}", "--json", "/nonexistent/dir/b.json"],
     "--json: cannot write /nonexistent/dir/b.json (No such file or directory)"),
    (["--bundle", "{bundle}", "--data", "{data}", "--frames", "-1"],
     "--frames and --warmup: must be 0 or more"),
])
def test_user_errors_are_one_line_exit_2(tiny_bundle: Path, labelled_data, tmp_path: Path,
                                         capsys, flags, expected) -> None:
    from training.__main__ import main

    root, _ = labelled_data
    values = {"{missing}": str(tmp_path / "none"), "{bundle}": str(tiny_bundle),
              "{data}": str(root)}
    code = main(["benchmark", *[values.get(flag, flag) for flag in flags]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and expected in err and "\n" not in err, err
