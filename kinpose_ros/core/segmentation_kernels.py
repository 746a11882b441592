"""Compiled (numba) grid kernels of the person segmenter (:mod:`kinpose_ros.core.segmentation`).

They work on flat arrays only; the API, configuration and decisions live in segmentation.py,
plane fits in :mod:`kinpose_ros.core.plane_fit`. The grid is the depth image subsampled by an
integer ``step``: cell ``(gy, gx)`` covers pixels ``[gy step, (gy + 1) step) x [gx step,
(gx + 1) step)``. Depth is metres, NaN invalid; points are in the camera optical frame (x right,
y down, z forward, metres). Planes are ``(nx, ny, nz, d)`` with ``n . X + d`` the height above
them (see plane_fit). Thresholds of the form ``a + b z^2 + c z`` grow with the depth ``z``
(noise and quantisation ~ z^2; ``c z``: a slanted surface seen through one cell).

Loops index flattened arrays: numba's 2-D indexing with neighbour offsets costs several
times more here.
"""
from __future__ import annotations

import numba as nb
import numpy as np

# fast-math without 'nnan' / 'ninf': NaN marks invalid depth and must compare as NaN; the
# segmenter's other kernel modules (person_shape, plane_fit, vote_kernels) compile with these too
JIT_OPTIONS = {'cache': True, 'nogil': True, 'fastmath': {'nsz', 'arcp', 'contract', 'reassoc'}}
_JIT = JIT_OPTIONS

# component statistics columns (rows are labels; row 0 unused)
ST_COUNT, ST_AREA, ST_SX, ST_SY, ST_SZ = 0, 1, 2, 3, 4
ST_R0, ST_R1, ST_C0, ST_C1 = 5, 6, 7, 8
ST_UP0, ST_UP1, ST_LAT0, ST_LAT1 = 9, 10, 11, 12
ST_ZMIN, ST_ZMAX, ST_BORDER, ST_FWD0, ST_FWD1 = 13, 14, 15, 16, 17
ST_LOWX, ST_LOWY, ST_LOWZ = 18, 19, 20  # the lowest point (least up)
N_STATS = 21


@nb.njit(**_JIT)
def make_grid(depth: np.ndarray, step: int, z_max: float, fx: float, fy: float, cx: float,
              cy: float, zg: np.ndarray, P: np.ndarray) -> int:
    """Grid depth ``zg`` (Hg, Wg) and points ``P`` (Hg, Wg, 3), float32; returns the number of
    valid cells. A cell takes its block's centre pixel, or the nearest valid depth of the
    block when the centre is invalid (NaN when none is valid below ``z_max``); its point
    sits at the block centre."""
    Hg, Wg = zg.shape
    c = step // 2
    off = 0.5 * (step - 1)
    rx = np.empty(Wg)  # x / z of the cell centres
    for gx in range(Wg):
        rx[gx] = (gx * step + off - cx) / fx
    n = 0
    for gy in range(Hg):
        y0 = gy * step
        ry = (y0 + off - cy) / fy
        row = depth[y0 + c]
        for gx in range(Wg):
            x0 = gx * step
            z = row[x0 + c]
            if not (z > 0.0 and z < z_max):
                best = np.inf
                for yy in range(y0, y0 + step):
                    for xx in range(x0, x0 + step):
                        v = depth[yy, xx]
                        if v > 0.0 and v < best and v < z_max:
                            best = v
                z = best if best < np.inf else np.nan
            zg[gy, gx] = z
            P[gy, gx, 0] = rx[gx] * z
            P[gy, gx, 1] = ry * z
            P[gy, gx, 2] = z
            n += z == z
    return n


