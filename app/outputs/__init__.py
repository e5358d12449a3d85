"""Where annotated frames go: one small protocol (`app/outputs/base.py`), one file per output."""

from app.outputs.base import Output, Rendered

__all__ = ["Output", "Rendered"]
