"""Sensor model: what a real depth camera does to an ideal depth image.

Effects, in order (one numba pass plus a shadow sweep per row):

1. Range: no return beyond ``max_range_m`` (6.5-9 m: beyond the farthest person, so labels stay
   observable) or nearer than ``min_range_m`` (0.25-0.6 m).
2. Shadow band (structured light / active stereo): a background pixel hidden from the projector
   by a nearer surface gets no depth. With baseline ``b`` and focal ``f``, the pixel at column
   ``c`` and depth ``z`` is shadowed when some pixel ``k`` on the projector side has
   ``|c - k| < f * b * (1 / z_k - 1 / z)``, evaluated in O(1) per pixel with a running maximum.
3. Silhouette edges: pixels with a depth jump to a 4-neighbour are dropped with probability
   ``edge_drop``, or become flying pixels (a random mix of the two depths) with ``flying``.
4. Grazing surfaces: dropped with a probability rising as ``|cos(incidence)|`` falls below
   ``grazing_cos``.
5. Holes: a few random ellipses plus isolated dropouts (``speckle``).
6. Noise: Gaussian with ``sigma_mm = a + b * (z - 0.4)^2`` (Kinect-class structured light:
   a = 1.2, b = 1.9; ToF sensors are flatter).
7. Quantisation: structured light quantises disparity ``f * b / z`` to ``1 / subpixel`` pixel;
   every sensor's output is then rounded to its depth unit by the encoding (1 mm for 16UC1).

Depth is in metres (z along the optical axis); the output marks invalid pixels with NaN.
Randomness comes from numba's generator seeded per call: deterministic for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class SensorParams:
    """One sensor's effect strengths (see the module docstring for each)."""

    tech: str = 'sl'
    noise_a_mm: float = 1.2
    noise_b_mm: float = 1.9
    baseline_m: float = 0.075
    subpixel: float = 8.0
    projector_left: bool = False
    min_range_m: float = 0.4
    max_range_m: float = 6.0
    edge_drop: float = 0.3
    flying: float = 0.15
    grazing_cos: float = 0.2
    speckle: float = 0.002
    holes: int = 2


def sample_sensor_params(rng: np.random.Generator, tech: str) -> SensorParams:
    """Random effect strengths around the typical values of a technology ('sl' or 'tof')."""
    if tech == 'random':
        tech = 'sl' if rng.uniform() < 0.6 else 'tof'
    if tech == 'tof':
        return SensorParams(
            'tof', rng.uniform(1.0, 3.0), rng.uniform(0.3, 1.5), 0.0, 8.0, False,
            rng.uniform(0.25, 0.5), rng.uniform(6.5, 9.0), rng.uniform(0.1, 0.5),
            rng.uniform(0.2, 0.6), rng.uniform(0.1, 0.3), rng.uniform(0.0, 0.004),
            int(rng.integers(0, 4)))
    return SensorParams(
        'sl', rng.uniform(0.8, 2.0), rng.uniform(1.2, 3.0), rng.uniform(0.05, 0.08),
        rng.choice([4.0, 8.0, 16.0]), bool(rng.uniform() < 0.5), rng.uniform(0.35, 0.6),
        rng.uniform(6.5, 8.5), rng.uniform(0.2, 0.6), rng.uniform(0.0, 0.2),
        rng.uniform(0.1, 0.3), rng.uniform(0.0, 0.004), int(rng.integers(0, 4)))


# A fixed table of standard normal samples, read sequentially from a random start: far cheaper
# than drawing 10^5 normals per frame, and uncorrelated enough for sensor noise.
_GAUSS = np.random.default_rng(20261121).standard_normal(1 << 19).astype(np.float32)


def apply_sensor(depth: np.ndarray, cosine: np.ndarray, params: SensorParams, fx: float,
                 seed: int, rng: np.random.Generator) -> np.ndarray:
    """Ideal depth (H, W) float32 metres (inf = no surface) -> measured depth, NaN invalid.

    Args:
        depth: ideal z-buffer.
        cosine: (H, W) ``|cos|`` of the incidence angle per pixel.
        params: effect strengths.
        fx: focal length in pixels (shadow width).
        seed: seeds the per-pixel decisions at edges and grazing pixels.
        rng: draws the holes, the speckle dropouts and where the Gaussian noise is read.
    """
    H, W = depth.shape
    drop = np.zeros((H, W), np.bool_)
    for _ in range(params.holes):
        _draw_hole(drop, rng)
    n_speckle = rng.binomial(H * W, params.speckle)
    if n_speckle:
        drop.reshape(-1)[rng.integers(0, H * W, n_speckle)] = True
    fb = fx * params.baseline_m
    return _sensor_kernel(depth, cosine, _GAUSS, int(rng.integers(_GAUSS.size)), drop, fb,
                          params.tech == 'sl', params.projector_left, params.subpixel,
                          params.noise_a_mm * 1e-3, params.noise_b_mm * 1e-3,
                          params.min_range_m, params.max_range_m, params.edge_drop,
                          params.flying, params.grazing_cos, seed)