@nb.njit(**_JIT)
def keep_and_level(P: np.ndarray, plane: np.ndarray, margin_a: float, margin_b: float,
                   k: int, tan_max: float, a: float, b: float, keep: np.ndarray,
                   level: np.ndarray, height: np.ndarray, level_idx: np.ndarray) -> int:
    """Cells to segment, and which of them lie on level surfaces; returns the level count
    ``n`` (their flat indices in raster order: ``level_idx[:n]``, (Hg Wg,) int32).

    ``keep``: valid cells more than ``margin_a + margin_b z^2`` above the floor ``plane``
    (all valid cells when its normal is zero). ``height``: height above the plane (metres).
    ``level`` (only with a plane): kept cells whose 3-D step between the cells ``k`` rows
    above and below rises by less than ``tan_max`` times its horizontal run, with the run
    above the noise (``3 (a + b z^2)``) and the cell near the middle of the step (no depth edge
    in between): table tops, seats and shelves.
    """
    Hg, Wg = keep.shape
    N = Hg * Wg
    Pf = P.reshape(N, 3)
    keep_f = keep.reshape(N)
    level_f = level.reshape(N)
    height_f = height.reshape(N)
    use_plane = plane[0] != 0.0 or plane[1] != 0.0 or plane[2] != 0.0
    nx_, ny_, nz_, d_ = plane[0], plane[1], plane[2], plane[3]
    kw = k * Wg
    tan2 = tan_max * tan_max
    n_level = 0
    for i in range(N):
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        level_f[i] = False
        if not z == z:
            keep_f[i] = False
            height_f[i] = np.nan
            continue
        if not use_plane:
            keep_f[i] = True
            height_f[i] = np.nan
            continue
        h = nx_ * x + ny_ * y + nz_ * z + d_
        height_f[i] = h
        ok = h > margin_a + margin_b * z * z
        keep_f[i] = ok
        if not ok or i < kw or i + kw >= N:
            continue
        lo, hi = i - kw, i + kw
        dx, dy, dz = Pf[hi, 0] - Pf[lo, 0], Pf[hi, 1] - Pf[lo, 1], Pf[hi, 2] - Pf[lo, 2]
        rise = nx_ * dx + ny_ * dy + nz_ * dz
        len2 = dx * dx + dy * dy + dz * dz
        run2 = len2 - rise * rise
        t = 3.0 * (a + b * z * z)
        if not (run2 > t * t and rise * rise < tan2 * run2):  # NaN: False
            continue
        mx = x - 0.5 * (Pf[hi, 0] + Pf[lo, 0])
        my = y - 0.5 * (Pf[hi, 1] + Pf[lo, 1])
        mz = z - 0.5 * (Pf[hi, 2] + Pf[lo, 2])
        if mx * mx + my * my + mz * mz < 0.04 * len2 + t * t:
            level_f[i] = True
            level_idx[n_level] = i
            n_level += 1
    return n_level


@nb.njit(**_JIT)
def _find(parent: np.ndarray, t: int) -> int:
    while parent[t] != t:
        parent[t] = parent[parent[t]]
        t = parent[t]
    return t


@nb.njit(**_JIT)
def clear_table_tops(P: np.ndarray, zg: np.ndarray, height: np.ndarray, level: np.ndarray,
                     level_idx: np.ndarray, n_level: int, lateral: np.ndarray,
                     forward: np.ndarray, a: float, b: float, long_m: float, min_height: float,
                     keep: np.ndarray) -> int:
    """Clear from ``keep`` the level patches that are table tops.

    The ``n_level`` level cells (flat indices ``level_idx``, raster order) form patches of
    4-neighbours whose ``height`` above the floor differs less than ``a + b z^2``; a patch at
    least ``long_m`` long and half that wide horizontally (along ``lateral`` / ``forward``),
    everywhere more than ``min_height`` above the floor, is furniture. Works on the level
    cells only (a union-find over their list). Returns the number of cells cleared.
    """
    Hg, Wg = zg.shape
    N = Hg * Wg
    Pf = P.reshape(N, 3)
    z_ = zg.reshape(N)
    h_ = height.reshape(N)
    level_f = level.reshape(N)
    keep_f = keep.reshape(N)
    pos = np.empty(N, np.int32)  # list position of a level cell (written before it is read)
    parent = np.empty(n_level, np.int32)
    for t in range(n_level):
        i = level_idx[t]
        pos[i] = t
        parent[t] = t
        z = z_[i]
        thr = a + b * z * z
        for j in (i - 1, i - Wg):
            if j < 0 or (j == i - 1 and i % Wg == 0) or not level_f[j] or \
                    not abs(h_[i] - h_[j]) < thr:
                continue
            ra, rb = _find(parent, t), _find(parent, pos[j])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    ext = np.empty((n_level, 5))  # lat0, lat1, fwd0, fwd1, least height per root
    for t in range(n_level):
        ext[t, 0] = ext[t, 2] = ext[t, 4] = 1e9
        ext[t, 1] = ext[t, 3] = -1e9
    for t in range(n_level):
        i = level_idx[t]
        r = _find(parent, t)
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        w = lateral[0] * x + lateral[1] * y + lateral[2] * z
        f = forward[0] * x + forward[1] * y + forward[2] * z
        ext[r, 0] = min(ext[r, 0], w)
        ext[r, 1] = max(ext[r, 1], w)
        ext[r, 2] = min(ext[r, 2], f)
        ext[r, 3] = max(ext[r, 3], f)
        ext[r, 4] = min(ext[r, 4], h_[i])
    n = 0
    for t in range(n_level):
        r = _find(parent, t)
        lat, fwd = ext[r, 1] - ext[r, 0], ext[r, 3] - ext[r, 2]
        if max(lat, fwd) >= long_m and min(lat, fwd) >= 0.5 * long_m and \
                ext[r, 4] > min_height:
            keep_f[level_idx[t]] = False
            n += 1
    return n


