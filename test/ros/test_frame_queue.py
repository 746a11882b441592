"""LatestFrameWorker: never blocks, keeps the newest, counts drops, survives handler errors."""
import threading
import time

import pytest

from kinpose_ros.ros.frame_queue import LatestFrameWorker


def test_newest_item_is_processed_and_drops_counted():
    gate = threading.Event()
    seen = []

    def handler(item):
        gate.wait(5)
        seen.append(item)
    w = LatestFrameWorker(handler, depth=1)
    try:
        assert w.submit(0)
        time.sleep(0.05)  # 0 is now running (blocked on the gate)
        t0 = time.perf_counter()
        results = [w.submit(k) for k in range(1, 101)]
        assert time.perf_counter() - t0 < 0.05, 'submit blocked'
        assert results[0] and not any(results[1:])
        gate.set()
        assert w.wait_idle(5)
        assert seen == [0, 100]
        assert (w.submitted, w.processed, w.dropped) == (101, 2, 99)
    finally:
        assert w.stop()


def test_deeper_queue_keeps_the_last_n():
    gate = threading.Event()
    seen = []
    w = LatestFrameWorker(lambda i: (gate.wait(5), seen.append(i)), depth=3)
    try:
        w.submit('a')
        time.sleep(0.05)
        for k in range(10):
            w.submit(k)
        gate.set()
        assert w.wait_idle(5)
        assert seen == ['a', 7, 8, 9] and w.dropped == 7
    finally:
        w.stop()


def test_handler_errors_do_not_stop_the_thread():
    errors = []

    def handler(item):
        if item == 'bad':
            raise RuntimeError('boom')
    w = LatestFrameWorker(handler, on_error=errors.append)
    try:
        w.submit('bad')
        assert w.wait_idle(5)
        w.submit('good')
        assert w.wait_idle(5)
        assert w.errors == 1 and str(errors[0]) == 'boom' and w.processed == 2 and w.alive
    finally:
        w.stop()


def test_stop_joins_and_refuses_new_items():
    w = LatestFrameWorker(lambda i: time.sleep(0.1))
    w.submit(1)
    time.sleep(0.02)
    assert w.stop(2) and not w.alive
    assert not w.submit(2)
    with pytest.raises(ValueError, match='depth'):
        LatestFrameWorker(print, depth=0)