def _draw_hole(drop: np.ndarray, rng: np.random.Generator) -> None:
    """Mark a random blob (an ellipse with a ragged edge) as invalid, in place."""
    H, W = drop.shape
    cu, cv = rng.uniform(0, W), rng.uniform(0, H)
    ru, rv = rng.uniform(1.5, 0.03 * W), rng.uniform(1.5, 0.03 * W)
    c0, c1 = max(int(cu - ru), 0), min(int(cu + ru) + 1, W)
    r0, r1 = max(int(cv - rv), 0), min(int(cv + rv) + 1, H)
    if c0 >= c1 or r0 >= r1:
        return
    du = (np.arange(c0, c1) - cu) / ru
    dv = (np.arange(r0, r1) - cv) / rv
    inside = du[None, :] ** 2 + dv[:, None] ** 2 < rng.uniform(0.6, 1.0, (r1 - r0, c1 - c0))
    drop[r0:r1, c0:c1] |= inside


@numba.njit(cache=True, fastmath=True)
def _shadow_row(depth, r, fb, projector_left, shadow):
    """Fill ``shadow`` (W,) bool: pixels of row ``r`` the projector cannot see (see the module
    docstring: a running maximum of ``k + f b / z_k`` from the projector side)."""
    W = depth.shape[1]
    best = -1e30
    for i in range(W):
        c = W - 1 - i if projector_left else i
        z = depth[r, c]
        key = fb / z if z < 1e30 else 0.0
        pos = float(-c if projector_left else c)
        shadow[c] = best > pos + key + 0.5
        best = max(best, pos + key)


@numba.njit(cache=True, inline='always')
def c_left(c):
    return c - 1 if c > 0 else c


@numba.njit(cache=True, inline='always')
def c_right(c, W):
    return c + 1 if c + 1 < W else c


@numba.njit(cache=True, fastmath=True)
def _farthest_neighbour(depth, r, c, z):
    """Depth of the 4-neighbour of (r, c) that differs most from ``z`` (slow path, edges only)."""
    H, W = depth.shape
    jump, other = 0.0, z
    for rr, cc in ((r, c + 1), (r, c - 1), (r + 1, c), (r - 1, c)):
        if 0 <= rr < H and 0 <= cc < W and abs(depth[rr, cc] - z) > jump:
            jump, other = abs(depth[rr, cc] - z), depth[rr, cc]
    return other


@numba.njit(cache=True, fastmath=True)
def _sensor_kernel(depth, cosine, gauss, start, drop, fb, shadows, projector_left, subpixel,
                   noise_a, noise_b, min_range, max_range, edge_drop, flying, grazing_cos, seed):
    np.random.seed(seed)
    H, W = depth.shape
    out = np.empty((H, W), np.float32)
    quantise = shadows and fb > 0.0
    mask = gauss.size - 1
    fbs = fb * subpixel
    # disparity steps q -> depth fbs / q, tabulated (one division per pixel instead of two)
    n_steps = int(fbs / max(min_range * 0.5, 0.05)) + 2 if quantise else 1
    step_depth = np.empty(n_steps)
    for q in range(n_steps):
        step_depth[q] = fbs / q if q > 0 else np.nan
    shadow = np.zeros(W, np.bool_)
    for r in range(H):
        r_up, r_down = max(r - 1, 0), min(r + 1, H - 1)
        if quantise:
            _shadow_row(depth, r, fb, projector_left, shadow)
        for c in range(W):
            z = np.float64(depth[r, c])
            if drop[r, c] or shadow[c] or not (min_range <= z <= max_range):
                out[r, c] = np.nan
                continue
            # branch-free largest jump to a 4-neighbour (edges are rare: slow path there)
            zf = depth[r, c]
            jump = max(max(abs(depth[r, c_left(c)] - zf), abs(depth[r, c_right(c, W)] - zf)),
                       max(abs(depth[r_up, c] - zf), abs(depth[r_down, c] - zf)))
            if jump > 0.04 + 0.02 * z:
                u = np.random.random()
                if u < edge_drop:
                    out[r, c] = np.nan
                    continue
                other = _farthest_neighbour(depth, r, c, zf)
                if u < edge_drop + flying and other <= max_range:
                    z = z + (other - z) * (0.1 + 0.5 * np.random.random())
            cs = cosine[r, c]
            if cs < grazing_cos and np.random.random() * grazing_cos > cs:
                out[r, c] = np.nan
                continue
            dz = z - 0.4
            z = z + (noise_a + noise_b * dz * dz) * gauss[(start + r * W + c) & mask]
            if quantise:  # disparity quantisation
                q = int(fbs / z + 0.5)
                if q < 1 or q >= n_steps:
                    out[r, c] = np.nan
                    continue
                z = step_depth[q]
            out[r, c] = z
    return out


@numba.njit(cache=True)
def encode_mm(depth_m: np.ndarray) -> tuple:
    """(H, W) float32 metres (NaN invalid) -> ``(raw uint16 mm, metres as decoded)``.

    Same result as :func:`kinpose_ros.core.depth.encode_depth` / ``decode_depth`` with
    ``'16UC1'`` (round to nearest mm; invalid and > 65.535 m become 0), in one pass.
    """
    H, W = depth_m.shape
    raw = np.zeros((H, W), np.uint16)
    out = np.empty((H, W), np.float32)
    for r in range(H):
        for c in range(W):
            z = np.float64(depth_m[r, c])
            mm = np.rint(z * 1000.0) if z > 0.0 else 0.0  # NaN compares False
            if 0.0 < mm <= 65535.0:
                raw[r, c] = np.uint16(mm)
                out[r, c] = np.float32(mm) * np.float32(0.001)
            else:
                out[r, c] = np.nan
    return raw, out
