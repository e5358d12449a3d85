"""TensorFlow, Keras 2 and segmentation_models, imported after training.tf_env set them up.

Every training module imports them from here.
"""

# ruff: noqa: I001  (the import order is the point of this module)
from __future__ import annotations

import contextlib
import io

from training.tf_env import keras, tf

with contextlib.redirect_stdout(io.StringIO()):  # its "using `tf.keras` framework." banner
    import segmentation_models as sm  # (must follow training.tf_env)

__all__ = ["keras", "sm", "tf"]