@nb.njit(**_JIT)
def label_grid(zg: np.ndarray, keep: np.ndarray, a: float, b: float, c: float,
               labels: np.ndarray, P: np.ndarray, up: np.ndarray, lateral: np.ndarray,
               forward: np.ndarray, cell_area: float) -> tuple:
    """4-connected components of the kept cells whose neighbours' depths differ by less than
    ``a + b z^2 + c z`` at the cell's depth, and their statistics.

    Writes labels 1..n into ``labels`` (0 = not kept) in raster order of first cells. One
    raster pass with provisional labels and a union-find over their equivalences, a
    relabelling pass, and a pass that measures (the ``ST_*`` columns, see :func:`_accumulate`).

    Returns:
        ``(n, stats)``: the number of components and their (n + 1, N_STATS) statistics.
    """
    Hg, Wg = zg.shape
    N = Hg * Wg
    z_ = zg.reshape(N)
    k_ = keep.reshape(N)
    L = labels.reshape(N)
    parent = np.empty(N + 1, np.int32)
    nxt = 1
    for gy in range(Hg):
        base = gy * Wg
        for gx in range(Wg):
            i = base + gx
            if not k_[i]:
                L[i] = 0
                continue
            z = z_[i]
            thr = a + (b * z + c) * z
            lab = 0
            if gx > 0:
                o = L[i - 1]
                if o != 0 and abs(z - z_[i - 1]) < thr:
                    lab = o
            if gy > 0:
                o = L[i - Wg]
                if o != 0 and o != lab and abs(z - z_[i - Wg]) < thr:
                    if lab == 0:
                        lab = o
                    else:
                        ra = lab
                        while parent[ra] != ra:
                            ra = parent[ra]
                        rb = o
                        while parent[rb] != rb:
                            rb = parent[rb]
                        if ra < rb:
                            parent[rb] = ra
                        elif rb < ra:
                            parent[ra] = rb
            if lab == 0:
                lab = nxt
                parent[nxt] = nxt
                nxt += 1
            L[i] = lab
    final = np.zeros(nxt, np.int32)
    n = 0
    for j in range(1, nxt):
        r = j
        while parent[r] != r:
            r = parent[r]
        if r == j:
            n += 1
            final[j] = n
        else:
            final[j] = final[r]  # r < j: numbered already
    for i in range(N):
        L[i] = final[L[i]]
    stats = np.zeros((n + 1, N_STATS))
    redo = np.ones(n + 1, np.bool_)
    redo[0] = False
    _accumulate(P, labels, stats, redo, 0, Hg, 0, Wg, up, lateral, forward, cell_area)
    return n, stats


