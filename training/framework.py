"""TensorFlow, Keras 2 and segmentation_models, imported after models.tf_env set them up.

Every training module imports them from here.
"""

# ruff: noqa: I001  (the import order is the point of this module)
from __future__ import annotations

from models.tf_env import keras, tf

import segmentation_models as sm  # noqa: E402  (must follow models.tf_env)

__all__ = ["keras", "sm", "tf"]
