"""The seed manual's Jetson path: the architecture as JSON beside a weights file, loaded back with
model_from_json where segmentation_models is not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

LOAD = """
import sys
sys.modules["segmentation_models"] = None  # as on a Jetson: importing it fails
import numpy as np
from training.keras_model import load_json_model
model = load_json_model(sys.argv[1], sys.argv[2])
np.save(sys.argv[4], model.predict(np.load(sys.argv[3]), verbose=0))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from training.keras_model import save_json
    from training.model import unet

    base = tmp_path_factory.mktemp("json")
    model = unet("mobilenetv2", 3, "softmax", decoder_filters=(16, 8, 8, 8, 8))
    save_json(model, base / "model.json")
    model.save_weights(str(base / "model.weights.h5"))
    frames = np.random.default_rng(0).uniform(-1, 1, (2, 64, 96, 3)).astype(np.float32)
    np.save(base / "frames.npy", frames)
    return base, model.predict(frames, verbose=0)


def test_json_and_weights_load_without_segmentation_models(saved):
    base, expected = saved
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(base / "model.json"), str(base / "model.weights.h5"),
         str(base / "frames.npy"), str(base / "out.npy")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(base / "out.npy"), expected, atol=1e-5)


def test_a_wrong_file_is_one_line_naming_it(saved, tmp_path):
    from training.keras_model import KerasModelError, load_json_model

    base, _ = saved
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(KerasModelError, match="broken.json: not a Keras model JSON"):
        load_json_model(broken, base / "model.weights.h5")
    with pytest.raises(KerasModelError, match="missing.h5: file not found"):
        load_json_model(base / "model.json", tmp_path / "missing.h5")
    other = tmp_path / "other.weights.h5"
    from training.model import unet

    unet("mobilenetv2", 5, "softmax", decoder_filters=(16, 8, 8, 8, 8)).save_weights(str(other))
    with pytest.raises(KerasModelError, match="other.weights.h5: weights do not fit model.json"):
        load_json_model(base / "model.json", other)