@nb.njit(**_JIT)
def update_stats(P: np.ndarray, labels: np.ndarray, stats: np.ndarray, redo: np.ndarray,
                 up: np.ndarray, lateral: np.ndarray, forward: np.ndarray,
                 cell_area: float) -> None:
    """Recompute the rows ``redo[label]`` of ``stats`` in place, with the values a pass over
    the whole grid gives (as in :func:`label_grid`), after their cells changed: cells were
    removed, or moved to new labels (rows appended, count 0) from the others. Only the box of
    the rows being redone that hold cells (``ST_R0`` .. ``ST_C1``) is visited, so every cell
    of those labels must lie in it."""
    r0, r1, c0, c1 = label_window(stats, redo)
    _accumulate(P, labels, stats, redo, r0, r1, c0, c1, up, lateral, forward, cell_area)


@nb.njit(**_JIT)
def label_window(stats: np.ndarray, chosen: np.ndarray) -> tuple:
    """``(r0, r1, c0, c1)``: grid rows ``r0:r1`` and columns ``c0:c1`` holding the cells of the
    labels ``chosen`` (those with a count), from their statistics; ``(0, 0, 0, 0)`` for none."""
    r0 = c0 = 1 << 30
    r1 = c1 = 0
    for k in range(stats.shape[0]):
        if chosen[k] and stats[k, ST_COUNT] > 0:
            r0 = min(r0, int(stats[k, ST_R0]))
            r1 = max(r1, int(stats[k, ST_R1]) + 1)
            c0 = min(c0, int(stats[k, ST_C0]))
            c1 = max(c1, int(stats[k, ST_C1]) + 1)
    if r1 == 0:
        return 0, 0, 0, 0
    return r0, r1, c0, c1


