"""Temporal smoothing and person tracking across frames.

* ``OneEuroFilter`` (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cutoff rises
  with speed, so still poses are smooth and fast motion lags little. Works on arrays of any
  shape with per-element parameters; NaN inputs hold the previous estimate.
  For a time step ``dt`` and cutoff ``fc`` (Hz): ``alpha = 1 / (1 + 1 / (2 pi fc dt))``;
  the derivative is smoothed with ``d_cutoff`` and ``fc = min_cutoff + beta * |dx/dt|``.
* ``Tracker``: stable ids for people from their 3-D centroids (camera frame, metres): optimal
  assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``) of detections to live tracks
  on Euclidean distance, pairs farther than ``gate_m`` are not matched; unmatched detections
  start new tracks (ids count up from 0 and are never reused); a track not seen for more than
  ``max_age_s`` seconds (by the frame stamps) is dropped. Each track carries a ``state`` dict for
  its owner (filters, a warm start for IK, ...).

Times are seconds (frame stamps); a step that is not positive (repeated or missing stamps) uses
``nominal_dt``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba as nb
import numpy as np

__all__ = ['OneEuroFilter', 'Track', 'Tracker', 'orthonormalise_rotation']


class OneEuroFilter:
    """One-Euro filter over an array signal; parameters are scalars or arrays of its shape.

    Args:
        min_cutoff: cutoff (Hz) at zero speed; lower = smoother.
        beta: speed coefficient (cutoff increase per unit/s of speed); higher = less lag.
        d_cutoff: cutoff (Hz) of the derivative estimate.
        nominal_dt: step (s) used when the time does not advance.
    """

    def __init__(self, min_cutoff: float | np.ndarray = 1.0, beta: float | np.ndarray = 0.0,
                 d_cutoff: float = 1.0, nominal_dt: float = 1 / 30) -> None:
        if np.any(np.asarray(min_cutoff) <= 0) or d_cutoff <= 0 or nominal_dt <= 0:
            raise ValueError(f'OneEuroFilter: min_cutoff, d_cutoff and nominal_dt must be > 0, '
                             f'got {min_cutoff}, {d_cutoff}, {nominal_dt}')
        self.min_cutoff = np.asarray(min_cutoff, dtype=np.float64)
        self.beta = np.asarray(beta, dtype=np.float64)
        self.d_cutoff = float(d_cutoff)
        self.nominal_dt = float(nominal_dt)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))

    @property
    def value(self) -> np.ndarray | None:
        """The current estimate (None before the first sample)."""
        return None if self._x is None else self._x.copy()

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (s); returns the estimate (a new array)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            # per-element parameters, flat, for the compiled step
            self._mc = np.ascontiguousarray(np.broadcast_to(self.min_cutoff, x.shape)).ravel()
            self._beta = np.ascontiguousarray(np.broadcast_to(self.beta, x.shape)).ravel()
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f'x: expected shape {self._x.shape} (as the first sample), got '
                             f'{x.shape}')
        dt = float(t) - self._t
        if not dt > 0:
            dt = self.nominal_dt
        self._t = float(t)
        est, dx = np.empty_like(self._x), np.empty_like(self._dx)
        _one_euro_step(np.ascontiguousarray(x).ravel(), self._x.ravel(), self._dx.ravel(),
                       self._mc, self._beta, dt, float(self._alpha(dt, self.d_cutoff)),
                       est.ravel(), dx.ravel())
        self._x, self._dx = est, dx
        return est.copy()


@nb.njit(cache=True, nogil=True)
def _one_euro_step(x, x_prev, dx_prev, min_cutoff, beta, dt, a_d, est, dx):
    """One step of ``OneEuroFilter`` over flat arrays (compiled: a few microseconds for the
    ~80 values of a person, against ~40 us of small numpy calls). A NaN sample holds the
    previous estimate and derivative; an element not yet seen (NaN estimate) takes the sample."""
    k = 1.0 / (2.0 * np.pi * dt)
    for i in range(x.shape[0]):
        xi, xp = x[i], x_prev[i]
        if xi != xi:
            est[i], dx[i] = xp, dx_prev[i]
        elif xp != xp:
            est[i], dx[i] = xi, dx_prev[i]
        else:
            d = a_d * ((xi - xp) / dt) + (1.0 - a_d) * dx_prev[i]
            a = 1.0 / (1.0 + k / (min_cutoff[i] + beta[i] * abs(d)))
            est[i] = a * xi + (1.0 - a) * xp
            dx[i] = d


def orthonormalise_rotation(m: np.ndarray) -> np.ndarray:
    """A rotation (..., 3, 3) near ``m``, e.g. after filtering a rotation's elements.

    Gram-Schmidt on the first two columns (the continuous 6-D construction of Zhou et al. 2019);
    for matrices within a few degrees of a rotation it agrees with the SVD projection to second
    order, at a fraction of the cost for one or a few matrices.
    """
    a, b = m[..., :, 0], m[..., :, 1]
    x = a / np.sqrt((a * a).sum(-1, keepdims=True))
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.sqrt((b * b).sum(-1, keepdims=True))
    out = np.empty(np.shape(m))
    out[..., :, 0], out[..., :, 1] = x, y
    # x cross y, written out (np.cross costs more than the rest of this function on small input)
    out[..., 0, 2] = x[..., 1] * y[..., 2] - x[..., 2] * y[..., 1]
    out[..., 1, 2] = x[..., 2] * y[..., 0] - x[..., 0] * y[..., 2]
    out[..., 2, 2] = x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0]
    return out


@dataclass
class Track:
    """One tracked person."""

    track_id: int
    centroid: np.ndarray        # (3,) metres, last matched position
    first_stamp: float
    last_stamp: float
    hits: int = 1               # frames matched
    state: dict = field(default_factory=dict)

    @property
    def is_new(self) -> bool:
        return self.hits == 1


class Tracker:
    """Stable person ids by 3-D centroid distance; see the module docstring."""

    def __init__(self, gate_m: float = 0.6, max_age_s: float = 0.5) -> None:
        if gate_m <= 0 or max_age_s < 0:
            raise ValueError(f'Tracker: gate_m must be > 0 and max_age_s >= 0, got {gate_m}, '
                             f'{max_age_s}')
        self.gate_m = float(gate_m)
        self.max_age_s = float(max_age_s)
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 0

    def expire(self, stamp: float) -> None:
        """Drop tracks last seen more than ``max_age_s`` before ``stamp``."""
        self.tracks = [t for t in self.tracks if stamp - t.last_stamp <= self.max_age_s]

    def update(self, centroids: np.ndarray, stamp: float) -> list[Track]:
        """Match detections (N, 3) at time ``stamp``; returns the track of each detection.

        NaN centroids never match and start no track (their entry is None).
        """
        c = np.asarray(centroids, dtype=np.float64).reshape(-1, 3)
        self.expire(stamp)
        assigned: list[Track | None] = [None] * len(c)
        ok = np.all(np.isfinite(c), axis=1)
        if self.tracks and ok.any():
            prev = np.array([t.centroid for t in self.tracks])
            diff = c[:, None] - prev[None]
            dist = np.sqrt((diff * diff).sum(axis=2))  # np.linalg.norm costs more when small
            dist[~ok] = np.inf
            rows, cols = _assign(np.where(dist <= self.gate_m, dist, 1e9))
            for r, k in zip(rows, cols):
                if dist[r, k] <= self.gate_m:
                    track = self.tracks[k]
                    track.centroid, track.last_stamp = c[r].copy(), float(stamp)
                    track.hits += 1
                    assigned[r] = track
        for r in np.flatnonzero(ok):
            if assigned[r] is None:
                track = Track(self._next_id, c[r].copy(), float(stamp), float(stamp))
                self._next_id += 1
                self.tracks.append(track)
                assigned[r] = track
        return assigned


def _assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment (rows, cols); a single row or column is just its minimum."""
    if cost.shape[0] == 1 or cost.shape[1] == 1:
        flat = int(np.argmin(cost))
        r, k = divmod(flat, cost.shape[1])
        return np.array([r]), np.array([k])
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    return linear_sum_assignment(cost)
