"""Compiled (numba) RANSAC plane fits on an organised point grid: the floor, and the dominant
plane of a component (a wall, a floor remnant) for :mod:`kinpose_ros.core.segmentation`.

Grids are ``(Hg, Wg, 3)`` float32 points in the camera optical frame (x right, y down, z
forward, metres; NaN = invalid). Planes are ``(nx, ny, nz, d)`` float64 with ``n . X + d`` the
signed distance, ``n`` of unit length and pointing to the camera's side, so ``d`` is the
camera's distance to the plane (its height above a floor). Inlier bands grow with depth as
``a + b z^2`` (structured-light noise and disparity quantisation grow with z^2).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from kinpose_ros.core.segmentation_kernels import JIT_OPTIONS as _JIT


@nb.njit(**_JIT)
def _plane3(p: np.ndarray, q: np.ndarray, r: np.ndarray, out: np.ndarray) -> bool:
    """Plane through three points into ``out`` (normal toward the camera); False when the
    points are closer than 10 cm or nearly collinear (angle below ~6 degrees)."""
    ax, ay, az = q[0] - p[0], q[1] - p[1], q[2] - p[2]
    bx, by, bz = r[0] - p[0], r[1] - p[1], r[2] - p[2]
    nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
    la = np.sqrt(ax * ax + ay * ay + az * az)
    lb = np.sqrt(bx * bx + by * by + bz * bz)
    if not (la >= 0.1 and lb >= 0.1 and norm >= 0.1 * la * lb):  # NaN: False
        return False
    d = -(nx * p[0] + ny * p[1] + nz * p[2]) / norm
    s = 1.0 / norm
    if d < 0.0:
        s, d = -s, -d
    out[0], out[1], out[2], out[3] = nx * s, ny * s, nz * s, d
    return True


@nb.njit(**_JIT)
def _inliers(plane: np.ndarray, xyz: np.ndarray, a: float, b: float) -> int:
    """How many of the points ``xyz`` (3, M: coordinate rows, so the loop vectorises) lie
    within ``a + b z^2`` of the plane."""
    nx, ny, nz, d = plane[0], plane[1], plane[2], plane[3]
    X, Y, Z = xyz[0], xyz[1], xyz[2]
    n = 0
    for i in range(X.shape[0]):
        z = Z[i]
        n += abs(nx * X[i] + ny * Y[i] + nz * z + d) < a + b * z * z
    return n


@nb.njit(**_JIT)
def _below(plane: np.ndarray, xyz: np.ndarray, a: float, b: float) -> int:
    """How many of the points ``xyz`` (3, M) lie clearly behind (below) the plane: farther than
    three inlier bands ``3 (a + b z^2)``."""
    nx, ny, nz, d = plane[0], plane[1], plane[2], plane[3]
    X, Y, Z = xyz[0], xyz[1], xyz[2]
    n = 0
    for i in range(X.shape[0]):
        z = Z[i]
        n += nx * X[i] + ny * Y[i] + nz * z + d < -3.0 * (a + b * z * z)
    return n


@nb.njit(**_JIT)
def _refine(plane: np.ndarray, pts: np.ndarray, a: float, b: float) -> int:
    """Weighted least-squares plane of the inliers of ``plane``, in place (weights
    ``1 / (a + b z^2)^2``: the precise near points dominate). Returns the inlier count; the
    plane is unchanged with fewer than 3."""
    n = 0
    wsum = 0.0
    mean = np.zeros(3)
    for i in range(pts.shape[0]):
        z = pts[i, 2]
        t = a + b * z * z
        if abs(plane[0] * pts[i, 0] + plane[1] * pts[i, 1] + plane[2] * z + plane[3]) < t:
            n += 1
            w = 1.0 / (t * t)
            wsum += w
            for k in range(3):
                mean[k] += w * pts[i, k]
    if n < 3:
        return n
    mean /= wsum
    cov = np.zeros((3, 3))
    for i in range(pts.shape[0]):
        z = pts[i, 2]
        t = a + b * z * z
        if abs(plane[0] * pts[i, 0] + plane[1] * pts[i, 1] + plane[2] * z + plane[3]) < t:
            w = 1.0 / (t * t)
            for j in range(3):
                dj = w * (pts[i, j] - mean[j])
                for k in range(3):
                    cov[j, k] += dj * (pts[i, k] - mean[k])
    _, vecs = np.linalg.eigh(cov)
    nrm = vecs[:, 0]
    if nrm[0] * plane[0] + nrm[1] * plane[1] + nrm[2] * plane[2] < 0.0:
        nrm = -nrm
    plane[0], plane[1], plane[2] = nrm[0], nrm[1], nrm[2]
    plane[3] = -(nrm[0] * mean[0] + nrm[1] * mean[1] + nrm[2] * mean[2])
    return n


@nb.njit(**_JIT)
def _floor_ok(plane: np.ndarray, cos_tilt: float, h_min: float, h_max: float) -> bool:
    """Normal within the tilt cone around camera up (-y), camera at a plausible height."""
    return -plane[1] >= cos_tilt and h_min <= plane[3] <= h_max


@nb.njit(**_JIT)
def _floor_candidates(P: np.ndarray, cos_tilt: float, max_count: int) -> np.ndarray:
    """(M, 6) float64 plausible floor cells, in raster order: point (3) and unit local normal
    (3, toward the camera; from the cells two away on each side), for cells on a sparse
    lattice whose normal lies within the tilt cone around camera up (a ceiling faces down);
    at most ~``max_count``."""
    Hg, Wg = P.shape[0], P.shape[1]
    s = 2
    while ((Hg - 4) // s) * ((Wg - 4) // s) > 4 * max_count:
        s += 1
    out = np.empty(((Hg // s + 1) * (Wg // s + 1), 6))
    m = 0
    for gy in range(2, Hg - 2, s):
        for gx in range(2, Wg - 2, s):
            x, y, z = P[gy, gx, 0], P[gy, gx, 1], P[gy, gx, 2]
            if not z == z:
                continue
            vx = P[gy + 2, gx, 0] - P[gy - 2, gx, 0]
            vy = P[gy + 2, gx, 1] - P[gy - 2, gx, 1]
            vz = P[gy + 2, gx, 2] - P[gy - 2, gx, 2]
            hx = P[gy, gx + 2, 0] - P[gy, gx - 2, 0]
            hy = P[gy, gx + 2, 1] - P[gy, gx - 2, 1]
            hz = P[gy, gx + 2, 2] - P[gy, gx - 2, 2]
            nx, ny, nz = vy * hz - vz * hy, vz * hx - vx * hz, vx * hy - vy * hx
            nn = np.sqrt(nx * nx + ny * ny + nz * nz)
            if not nn > 0.0:  # NaN neighbours: False
                continue
            if nx * x + ny * y + nz * z > 0.0:  # toward the camera
                nn = -nn
            if not -ny / nn >= cos_tilt:  # facing up (a ceiling faces down)
                continue
            out[m, 0], out[m, 1], out[m, 2] = x, y, z
            out[m, 3], out[m, 4], out[m, 5] = nx / nn, ny / nn, nz / nn
            m += 1
    return np.ascontiguousarray(out[:m:max(1, m // max_count)])


@nb.njit(**_JIT)
def _valid_subsample(P: np.ndarray, n_valid: int, max_count: int) -> np.ndarray:
    """(M, 3) float64: about ``max_count`` of the ``n_valid`` valid points, evenly spread over
    the grid (every ``n_valid // max_count``-th)."""
    flat = P.reshape(P.shape[0] * P.shape[1], 3)
    stride = max(1, n_valid // max_count)
    out = np.empty((n_valid // stride + 1, 3))
    m = 0
    skip = 0  # valid points to pass over before the next one taken
    for i in range(flat.shape[0]):
        z = flat[i, 2]
        if z == z:
            if skip == 0:
                if m < out.shape[0]:
                    out[m, 0], out[m, 1], out[m, 2] = flat[i, 0], flat[i, 1], z
                    m += 1
                skip = stride
            skip -= 1
    return out[:m]


@nb.njit(**_JIT)
def fit_floor(P: np.ndarray, n_valid: int, prev: np.ndarray, prev_score: float, seed: int,
              n_hyp: int, n_eval: int, cos_tilt: float, h_min: float, h_max: float, a: float,
              b: float, out: np.ndarray) -> tuple:
    """RANSAC floor plane of the grid ``P`` (``n_valid`` valid points) into ``out`` (4,).

    Hypotheses, from plausible floor cells (locally level within the tilt cone): one cell with
    its local normal, or a triangle of nearby cells (a local triangle lies on one surface far
    more often than three points from anywhere); plus ``prev`` when its normal is non-zero.
    A hypothesis must lie in the tilt cone with the camera ``[h_min, h_max]`` above it.
    Score: the fraction of level cells on it minus 4x the fraction of about ``n_eval`` valid
    cells clearly below it, so a table top (with floor under it) loses to the floor. The
    winner is refined by weighted least squares. When ``prev`` still scores at least 0.8 x
    ``prev_score`` (its score in the previous frame), no other hypothesis is drawn: a static
    camera keeps its floor for the price of one score.

    Returns:
        ``(fraction, score)``: the plane's inlier fraction of about ``n_eval`` valid cells and
        its score (both 0 when nothing qualifies; ``out`` is then untouched).
    """
    sub = _valid_subsample(P, n_valid, n_eval)
    m = sub.shape[0]
    if m < 30:
        return 0.0, 0.0
    cand = _floor_candidates(P, cos_tilt, n_eval)
    nc = cand.shape[0]
    cand_xyz = np.ascontiguousarray(cand[:, :3].T)
    sub_xyz = np.ascontiguousarray(sub.T)
    span = max(4, nc // 6)
    np.random.seed(seed)
    best = np.zeros(4)
    best_score = 0.0
    hyp = np.empty(4)
    for h in range(n_hyp + 1):
        if h == 0:
            if prev[0] == 0.0 and prev[1] == 0.0 and prev[2] == 0.0:
                continue
            hyp[:] = prev
        elif nc < 3:
            break
        elif h % 2 == 1:  # one cell and its local normal
            i0 = np.random.randint(nc)
            hyp[0], hyp[1], hyp[2] = cand[i0, 3], cand[i0, 4], cand[i0, 5]
            hyp[3] = -(hyp[0] * cand[i0, 0] + hyp[1] * cand[i0, 1] + hyp[2] * cand[i0, 2])
        else:  # a triangle of nearby cells
            i0 = np.random.randint(nc)
            i1 = min(max(i0 + np.random.randint(-span, span + 1), 0), nc - 1)
            i2 = min(max(i0 + np.random.randint(-3 * span, 3 * span + 1), 0), nc - 1)
            if not _plane3(cand[i0, :3], cand[i1, :3], cand[i2, :3], hyp):
                continue
        if not _floor_ok(hyp, cos_tilt, h_min, h_max):
            continue
        inl = _inliers(hyp, cand_xyz, a, b)
        if inl / max(nc, 1) <= best_score:  # cannot win: skip counting points below it
            continue
        behind = _below(hyp, sub_xyz, a, b)
        score = inl / max(nc, 1) - 4.0 * behind / m
        if score > best_score:
            best_score = score
            best[:] = hyp
        if h == 0 and prev_score > 0.0 and score >= 0.8 * prev_score:
            break  # the floor of the last frame is still there
    if best_score <= 0.0:
        return 0.0, 0.0
    inl = 0
    for _ in range(3):
        inl = _refine(best, sub, a, b)
    if not _floor_ok(best, cos_tilt, h_min, h_max):
        return 0.0, 0.0
    out[:] = best
    return inl / m, best_score


@nb.njit(**_JIT)
def inlier_extent(P: np.ndarray, plane: np.ndarray, axis: np.ndarray, a: float, b: float,
                  stride: int) -> tuple:
    """``(extent, depth)`` of the grid cells on ``plane`` (every ``stride``-th cell, inlier
    band ``a + b z^2``): 3.1 standard deviations of their coordinate along ``axis`` (the 5th
    to 95th percentile range of an even spread; one pass, no sort) and their mean depth, in
    metres; ``(0, 0)`` with fewer than 10 inliers. A floor reaches into the room; a person's
    torso close to the camera, which a plane fit can take for a floor tilted toward it, spans
    a few decimetres within a metre or so of the camera."""
    N = P.shape[0] * P.shape[1]
    flat = P.reshape(N, 3)
    n = 0
    s1 = 0.0
    s2 = 0.0
    sz = 0.0
    for i in range(0, N, stride):
        x, y, z = flat[i, 0], flat[i, 1], flat[i, 2]
        if not z == z:
            continue
        dist = plane[0] * x + plane[1] * y + plane[2] * z + plane[3]
        if abs(dist) < a + b * z * z:
            v = axis[0] * x + axis[1] * y + axis[2] * z
            s1 += v
            s2 += v * v
            sz += z
            n += 1
    if n < 10:
        return 0.0, 0.0
    mean = s1 / n
    return 3.1 * np.sqrt(max(s2 / n - mean * mean, 0.0)), sz / n


@nb.njit(**_JIT)
def remove_planes(P: np.ndarray, labels: np.ndarray, kind: np.ndarray, sizes: np.ndarray,
                  seed: int, n_hyp: int, a: float, b: float, min_fraction: float,
                  clear_band: float, keep: np.ndarray) -> int:
    """For each component of ``kind`` 3 (larger than a person), a RANSAC plane of its cells;
    when the plane holds at least ``min_fraction`` of them, its cells within ``clear_band``
    times the inlier band are cleared from ``keep`` (walls, ceilings, floor remnants go, with
    their noisy fringe, and what they had swallowed comes loose). ``sizes`` (n + 1,): cells per
    label (float counts of the component statistics). Returns the cells cleared."""
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    flat = P.reshape(N, 3)
    keep_f = keep.reshape(N)
    m = kind.shape[0]
    chosen = kind == 3
    start = np.zeros(m + 1, np.int64)  # first position of each label's cells in ``order``
    for k in range(m):
        start[k + 1] = start[k] + (int(sizes[k]) if chosen[k] else 0)
    fill = start.copy()
    order = np.empty(start[m], np.int64)
    for i in range(N):
        k = L[i]
        if chosen[k]:
            order[fill[k]] = i
            fill[k] += 1
    np.random.seed(seed)
    hyp = np.empty(4)
    best = np.empty(4)
    cleared = 0
    for k in range(m):
        n = start[k + 1] - start[k]
        if n < 10:
            continue
        idx = order[start[k]:start[k + 1]]
        stride = max(1, n // 200)
        sub = np.empty(((n + stride - 1) // stride, 3))
        for j in range(sub.shape[0]):
            for c in range(3):
                sub[j, c] = flat[idx[j * stride], c]
        ns = sub.shape[0]
        sub_xyz = np.ascontiguousarray(sub.T)
        span = max(2, ns // 12)
        best_inl = 0
        for h in range(n_hyp):
            i0 = np.random.randint(ns)
            if h % 2 == 0:  # anywhere
                i1, i2 = np.random.randint(ns), np.random.randint(ns)
            else:  # nearby in raster order: far more often on one surface
                i1 = min(max(i0 + np.random.randint(-span, span + 1), 0), ns - 1)
                i2 = min(max(i0 + np.random.randint(-3 * span, 3 * span + 1), 0), ns - 1)
            if _plane3(sub[i0], sub[i1], sub[i2], hyp):
                inl = _inliers(hyp, sub_xyz, a, b)
                if inl > best_inl:
                    best_inl = inl
                    best[:] = hyp
        if best_inl < min_fraction * ns:
            continue
        _refine(best, sub, a, b)
        for j in range(n):
            i = idx[j]
            z = flat[i, 2]
            dist = best[0] * flat[i, 0] + best[1] * flat[i, 1] + best[2] * z + best[3]
            if abs(dist) < clear_band * (a + b * z * z):
                keep_f[i] = False
                cleared += 1
    return cleared
