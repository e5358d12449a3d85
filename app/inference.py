"""The inference stage: take the newest frame, segment it, hand it to the output stage."""

from __future__ import annotations

import time
from collections.abc import Callable

from app.frame import Frame
from app.queues import DropOldestQueue, LatestSlot, put_waiting
from app.run_state import POLL_S, RunState
from app.segmenter import Segmenter
from app.stats import Stats


class Inference:
    def __init__(self, segmenter: Segmenter, state: RunState, stats: Stats,
                 slot: LatestSlot[Frame], queue: DropOldestQueue[Frame],
                 live: Callable[[], bool]) -> None:
        self.segmenter = segmenter
        self.state = state
        self.stats = stats
        self.slot = slot
        self.queue = queue
        self.live = live  # asked per frame: the capture stage learns it when the source opens

    def run(self) -> None:
        state = self.state
        while not state.halt.is_set():
            state.beat("inference")
            frame = self.slot.get(POLL_S)
            if frame is None:
                if state.done["capture"].is_set() and self.slot.empty():
                    return
                continue
            started = time.perf_counter()
            frame.labels = self.segmenter.segment(frame.image, frame.timings)
            self.stats.record("infer", frame.timings["infer"])
            self.stats.record("inference_stage", time.perf_counter() - started)
            self.stats.inferred.tick()
            if self.live():
                self.queue.put(frame)
            else:
                put_waiting(self.queue, frame, state.halt, lambda: state.beat("inference"),
                            POLL_S)
