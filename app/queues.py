"""The two hand-offs of the frame path; neither can grow, whatever the speeds.

The standard library's queue.Queue blocks or raises when full; both policies here drop instead
(and count it), which is what a live camera wants, so they are written out in a few lines.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds one item: a new one replaces an unread one (counted in `dropped`)."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def empty(self) -> bool:
        with self._cond:
            return self._item is None

    def empty_or_wait(self, timeout: float) -> bool:
        """Wait up to `timeout` for the slot to be taken; True when it is empty."""
        with self._cond:
            if self._item is not None:
                self._cond.wait(timeout)
            return self._item is None

    def get(self, timeout: float) -> T | None:
        """The newest item, or None after `timeout` seconds without one."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._cond.notify_all()  # a waiting producer may now put
            return item


class DropOldestQueue(Generic[T]):
    """A bounded FIFO: when full, the oldest item is dropped (counted in `dropped`)."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> T | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            item = self._items.popleft() if self._items else None
            self._cond.notify_all()  # a waiting producer may now put
            return item

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to `timeout` for a free place; True when there is one."""
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._cond.wait(timeout)
            return len(self._items) < self._maxsize

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
