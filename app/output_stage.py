"""The output stage: render each segmented frame once and hand it to every output in turn.

While no frame comes, outputs get `idle()` (a window repaints the last frame, dimmed with
"CAMERA OFFLINE" while the source is down). An output that raises is logged, closed and
dropped; the others and the camera go on. A renderer bug ends the run (the supervisor's guard).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.frame import Frame
from app.hud import HudText
from app.outputs import Output, Rendered
from app.queues import DropOldestQueue
from app.render import Renderer
from app.run_state import POLL_S, RunState
from app.stats import Stats

log = logging.getLogger("app.pipeline")


class OutputStage:
    def __init__(self, renderer: Renderer, hud: HudText | None, outputs: list[Output],
                 state: RunState, stats: Stats, queue: DropOldestQueue[Frame],
                 source: Callable[[], tuple[bool, float | None, bool]],
                 on_first_frame: Callable[[], None] = lambda: None) -> None:
        self.renderer = renderer
        self.hud = hud
        self.outputs = list(outputs)
        self.state = state
        self.stats = stats
        self.queue = queue
        self.source = source  # () -> (live, nominal fps, offline), as the capture stage knows
        self.on_first_frame = on_first_frame

    def run(self) -> None:
        try:
            while not self.state.halt.is_set():
                self.state.beat("output")
                frame = self.queue.get(POLL_S)
                if frame is None:
                    if self.state.done["inference"].is_set() and len(self.queue) == 0:
                        return
                    self._idle()
                    continue
                self._deliver(frame)
        finally:
            for output in self.outputs:
                self._close(output)

    def _deliver(self, frame: Frame) -> None:
        started = time.perf_counter()
        live, fps, offline = self.source()
        hud = self.hud.text(offline) if self.hud is not None else None
        rendered = Rendered(self.renderer.annotate(frame.image, frame.labels, hud), frame, live,
                            fps)
        done_rendering = time.perf_counter()
        self.stats.record("render", done_rendering - started)
        for output in list(self.outputs):
            self._call(output, output.write, rendered)
        self.stats.record("sinks", time.perf_counter() - done_rendering)
        self.stats.record("capture_to_output", time.monotonic() - frame.captured_at)
        self.stats.output.tick()
        self.stats.last_output = time.monotonic()
        if not self.stats.first_output:
            self.stats.first_output = self.stats.last_output
            log.info("first frame through (%dx%d)", frame.image.shape[1], frame.image.shape[0])
            self.on_first_frame()

    def _idle(self) -> None:
        _live, _fps, offline = self.source()
        hud = self.hud.text(offline) if self.hud is not None else None
        for output in list(self.outputs):
            self._call(output, output.idle, offline, hud)

    def _call(self, output: Output, method: Callable, *args: object) -> None:
        try:
            method(*args)
        except Exception:  # noqa: BLE001 - one broken output must not take the others down
            log.exception("%s output failed; closing it, the others go on", output.name)
            self.outputs.remove(output)
            self._close(output)

    def _close(self, output: Output) -> None:
        try:
            output.close()
        except Exception:  # noqa: BLE001 - the remaining outputs must still close their files
            log.exception("%s output failed to close", output.name)
