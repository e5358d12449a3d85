"""The two hand-offs: bounded whatever the speeds, drops counted, waiting producers released."""

from __future__ import annotations

import threading
import time

import pytest

from app.queues import DropOldestQueue, LatestSlot


def test_latest_slot_keeps_the_newest_and_counts_what_it_replaced():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.dropped == 4
    assert slot.get(0) == 4
    assert slot.empty() and slot.get(0.01) is None
    slot.put(5)  # taking the item is not a drop
    assert slot.dropped == 4 and slot.get(0) == 5


def test_drop_oldest_queue_is_bounded_and_drops_the_oldest():
    queue: DropOldestQueue[int] = DropOldestQueue(3)
    for i in range(10):
        queue.put(i)
    assert len(queue) == 3 and queue.dropped == 7
    assert [queue.get(0) for _ in range(3)] == [7, 8, 9]  # FIFO among the survivors
    assert queue.get(0.01) is None
    with pytest.raises(ValueError):
        DropOldestQueue(0)


def test_get_waits_for_a_put_from_another_thread():
    queue: DropOldestQueue[str] = DropOldestQueue(1)
    slot: LatestSlot[str] = LatestSlot()
    timer = threading.Timer(0.05, lambda: (queue.put("q"), slot.put("s")))
    timer.start()
    assert queue.get(5) == "q"
    assert slot.get(5) == "s"
    timer.join()


@pytest.mark.parametrize("kind", ["slot", "queue"])
def test_a_waiting_producer_is_released_by_the_consumer(kind):
    """Both the producer (waiting for room) and the consumer share one condition: the consumer's
    get() must wake the producer, or a finite source would stall until its poll timeout."""
    if kind == "slot":
        hand_off: LatestSlot[int] | DropOldestQueue[int] = LatestSlot()
        hand_off.put(0)

        def wait_for_room(timeout: float) -> bool:
            return hand_off.wait_empty(timeout)
    else:
        hand_off = DropOldestQueue(2)
        hand_off.put(0)
        hand_off.put(1)

        def wait_for_room(timeout: float) -> bool:
            return hand_off.wait_for_room(timeout)

    assert not wait_for_room(0.01)  # full: a short wait gives up
    released = threading.Event()
    waited: list[float] = []

    def producer() -> None:
        started = time.monotonic()
        if wait_for_room(10):
            waited.append(time.monotonic() - started)
            hand_off.put(99)
            released.set()

    thread = threading.Thread(target=producer)
    thread.start()
    time.sleep(0.05)
    assert not released.is_set()  # still waiting: no room yet
    assert hand_off.get(1) == 0
    assert released.wait(5), "the producer was not woken by get()"
    thread.join(5)
    assert waited[0] < 5  # woken, not timed out
    assert hand_off.dropped == 0  # waiting producers never drop


def test_a_consumer_waiting_on_an_empty_queue_is_not_fooled_by_a_producer_wakeup():
    """get() wakes producers with notify_all; a consumer woken that way keeps waiting."""
    queue: DropOldestQueue[int] = DropOldestQueue(1)
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(queue.get(2)))
    consumer.start()
    time.sleep(0.05)
    assert queue.wait_for_room(0)  # unrelated traffic on the condition
    with queue._cond:
        queue._cond.notify_all()  # a spurious wakeup, as another party's notify would be
    time.sleep(0.05)
    assert consumer.is_alive(), "get() returned on a wakeup that brought no item"
    queue.put(7)
    consumer.join(5)
    assert got == [7]
