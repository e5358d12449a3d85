"""Training runs on a tiny real data set: artefacts, resume, stop on SIGTERM, evaluation."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.training.conftest import epochs_in, tiny_config

ROOT = Path(__file__).resolve().parents[2]


def run_training(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def main_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process: TensorFlow is imported once for the whole module."""
    from training.__main__ import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_two_epoch_run_writes_every_artefact(trained_run):
    _, run = trained_run
    for name in ("best.weights.h5", "model.h5", "model.json", "config.yaml", "history.csv",
                 "history.png",
                 "checkpoints/epoch_001.weights.h5", "checkpoints/epoch_002.weights.h5"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert epochs_in(run) == [1, 2]


def test_resume_continues_from_the_last_epoch(trained_run, tmp_path, caplog, capsys):
    run = Path(shutil.copytree(trained_run[1], tmp_path / "run"))  # others read the original
    from training.__main__ import main

    with caplog.at_level("INFO"):
        assert main(["train", "--config", str(run / "config.yaml"), "--out", str(run),
                     "--resume", "--epochs", "3"]) == 0
    assert "at epoch 2" in caplog.text
    # not a terminal (a log file, a pipe): one line per epoch instead of the bar
    out = capsys.readouterr().out
    assert "Epoch 3/3" in out and "ETA" not in out, out
    assert re.search(r"^2/2 - \d+s - loss: [\d.]+ .* - \d+s/epoch", out, re.M), out
    assert epochs_in(run) == [1, 2, 3]
    assert (run / "checkpoints/epoch_003.weights.h5").is_file()


def test_existing_run_is_not_overwritten(trained_run, capsys):
    config, run = trained_run
    code, _, err = main_in_process(capsys, "train", "--config", str(config), "--out", str(run))
    assert code == 2
    assert "a run already exists here; pass --resume" in err


class Terminal:
    """A command whose stdout and stderr are a real pseudo-terminal, as in a user's shell."""

    def __init__(self, command: list[str]):
        import pty

        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave,
                                        stderr=slave)
        os.close(slave)
        self.output = ""

    def read_until(self, text: str | None, timeout: float) -> str:
        """Everything written so far, reading until `text` appears or the command exits."""
        import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (text is None or text not in self.output):
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the command closed the terminal (it exited)
                break
            if not chunk:
                break
            self.output += chunk.decode(errors="replace")
        return self.output


def test_sigterm_saves_state_and_resume_works(tmp_path, tiny_camvid):
    """Run on a terminal: Keras' progress bar shows (batch, ETA, loss) and SIGTERM stops it."""
    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml", epochs=50)
    run = tmp_path / "run"
    terminal = Terminal([sys.executable, "-m", "training", "train", "--config", str(config),
                         "--out", str(run)])
    process = terminal.process
    # SIGTERM once the first epoch is under way
    assert "epoch 1: training crop" in terminal.read_until("epoch 1: training crop", 240)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    output = terminal.read_until(None, 240)
    process.wait(timeout=30)
    os.close(terminal.master)
    # the bar: "Epoch 1/50", then "1/2 [==============>...] - ETA: ... - loss: ..."
    assert "Epoch 1/50" in output, output[-2000:]
    assert re.search(r"\b1/2 \[=*>?\.*\] - ETA: \d+s - loss: \d", output), output[-2000:]
    assert process.returncode == 130, output[-2000:]
    assert "stopping after this batch" in output and "continue with --resume" in output
    # the command line re-executed itself under tcmalloc (same PID: the signal still arrived)
    from training.allocator import tcmalloc_library

    expected = "tcmalloc" if tcmalloc_library() else "glibc malloc"
    assert f"memory allocator: {expected}" in output
    assert (run / "model.h5").is_file() and (run / "state" / "checkpoint").is_file()
    done = epochs_in(run)[-1] if (run / "history.csv").exists() else 0
    assert done < 50
    from training.__main__ import main

    assert main(["train", "--config", str(config), "--out", str(run), "--resume",
                 "--epochs", str(done + 1)]) == 0
    assert epochs_in(run)[-1] == done + 1


def test_evaluate_checkpoint_writes_table_json_and_grid(trained_run, tmp_path, capsys):
    _, run = trained_run
    out = tmp_path / "scores.json"
    code, stdout, _ = main_in_process(capsys, "evaluate", "--checkpoint",
                                      str(run / "best.weights.h5"), "--split", "val",
                                      "--json", str(out))
    assert code == 0
    assert "mIoU" in stdout
    scores = json.loads(out.read_text())
    assert scores["samples"] == 4
    assert set(scores["scored_classes"]) == {"sky", "building", "road", "car"}
    assert 0.0 <= scores["miou"] <= 1.0
    assert (tmp_path / "predictions.png").is_file()


