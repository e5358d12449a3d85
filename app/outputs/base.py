"""The one protocol every output implements; the output stage walks a list of them.

An output is built in the caller's thread (so bad settings fail before any thread starts) and
then used only from the output thread: `write` for each annotated frame, `idle` when no frame
came within one poll (a window must keep repainting and answering keys), `close` once at the
end. An output that raises is closed and dropped by the output stage; the others go on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from app.frame import Frame


@dataclass(frozen=True)
class Rendered:
    image: np.ndarray  # the annotated (H, W, 3) uint8 BGR picture
    frame: Frame  # what it was made from: labels, index, capture time
    live: bool  # a camera (drop when behind) rather than a clip (wait, keep every frame)
    source_fps: float | None  # the source's nominal rate, when it knows one


class Output(ABC):
    name: str = "output"

    @abstractmethod
    def write(self, rendered: Rendered) -> None: ...

    def idle(self, offline: bool, hud: str | None) -> None:  # noqa: B027 - optional hook
        """No frame came within one poll; `hud` is the current HUD text (None: HUD off)."""

    @abstractmethod
    def close(self) -> None: ...
