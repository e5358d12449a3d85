"""Where the files that ship with segcam are, found from this code's location (never from the
current folder): `segcam` run from any folder, and an app config without `model.bundle`, use
these."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
# The CamVid Unet bundle the app runs by default (models/camvid-unet/README.md).
SHIPPED_BUNDLE = MODELS_DIR / "camvid-unet"
