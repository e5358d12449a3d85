"""The two hand-offs of the frame path; neither can grow, whatever the speeds.

The standard library's queue.Queue blocks or raises when full; both policies here drop instead
(and count it), which is what a live camera wants, so they are written out in a few lines.
For sources that are not live, the producer calls `wait_empty` / `wait_for_room` first and so
never drops.

Every state change wakes every waiter (`notify_all`): a producer waiting for room and a consumer
waiting for an item share one condition, and a plain `notify` could wake the wrong one.
Waits use `wait_for`, so a wakeup meant for the other side is not mistaken for a result.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

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
            self._cond.notify_all()

    def empty(self) -> bool:
        with self._cond:
            return self._item is None

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to `timeout` for the slot to be taken; True when it is empty."""
        with self._cond:
            return self._cond.wait_for(lambda: self._item is None, timeout)

    wait_for_room = wait_empty  # the one name put_waiting() needs

    def get(self, timeout: float) -> T | None:
        """The newest item, or None after `timeout` seconds without one."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None, timeout):
                return None
            item, self._item = self._item, None
            self._cond.notify_all()  # a producer waiting in wait_empty may now put
            return item


class DropOldestQueue(Generic[T]):
    """A bounded FIFO: when full, the oldest item is dropped (counted in `dropped`)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
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
            self._cond.notify_all()

    def get(self, timeout: float) -> T | None:
        """The oldest item, or None after `timeout` seconds without one."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            self._cond.notify_all()  # a producer waiting in wait_for_room may now put
            return item

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to `timeout` for a free place; True when there is one."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) < self._maxsize, timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class _Bounded(Protocol[T]):
    def put(self, item: T) -> None: ...
    def wait_for_room(self, timeout: float) -> bool: ...


def put_waiting(target: _Bounded[T], item: T, halt: threading.Event, beat: Callable[[], None],
                poll_s: float) -> bool:
    """For sources that are not live: wait for room instead of dropping. False on `halt`.

    The consumer leaves only when its producer is done or on `halt`, so polling `halt` is what
    keeps a producer from waiting forever for a consumer that has died. Only one thread puts,
    so the room cannot be taken between the wait and the put.
    """
    while not halt.is_set():
        beat()
        if target.wait_for_room(poll_s):
            target.put(item)
            return True
    return False