def test_full_model_loads_without_segmentation_models(trained_run):
    _, run = trained_run
    code = (
        "import sys; from training.keras_model import load_full_model; "
        f"m = load_full_model({str(run / 'model.h5')!r}); "
        "assert 'segmentation_models' not in sys.modules; print(m.output_shape)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "5)" in result.stdout  # 4 classes + background


def test_missing_data_is_one_line(tmp_path):
    config = tiny_config(tmp_path / "nowhere", tmp_path / "c.yaml")
    result = run_training("train", "--config", str(config), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr  # checked before TF loads
    assert "CamVid folder not found" in result.stderr


def test_a_signal_after_the_last_batch_keeps_the_epoch_whole():
    """SIGTERM during validation: the epoch is complete (history row, checkpoint) and no new
    epoch starts; during the batches it is partial and is redone on --resume."""
    from training.framework import keras
    from training.train import StopOnSignal

    stopper = StopOnSignal()
    stopper.set_model(keras.Sequential([keras.layers.Dense(1, input_shape=(1,))]))
    stopper.set_params({"steps": 3, "epochs": 5})
    stopper.on_epoch_begin(0)
    for batch in range(3):
        stopper.on_train_batch_end(batch)
    stopper.requested = True  # the signal arrives while validation runs
    assert not stopper.partial_epoch
    stopper.on_epoch_end(0)
    assert stopper.model.stop_training
    stopper.on_epoch_begin(1)
    stopper.on_train_batch_end(0)
    assert stopper.partial_epoch


def test_a_phase_starts_at_the_epoch_it_names_counted_as_the_log_counts(tmp_path, tiny_camvid):
    from training.config import PhaseConfig, load_config
    from training.train import Phases

    config = load_config(tiny_config(tiny_camvid, tmp_path / "tiny.yaml", epochs=4))
    config.train.phases = [PhaseConfig(from_epoch=3, crop=None)]
    phases = Phases(config, loader=None)
    # Keras numbers epochs from 0; the log (and the config) from 1: epochs 3 and 4 are full size
    crop = config.train.augment.crop
    assert [phases.crop_for(keras_epoch) for keras_epoch in range(4)] == [crop, crop, None, None]


def _with_init_weights(config: Path, path: Path, weights: Path, **changes) -> Path:
    import yaml

    raw = yaml.safe_load(config.read_text())
    raw["model"]["init_weights"] = str(weights)
    for section, values in changes.items():
        raw[section].update(values)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_init_weights_starts_a_new_run_from_a_checkpoint(trained_run, tmp_path):
    import h5py
    import numpy as np

    config, run = trained_run
    start = run / "checkpoints/epoch_002.weights.h5"
    # A learning rate too small to move the weights: the new run must end where it started.
    second = _with_init_weights(config, tmp_path / "second.yaml", start,
                                train={"epochs": 1, "learning_rate": 1e-12,
                                       "min_learning_rate": 1e-12})
    from training.__main__ import main

    assert main(["train", "--config", str(second), "--out", str(tmp_path / "run")]) == 0

    def kernels(path: Path) -> dict[str, np.ndarray]:
        """Convolution kernels (BatchNorm statistics move even when the weights do not)."""
        found: dict[str, np.ndarray] = {}
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda name, item: found.__setitem__(name, item[()])
                              if isinstance(item, h5py.Dataset) and item.ndim == 4
                              and not name.startswith("optimizer") else None)
        return found

    before, after = kernels(start), kernels(tmp_path / "run/checkpoints/epoch_001.weights.h5")
    assert len(before) > 20 and before.keys() == after.keys()
    for name in before:
        np.testing.assert_allclose(after[name], before[name], atol=1e-6, err_msg=name)


def test_init_weights_that_do_not_fit_are_one_line(trained_run, tmp_path, capsys):
    config, run = trained_run
    start = run / "checkpoints/epoch_002.weights.h5"
    fewer = _with_init_weights(config, tmp_path / "fewer.yaml", start,
                               data={"classes": ["sky", "road"]})
    code, _, err = main_in_process(capsys, "train", "--config", str(fewer), "--out",
                                   str(tmp_path / "a"))
    assert code == 2
    assert err.count("\n") == 1 and "model.init_weights:" in err and "does not fit" in err
    missing = _with_init_weights(config, tmp_path / "missing.yaml", tmp_path / "nope.weights.h5")
    code, _, err = main_in_process(capsys, "train", "--config", str(missing), "--out",
                                   str(tmp_path / "b"))
    assert code == 2
    assert err.strip() == f"error: model.init_weights: {tmp_path / 'nope.weights.h5'}: no such file"
    text = tmp_path / "notes.txt"
    text.write_text("not weights\n")
    not_weights = _with_init_weights(config, tmp_path / "text.yaml", text)
    code, _, err = main_in_process(capsys, "train", "--config", str(not_weights), "--out",
                                   str(tmp_path / "c"))
    assert code == 2
    assert err.count("\n") == 1 and "is not a Keras weights file" in err
