"""Approximate time synchronisation of several message streams (no message_filters here).

:class:`ApproximateTimeSync` pairs messages of N inputs (depth, CameraInfo, optional RGB) whose
header stamps lie within ``slop_s`` of each other, like ``message_filters``'
``ApproximateTimeSynchronizer`` with a simpler policy that favours the newest data:

* every input keeps at most ``queue_size`` messages, sorted by stamp (the oldest is evicted
  and counted in ``evicted``);
* when a message arrives, each other input contributes its message nearest in time; if the
  spread (max - min stamp) of that set is ``<= slop_s`` the callback receives the set, and every
  queued message not newer than the matched one of its input is removed (older data can no longer
  form a newer set).

A set that does not include the newest message can never be emitted later than that message, so
checking only around each arriving message finds every match. Stamps are float seconds. Thread
safe; the callback runs outside the lock, in the caller's thread.
"""
from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from typing import Any


class ApproximateTimeSync:
    """Calls ``callback(*messages)`` (in input order) for each matched set."""

    def __init__(self, num_inputs: int, slop_s: float, queue_size: int,
                 callback: Callable[..., Any]) -> None:
        if num_inputs < 1:
            raise ValueError(f'num_inputs must be >= 1, got {num_inputs}')
        if not slop_s >= 0:
            raise ValueError(f'slop_s must be >= 0 seconds, got {slop_s}')
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        self.num_inputs, self.slop_s, self.queue_size = num_inputs, float(slop_s), queue_size
        self._callback = callback
        self._stamps: list[list[float]] = [[] for _ in range(num_inputs)]
        self._msgs: list[list[Any]] = [[] for _ in range(num_inputs)]
        self._lock = threading.Lock()
        self.matched = 0   # sets delivered
        self.evicted = 0   # messages dropped unmatched (queue full or superseded)
        self.received = [0] * num_inputs

    def add(self, index: int, stamp_s: float, msg: Any) -> bool:
        """Queue ``msg`` of input ``index`` stamped ``stamp_s``; True when a set was emitted."""
        if not 0 <= index < self.num_inputs:
            raise IndexError(f'input index {index} outside 0..{self.num_inputs - 1}')
        with self._lock:
            self.received[index] += 1
            stamps, msgs = self._stamps[index], self._msgs[index]
            pos = bisect.bisect_right(stamps, stamp_s)
            stamps.insert(pos, stamp_s)
            msgs.insert(pos, msg)
            if len(stamps) > self.queue_size:
                del stamps[0], msgs[0]
                self.evicted += 1
                if pos == 0:
                    return False  # the new message itself was the oldest
            matched = self._match(index, stamp_s)
        if matched is None:
            return False
        self._callback(*matched)
        return True

    def _match(self, index: int, stamp_s: float) -> list | None:
        picks = []
        for i in range(self.num_inputs):
            if i == index:
                picks.append(self._stamps[i].index(stamp_s))
                continue
            stamps = self._stamps[i]
            if not stamps:
                return None
            k = bisect.bisect_left(stamps, stamp_s)
            near = [c for c in (k - 1, k) if 0 <= c < len(stamps)]
            picks.append(min(near, key=lambda c: abs(stamps[c] - stamp_s)))
        chosen = [self._stamps[i][k] for i, k in enumerate(picks)]
        if max(chosen) - min(chosen) > self.slop_s:
            return None
        out = []
        for i, k in enumerate(picks):
            out.append(self._msgs[i][k])
            self.evicted += k  # older messages of this input can no longer match
            del self._stamps[i][:k + 1], self._msgs[i][:k + 1]
        self.matched += 1
        return out

    def pending(self) -> list[int]:
        """Messages waiting per input."""
        with self._lock:
            return [len(s) for s in self._stamps]

    def clear(self) -> None:
        with self._lock:
            for i in range(self.num_inputs):
                self._stamps[i].clear()
                self._msgs[i].clear()
