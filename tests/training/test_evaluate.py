"""Metrics against a hand-computed confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import confusion_matrix, scores_from_confusion


def test_confusion_matrix_ignores_void():
    truth = np.array([[0, 0, 1], [1, 2, -1]])
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    matrix = confusion_matrix(truth, pred, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]


def test_scores_match_hand_computation():
    # rows truth, columns prediction
    matrix = np.array([[50, 10, 0, 0],
                       [5, 30, 5, 0],
                       [0, 0, 20, 0],
                       [0, 0, 4, 0]])  # class 3 never in the truth: predicted 0 times as itself
    matrix[3] = 0
    matrix[0, 3] = 6  # but predicted on 6 class-0 pixels
    scores = scores_from_confusion(matrix, ["a", "b", "c", "d"])
    iou_a = 50 / (66 + 55 - 50)
    iou_b = 30 / (40 + 40 - 30)
    iou_c = 20 / (20 + 25 - 20)
    assert scores.iou[:3] == pytest.approx([iou_a, iou_b, iou_c])
    assert scores.iou[3] == 0.0  # predicted, never true: IoU 0 but left out of the mean
    assert scores.scored_classes == ["a", "b", "c"]
    assert scores.miou == pytest.approx((iou_a + iou_b + iou_c) / 3)
    assert scores.global_accuracy == pytest.approx(100 / 126)
    assert scores.class_average_accuracy == pytest.approx((50 / 66 + 30 / 40 + 20 / 20) / 3)


def test_one_matrix_over_the_split_not_a_mean_of_images():
    # image 1: class 0 perfect on 1 pixel; image 2: class 0 wrong on 99 pixels
    t1, p1 = np.array([0]), np.array([0])
    t2, p2 = np.zeros(99, int), np.ones(99, int)
    total = confusion_matrix(t1, p1, 2) + confusion_matrix(t2, p2, 2)
    scores = scores_from_confusion(total, ["x", "y"])
    assert scores.iou[0] == pytest.approx(1 / 100)
    per_image_mean = (1.0 + 0.0) / 2
    assert scores.iou[0] != pytest.approx(per_image_mean)
