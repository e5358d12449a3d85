"""TensorFlow, Keras 2 and segmentation_models, imported after training.tf_env set them up.

Every training module imports them from here.
"""

# ruff: noqa: I001  (the import order is the point of this module)
from __future__ import annotations

from training.tf_env import keras, tf

import segmentation_models as sm  # noqa: E402  (must follow training.tf_env)

__all__ = ["keras", "sm", "tf"]
