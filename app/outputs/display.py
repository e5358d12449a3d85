"""The window output: shows annotated frames, repaints while idle, and quits on q/Esc or close."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from app.config import DisplaySettings
from app.display import Display, display_available
from app.outputs.base import Output, Rendered
from app.render import draw_hud

log = logging.getLogger("app.pipeline")
OFFLINE_SIZE = (480, 640)  # (h, w) of the "camera offline" picture before any frame came


def open_display(settings: DisplaySettings, headless: bool,
                 on_quit: Callable[[], None]) -> DisplayOutput | None:
    """The window output, or None when headless, disabled or there is no display."""
    if headless or settings.enabled is False:
        return None
    if not display_available():
        if settings.enabled is True:
            log.warning("display.enabled is true but there is no display (DISPLAY unset, "
                        "or OpenCV without GUI); running without a window")
        return None
    return DisplayOutput(Display(settings.title, settings.fullscreen), on_quit)


def idle_picture(shown: np.ndarray | None, offline: bool, hud: str | None) -> np.ndarray | None:
    """What the window shows while no frame comes: the last frame (so the window keeps
    answering keys and repaints), dimmed with "CAMERA OFFLINE" while the source is down;
    None before the first frame of a source that has not failed (nothing to say yet)."""
    if not offline:
        return shown
    picture = np.zeros((*OFFLINE_SIZE, 3), np.uint8) if shown is None else shown >> 1
    draw_hud(picture, hud or "CAMERA OFFLINE")
    return picture


class DisplayOutput(Output):
    name = "display"

    def __init__(self, display: Display, on_quit: Callable[[], None]) -> None:
        self.display: Display | None = display
        self.on_quit = on_quit  # q/Esc or the close button: a graceful stop, as a signal
        self._shown: np.ndarray | None = None

    def write(self, rendered: Rendered) -> None:
        self._shown = rendered.image
        self._show(rendered.image)

    def idle(self, offline: bool, hud: str | None) -> None:
        picture = idle_picture(self._shown, offline, hud)
        if picture is not None:
            self._show(picture)

    def _show(self, picture: np.ndarray) -> None:
        if self.display is not None and not self.display.show(picture):
            log.info("window closed by the user: stopping")
            self.close()
            self.on_quit()

    def close(self) -> None:
        if self.display is not None:
            self.display.close()
            self.display = None
