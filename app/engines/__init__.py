"""The engines moved to `models.engines` (imported by the app and by training alike).

Kept so callers outside this change (tests/app, bench/pipeline.py, scripts/demo_frame.py) still
work; new code imports `models.engines`.
"""

from __future__ import annotations

from models.engines import BACKENDS, Engine, EngineError, choose_backend, open_engine

__all__ = ["BACKENDS", "Engine", "EngineError", "choose_backend", "open_engine"]