@nb.njit(**_JIT)
def _accumulate(P: np.ndarray, labels: np.ndarray, st: np.ndarray, redo: np.ndarray, r0: int,
                r1: int, c0: int, c1: int, up: np.ndarray, lateral: np.ndarray,
                forward: np.ndarray, cell_area: float) -> None:
    """The statistics rows ``redo[label]`` of ``st`` from scratch (the ``ST_*`` columns), from
    the cells of grid rows ``r0:r1``, columns ``c0:c1`` (in raster order: the sums are those
    of a pass over the whole grid).

    area: metric area in m^2 facing the camera (``cell_area z^2`` per cell, cell_area =
    step^2 / (fx fy)); up/lat/fwd: extents along the unit ``up``, ``lateral`` and ``forward``
    (horizontal, away from the camera) directions, metres; low: the point of least ``up``;
    border: bit flags 1 top, 2 bottom, 4 left, 8 right image border touched. Runs of one label
    along a row are accumulated in scalars and folded into the table once per run.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    for k in range(st.shape[0]):
        if not redo[k]:
            continue
        for c in range(N_STATS):
            st[k, c] = 0.0
        for c in (ST_R0, ST_C0, ST_UP0, ST_LAT0, ST_ZMIN, ST_FWD0):
            st[k, c] = 1e9
        for c in (ST_R1, ST_C1, ST_UP1, ST_LAT1, ST_ZMAX, ST_FWD1):
            st[k, c] = -1e9
    ux, uy, uz = up[0], up[1], up[2]
    lx, ly, lz = lateral[0], lateral[1], lateral[2]
    fx_, fy_, fz_ = forward[0], forward[1], forward[2]
    for gy in range(r0, r1):
        base = gy * Wg
        gx = c0
        while gx < c1:
            k = L[base + gx]
            if k == 0 or not redo[k]:
                gx += 1
                continue
            run0 = gx
            cnt = 0.0
            area = sx = sy = sz = 0.0
            u0 = w0 = f0 = z0 = 1e9
            u1 = w1 = f1 = z1 = -1e9
            lowx = lowy = lowz = 0.0
            while gx < c1 and L[base + gx] == k:  # the run of label k from run0
                i = base + gx
                x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
                cnt += 1.0
                area += z * z
                sx += x
                sy += y
                sz += z
                u = ux * x + uy * y + uz * z
                w = lx * x + ly * y + lz * z
                f = fx_ * x + fy_ * y + fz_ * z
                if u < u0:
                    u0 = u
                    lowx, lowy, lowz = x, y, z
                u1 = max(u1, u)
                w0 = min(w0, w)
                w1 = max(w1, w)
                f0 = min(f0, f)
                f1 = max(f1, f)
                z0 = min(z0, z)
                z1 = max(z1, z)
                gx += 1
            st[k, ST_COUNT] += cnt
            st[k, ST_AREA] += cell_area * area
            st[k, ST_SX] += sx
            st[k, ST_SY] += sy
            st[k, ST_SZ] += sz
            st[k, ST_R0] = min(st[k, ST_R0], gy)
            st[k, ST_R1] = max(st[k, ST_R1], gy)
            st[k, ST_C0] = min(st[k, ST_C0], run0)
            st[k, ST_C1] = max(st[k, ST_C1], gx - 1)
            if u0 < st[k, ST_UP0]:
                st[k, ST_UP0] = u0
                st[k, ST_LOWX], st[k, ST_LOWY], st[k, ST_LOWZ] = lowx, lowy, lowz
            st[k, ST_UP1] = max(st[k, ST_UP1], u1)
            st[k, ST_LAT0] = min(st[k, ST_LAT0], w0)
            st[k, ST_LAT1] = max(st[k, ST_LAT1], w1)
            st[k, ST_FWD0] = min(st[k, ST_FWD0], f0)
            st[k, ST_FWD1] = max(st[k, ST_FWD1], f1)
            st[k, ST_ZMIN] = min(st[k, ST_ZMIN], z0)
            st[k, ST_ZMAX] = max(st[k, ST_ZMAX], z1)
    for k in range(st.shape[0]):
        if not redo[k]:
            continue
        flags = 0
        if st[k, ST_R0] == 0:
            flags |= 1
        if st[k, ST_R1] == Hg - 1:
            flags |= 2
        if st[k, ST_C0] == 0:
            flags |= 4
        if st[k, ST_C1] == Wg - 1:
            flags |= 8
        st[k, ST_BORDER] = flags


@nb.njit(**_JIT)
def extend_to_floor(boxes: np.ndarray, stats: np.ndarray, rows: np.ndarray, plane: np.ndarray,
                    fy: float, cy: float, height: int) -> None:
    """Grow the boxes (N, 4) of components ``rows`` (N,) standing on the floor (lowest point
    less than 0.3 m above it) down to the floor under their lowest point: the floor margin
    took the soles of their feet."""
    for i in range(boxes.shape[0]):
        k = rows[i]
        x, y, z = stats[k, ST_LOWX], stats[k, ST_LOWY], stats[k, ST_LOWZ]
        lift = plane[0] * x + plane[1] * y + plane[2] * z + plane[3]
        if not lift < 0.3:
            continue
        fy_, fz = y - lift * plane[1], z - lift * plane[2]
        if fz <= 0.0:
            continue
        bottom = np.floor(fy * fy_ / fz + cy + 0.5) + 1.0
        if bottom > boxes[i, 3]:
            boxes[i, 3] = min(int(bottom), height)


@nb.njit(**_JIT)
def refine_masks(depth: np.ndarray, step: int, zg: np.ndarray, labels: np.ndarray,
                 out_index: np.ndarray, window: np.ndarray, plane: np.ndarray,
                 margin_a: float, margin_b: float, a: float, b: float, c: float, fx: float,
                 fy: float, cx: float, cy: float, masks: np.ndarray, boxes: np.ndarray,
                 count: np.ndarray) -> None:
    """Full-resolution masks, boxes and pixel counts of the chosen components.

    A valid pixel joins proposal ``out_index[labels[cell]]`` of the cell, among its block's
    cell and the 8 around it, whose depth is nearest to the pixel's, when that difference is
    below ``a + b z^2 + c z`` and (next to unchosen cells) the pixel is above the floor
    ``plane`` by the floor margin. Inside a component (all 9 cells of one proposal) only the
    block's own cell is compared (and neither floor nor box edges are looked for); next to one
    proposal only, the first cell within the threshold decides (own cell first: the nearest
    one would give the same proposal). Only grid rows ``window[0]:window[1]`` and columns
    ``window[2]:window[3]`` are visited.

    Args:
        out_index: (n + 1,) int32: grid label -> proposal index, -1 for none (index 0: -1).
        masks: (N, H, W) bool, zeroed; set here.
        boxes: (N, 4) int64 ``x0, y0, x1, y1`` (pixel edges), ``W, H, 0, 0`` on entry.
        count: (N,) int64 pixels per proposal, zeroed on entry.
    """
    H, W = depth.shape
    Hg, Wg = zg.shape
    r0, r1, c0, c1 = window[0], window[1], window[2], window[3]
    cw = c1 - c0
    rows, cols = r1 - r0 + 2, cw + 2
    cell = np.full(rows * cols, -1, np.int32)  # proposal per cell, padded by one
    for gy in range(max(r0 - 1, 0), min(r1 + 1, Hg)):
        for gx in range(max(c0 - 1, 0), min(c1 + 1, Wg)):
            cell[(gy - r0 + 1) * cols + gx - c0 + 1] = out_index[labels[gy, gx]]
    # 3x3 max and min of the proposal index (separable): a cell with max < 0 has no chosen
    # neighbour; one with min == max >= 0 lies inside one proposal
    hmax = cell.copy()
    hmin = cell.copy()
    for i in range(1, rows * cols - 1):
        hmax[i] = max(cell[i - 1], cell[i], cell[i + 1])
        hmin[i] = min(cell[i - 1], cell[i], cell[i + 1])
    use_plane = plane[0] != 0.0 or plane[1] != 0.0 or plane[2] != 0.0
    ks = np.empty(9, np.int32)
    zs = np.empty(9, np.float32)
    for gy in range(r0, r1):
        y0 = gy * step
        y1 = y0 + step if gy < Hg - 1 else H
        for gx in range(c0, c1):
            base = (gy - r0 + 1) * cols + gx - c0 + 1
            top = max(hmax[base - cols], hmax[base], hmax[base + cols])
            if top < 0:
                continue
            own = cell[base]
            inside = own >= 0 and own == top and \
                min(hmin[base - cols], hmin[base], hmin[base + cols]) == own
            x0 = gx * step
            x1 = x0 + step if gx < Wg - 1 else W
            if inside:  # only the own cell; no floor next to it, no box edge in it
                z0 = zg[gy, gx]
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        z = depth[y, x]
                        if abs(z - z0) < a + (b * z + c) * z:  # NaN: False
                            masks[own, y, x] = True
                            count[own] += 1
                continue
            else:
                m = 0
                single = True  # one proposal around: any candidate within the threshold wins
                for j in range(9):
                    dy, dx = j // 3 - 1, j % 3 - 1
                    k = cell[base + dy * cols + dx]
                    if k >= 0:
                        ks[m] = k
                        zs[m] = zg[gy + dy, gx + dx]
                        single = single and k == top
                        m += 1
                z_own = zg[gy, gx] if own >= 0 else np.nan
            for y in range(y0, y1):
                for x in range(x0, x1):
                    z = depth[y, x]
                    if not z > 0.0:
                        continue
                    best_d = a + (b * z + c) * z
                    best_k = -1
                    if single:
                        if abs(z - z_own) < best_d:
                            best_k = top
                        else:
                            for j in range(m):
                                if abs(z - zs[j]) < best_d:
                                    best_k = top
                                    break
                    else:
                        for j in range(m):
                            d = abs(z - zs[j])
                            if d < best_d:
                                best_d = d
                                best_k = ks[j]
                    if best_k < 0:
                        continue
                    if use_plane:
                        X = (x - cx) / fx * z
                        Y = (y - cy) / fy * z
                        if plane[0] * X + plane[1] * Y + plane[2] * z + plane[3] \
                                <= margin_a + margin_b * z * z:
                            continue
                    masks[best_k, y, x] = True
                    if x < boxes[best_k, 0]:
                        boxes[best_k, 0] = x
                    if y < boxes[best_k, 1]:
                        boxes[best_k, 1] = y
                    if x >= boxes[best_k, 2]:
                        boxes[best_k, 2] = x + 1
                    if y >= boxes[best_k, 3]:
                        boxes[best_k, 3] = y + 1
                    count[best_k] += 1


@nb.njit(**_JIT)
def person_masks(depth: np.ndarray, step: int, zg: np.ndarray, labels: np.ndarray,
                 stats: np.ndarray, chosen: np.ndarray, plane: np.ndarray, margin_a: float,
                 margin_b: float, a: float, b: float, c: float, fx: float, fy: float, cx: float,
                 cy: float) -> tuple:
    """Masks, boxes and centroids of the components ``chosen`` (N,) (labels), nearest first.

    :func:`refine_masks` over the grid window around the chosen components, then
    :func:`extend_to_floor` (with a floor ``plane``).

    Returns:
        ``(masks, boxes, count, centroids, order)``: (N, H, W) bool, (N, 4) int64 pixel edge
        boxes, (N,) int64 pixels, (N, 3) float64 mean grid points (metres), and the (N,)
        int64 order of increasing centroid distance from the camera.
    """
    n = chosen.shape[0]
    H, W = depth.shape
    Hg, Wg = zg.shape
    out_index = np.full(stats.shape[0], -1, np.int32)
    window = np.array([Hg, 0, Wg, 0], np.int64)
    centroids = np.empty((n, 3))
    dist = np.empty(n)
    for i in range(n):
        k = chosen[i]
        out_index[k] = i
        window[0] = min(window[0], max(int(stats[k, ST_R0]) - 1, 0))
        window[1] = max(window[1], min(int(stats[k, ST_R1]) + 2, Hg))
        window[2] = min(window[2], max(int(stats[k, ST_C0]) - 1, 0))
        window[3] = max(window[3], min(int(stats[k, ST_C1]) + 2, Wg))
        for j in range(3):
            centroids[i, j] = stats[k, ST_SX + j] / stats[k, ST_COUNT]
        dist[i] = centroids[i, 0] ** 2 + centroids[i, 1] ** 2 + centroids[i, 2] ** 2
    masks = np.zeros((n, H, W), np.bool_)
    boxes = np.empty((n, 4), np.int64)
    for i in range(n):
        boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3] = W, H, 0, 0
    count = np.zeros(n, np.int64)
    if n > 0:
        refine_masks(depth, step, zg, labels, out_index, window, plane, margin_a, margin_b, a,
                     b, c, fx, fy, cx, cy, masks, boxes, count)
        if plane[0] != 0.0 or plane[1] != 0.0 or plane[2] != 0.0:
            extend_to_floor(boxes, stats, chosen, plane, fy, cy, H)
    return masks, boxes, count, centroids, np.argsort(dist, kind='mergesort')


@nb.njit(**_JIT)
def cell_planes(zg: np.ndarray, height: np.ndarray, keep: np.ndarray, step_over_fx: float,
                out: np.ndarray) -> None:
    """The (5, Hg, Wg) input planes of a cell classifier into ``out`` (float32): depth / 4
    (0 invalid), valid, height above the floor / 2 (0 unknown), kept, metric cell side x 30
    (see ``segmentation.CELL_FEATURES``)."""
    Hg, Wg = zg.shape
    N = Hg * Wg
    z_ = zg.reshape(N)
    h_ = height.reshape(N)
    k_ = keep.reshape(N)
    o = out.reshape(5, N)
    scale = 30.0 * step_over_fx
    for i in range(N):
        z = z_[i]
        if z == z:
            o[0, i] = z * 0.25
            o[1, i] = 1.0
            o[4, i] = z * scale
        else:
            o[0, i] = 0.0
            o[1, i] = 0.0
            o[4, i] = 0.0
        h = h_[i]
        o[2, i] = h * 0.5 if h == h else 0.0
        o[3, i] = 1.0 if k_[i] else 0.0


@nb.njit(**_JIT)
def mean_per_label(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """(n,) mean of ``values`` over the cells of each label ``0 .. n - 1`` (0 where a label has
    no cells); cells with labels ``>= n`` are ignored."""
    N = labels.size
    L = labels.reshape(N)
    v = values.reshape(N)
    total = np.zeros(n)
    count = np.zeros(n)
    for i in range(N):
        k = L[i]
        if k < n:
            total[k] += v[i]
            count[k] += 1.0
    for k in range(n):
        if count[k] > 0:
            total[k] /= count[k]
    return total
