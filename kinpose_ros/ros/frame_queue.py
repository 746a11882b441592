"""Hands frames from ROS callbacks to one inference thread; only the newest ones wait.

:class:`LatestFrameWorker` keeps at most ``depth`` items; submitting to a full queue drops the
OLDEST waiting item (counted in ``dropped``), so after a slow frame the worker continues with the
newest data instead of working through a backlog: latency stays bounded by about two processing
times whatever the input rate. ``submit`` never blocks (callbacks stay fast). Pure Python, no ROS.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class LatestFrameWorker:
    """Runs ``handler(item)`` on a daemon thread for submitted items, newest first.

    Exceptions from the handler go to ``on_error(exc)`` (default: re-raised nowhere, counted in
    ``errors``); the thread keeps running.
    """

    def __init__(self, handler: Callable[[Any], None], depth: int = 1,
                 on_error: Callable[[BaseException], None] | None = None,
                 name: str = 'kinpose-inference') -> None:
        if depth < 1:
            raise ValueError(f'queue depth must be >= 1, got {depth}')
        self._handler, self._on_error = handler, on_error
        self._queue: deque = deque()
        self._depth = depth
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self.submitted = self.processed = self.dropped = self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> bool:
        """Queue ``item``; returns False when an older waiting item was dropped for it."""
        with self._cond:
            if self._stopping:
                return False
            self.submitted += 1
            kept = True
            while len(self._queue) >= self._depth:
                self._queue.popleft()
                self.dropped += 1
                kept = False
            self._queue.append(item)
            self._cond.notify()
        return kept

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._handler(item)
            except Exception as exc:  # noqa: BLE001 - a bad frame must not kill the thread
                self.errors += 1
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self.processed += 1
                    self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until nothing is queued or running (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Drop waiting items, let the running one finish, join; False if it did not end."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
