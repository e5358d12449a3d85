"""The in-graph preprocessing equals segmentation_models' numpy preprocessing, for every backbone."""

from __future__ import annotations

import numpy as np
import pytest

from models.preprocess import backbone_preprocess, known_backbones, preprocess_mode


def _rgb(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (2, 8, 12, 3)).astype(np.uint8)


def test_every_segmentation_models_backbone_is_mapped() -> None:
    from training.framework import sm

    assert sorted(known_backbones()) == sorted(sm.get_available_backbone_names())


@pytest.mark.parametrize("backbone", known_backbones())
def test_affine_map_matches_get_preprocessing(backbone: str) -> None:
    from training.framework import sm

    rgb = _rgb()
    expected = sm.get_preprocessing(backbone)(rgb.astype(np.float32))
    prep = backbone_preprocess(backbone)
    x = rgb.astype(np.float32)
    if prep.order == "BGR":
        x = x[..., ::-1]
    ours = x * np.float32(prep.scale) + np.float32(prep.offset)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("backbone", ["mobilenetv2", "resnet18", "efficientnetb0", "vgg16"])
def test_served_graph_preprocesses_bgr_frames(backbone: str) -> None:
    """An identity 'model' returns what the graph feeds the network: sm's preprocessing of RGB."""
    from training.framework import keras, sm
    from training.graph import serving_function

    identity = keras.Sequential([keras.layers.InputLayer(input_shape=(None, None, 3)),
                                 keras.layers.Lambda(lambda t: t)])
    serve = serving_function(identity, backbone_preprocess(backbone), output="probabilities")
    rgb = _rgb(1)
    got = serve(np.ascontiguousarray(rgb[..., ::-1]))["probabilities"].numpy()  # BGR in
    expected = sm.get_preprocessing(backbone)(rgb.astype(np.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_labels_argmax_and_threshold() -> None:
    from models.preprocess import preprocess_for_mode
    from training.framework import keras
    from training.graph import serving_function

    frames = _rgb(2)
    several = keras.Sequential([keras.layers.InputLayer(input_shape=(None, None, 3)),
                                keras.layers.Lambda(lambda t: t)])
    labels = serving_function(several, preprocess_for_mode("identity"))(frames)["labels"].numpy()
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.argmax(frames[..., ::-1], axis=-1))  # RGB argmax
    one = keras.Sequential([keras.layers.InputLayer(input_shape=(None, None, 3)),
                            keras.layers.Lambda(lambda t: t[..., :1] / 255.0)])
    binary = serving_function(one, preprocess_for_mode("identity"))(frames)["labels"].numpy()
    np.testing.assert_array_equal(binary, (frames[..., 2] / 255.0 > 0.5).astype(np.uint8))


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'"):
        preprocess_mode("alexnet")
