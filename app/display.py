"""An OpenCV window sink: show annotated frames, report when the user wants to stop.

HighGUI (Qt here) is not thread-safe: create, show and close a Display from one thread only
(the output thread). `waitKey(1)` in `show` is what lets the window repaint and receive keys.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import cv2
import numpy as np

log = logging.getLogger(__name__)

_QUIT_KEYS = frozenset({ord("q"), ord("Q"), 27})  # q or Esc


def gui_backend() -> str:
    """The HighGUI backend cv2 was built with ("QT5", "GTK3", ...) or "NONE"."""
    for line in cv2.getBuildInformation().splitlines():
        key, _, value = line.strip().partition(":")
        if key == "GUI":
            return value.strip() or "NONE"
    return "NONE"


def display_available() -> bool:
    """True when there is a display server to talk to and cv2 can open windows at all."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return gui_backend().upper() != "NONE"  # opencv-python-headless reports GUI: NONE


def x11_screen_size() -> tuple[int, int] | None:
    """(width, height) of the default X screen, or None when there is no X display."""
    if not os.environ.get("DISPLAY"):
        return None
    name = ctypes.util.find_library("X11")
    if name is None:
        return None
    try:
        x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x11.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        try:
            screen = x11.XDefaultScreen(display)
            return x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
        finally:
            x11.XCloseDisplay(display)
    except (OSError, AttributeError):
        return None


def _point_qt_at_system_fonts() -> None:
    """opencv-python's bundled Qt ships no fonts and warns on every window; use the system's."""
    if "QT_QPA_FONTDIR" in os.environ or gui_backend().upper() != "QT5":
        return
    bundled = os.path.join(os.path.dirname(cv2.__file__), "qt", "fonts")
    for candidate in (bundled, "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype"):
        if os.path.isdir(candidate):
            os.environ["QT_QPA_FONTDIR"] = candidate
            return


class Display:
    """A window that shows frames; `show` returns False once the user asked to quit."""

    def __init__(self, title: str = "segcam", fullscreen: bool = False) -> None:
        self.title = title
        self.fullscreen = fullscreen
        self._open = False
        self._closed_by_user = False

    def _create(self) -> None:
        _point_qt_at_system_fonts()
        # GUI_NORMAL: no Qt toolbar/status bar around the picture (kiosk look).
        flags = cv2.WINDOW_GUI_NORMAL
        flags |= cv2.WINDOW_NORMAL if self.fullscreen else cv2.WINDOW_AUTOSIZE
        cv2.namedWindow(self.title, flags)
        if self.fullscreen:
            # Without a window manager (bare X kiosk) the fullscreen request is not honoured;
            # covering the screen by hand first gives the same picture either way.
            size = x11_screen_size()
            if size is not None:
                cv2.moveWindow(self.title, 0, 0)
                cv2.resizeWindow(self.title, *size)
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        self._open = True
        log.info("display window %r opened%s", self.title, " fullscreen" if self.fullscreen else "")

    def show(self, image: np.ndarray) -> bool:
        """Show one frame. False when q/Esc was pressed or the window was closed."""
        if self._closed_by_user:
            return False
        if not self._open:
            self._create()
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1)
        if key != -1 and (key & 0xFF) in _QUIT_KEYS:
            log.info("display: quit key pressed")
            self._closed_by_user = True
            return False
        # The window manager's close button destroys the window; HighGUI reports it as not visible.
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            log.info("display: window closed")
            self._closed_by_user = True
            return False
        return True

    def close(self) -> None:
        if self._open:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)  # let HighGUI process the destroy before the thread goes away
            except cv2.error:
                pass  # already gone (closed by the user)
            self._open = False

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
