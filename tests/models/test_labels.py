"""The label rule for every class count: channels, activation, names, labels from probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from models import labels


@pytest.mark.parametrize(("classes", "channels", "activation", "channel_names", "label_names"), [
    (["person"], 1, "sigmoid", ["person"], ["background", "person"]),
    (["sky", "road"], 3, "softmax", ["sky", "road", "background"],
     ["sky", "road", "background"]),
    (["a", "b", "c", "d"], 5, "softmax", ["a", "b", "c", "d", "background"],
     ["a", "b", "c", "d", "background"]),
])
def test_the_rule_for_one_and_several_classes(classes, channels, activation, channel_names,
                                              label_names) -> None:
    n = len(classes)
    assert labels.output_channels(n) == channels
    assert labels.classes_for_channels(channels) == n
    assert labels.final_activation(n) == activation
    assert labels.final_activation(n, "sigmoid") == "sigmoid"  # a configured one wins
    assert labels.channel_names(classes) == channel_names
    assert labels.label_names(classes) == label_names
    assert labels.trained_classes(label_names) == classes
    assert labels.labels_fit_channels(len(label_names), channels)


def test_a_class_count_that_does_not_fit_the_channels() -> None:
    assert not labels.labels_fit_channels(3, 4)
    assert not labels.labels_fit_channels(3, 1)
    assert labels.labels_fit_channels(2, 2)  # a two-channel softmax from elsewhere


def test_labels_from_probabilities() -> None:
    rng = np.random.default_rng(0)
    several = rng.random((2, 4, 5, 3), dtype=np.float32)
    got = labels.labels_from_probabilities(several)
    assert got.dtype == np.uint8 and got.shape == (2, 4, 5)
    np.testing.assert_array_equal(got, several.argmax(-1))
    one = np.array([0.2, 0.5, 0.51, 0.9], np.float32).reshape(1, 1, 4, 1)
    np.testing.assert_array_equal(labels.labels_from_probabilities(one), [[[0, 0, 1, 1]]])
    ready = np.array([[[3, 1]]], np.uint8)  # a graph that outputs labels: passed through
    assert labels.labels_from_probabilities(ready) is ready
