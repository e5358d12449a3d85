"""The one place that prepares TensorFlow for this project (imported only where TF is needed).

segmentation_models 1.0.1 reads SM_FRAMEWORK at import time, and with TensorFlow >= 2.16 it needs
the legacy Keras 2 (tf-keras), selected by TF_USE_LEGACY_KERAS before TensorFlow's first import.
"""

from __future__ import annotations

import os

os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from models.native_stderr import quiet_native_stderr  # noqa: E402

with quiet_native_stderr():
    import tensorflow as tf
    import tf_keras as keras

__all__ = ["keras", "tf"]
