"""Counters, rates and latency percentiles of a running node (thread safe, no ROS).

Used for the node's diagnostics, by the tests and by ``kinpose bench node``. Rates are events per
second over the last ``window_s``; latencies keep the last ``keep`` samples per stage (ms).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np


class PipelineStats:
    """``count`` events, ``add_ms`` stage durations, ``snapshot`` everything as a flat dict."""

    def __init__(self, window_s: float = 5.0, keep: int = 2000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._window, self._keep, self._clock = float(window_s), int(keep), clock
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._times: dict[str, deque] = {}
        self._ms: dict[str, deque] = {}
        self.started = clock()

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` events ``name`` now (also feeds the rate of ``name``)."""
        now = self._clock()
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n
            times = self._times.setdefault(name, deque())
            times.append(now)
            while times and now - times[0] > self._window:
                times.popleft()

    def add_ms(self, stage: str, ms: float) -> None:
        with self._lock:
            self._ms.setdefault(stage, deque(maxlen=self._keep)).append(float(ms))

    def total(self, name: str) -> int:
        with self._lock:
            return self._counts.get(name, 0)

    def rate_hz(self, name: str) -> float:
        now = self._clock()
        with self._lock:
            times = self._times.get(name)
            if not times:
                return 0.0
            recent = [t for t in times if now - t <= self._window]
            span = min(self._window, now - self.started)
        return len(recent) / span if span > 0 else 0.0

    def percentiles(self, stage: str, qs=(50, 99)) -> list[float]:
        with self._lock:
            values = list(self._ms.get(stage, ()))
        if not values:
            return [float('nan')] * len(qs)
        return [float(v) for v in np.percentile(values, qs)]

    def snapshot(self) -> dict:
        """``<name>`` totals, ``<name>_hz`` rates, ``<stage>_ms_p50/_p99`` latencies."""
        with self._lock:
            names, stages = list(self._counts), list(self._ms)
        out: dict = {}
        for name in names:
            out[name] = self.total(name)
            out[f'{name}_hz'] = self.rate_hz(name)
        for stage in stages:
            p50, p99 = self.percentiles(stage)
            out[f'{stage}_ms_p50'], out[f'{stage}_ms_p99'] = p50, p99
        return out
