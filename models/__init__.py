"""The model-bundle contract shared by training and the app, and the engines that run bundles.

Nothing here imports TensorFlow, `training` or `app`: both sides import this package, never the
other way round (tests/test_import_direction.py checks it).

`from models import Segmenter` is the Python API for the mask (models/segmenter.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.segmenter import Segmenter

__all__ = ["Segmenter"]


def __getattr__(name: str) -> Any:
    # Lazy: `import models.bundle` (training, the converter) must not load OpenCV and the
    # engines just because the package's API names them.
    if name == "Segmenter":
        from models.segmenter import Segmenter

        return Segmenter
    raise AttributeError(f"module 'models' has no attribute {name!r}")
