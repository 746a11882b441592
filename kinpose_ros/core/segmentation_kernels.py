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

_JIT = {'cache': True, 'nogil': True}

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
    n = 0
    for gy in range(Hg):
        y0 = gy * step
        ry = (y0 + off - cy) / fy
        for gx in range(Wg):
            x0 = gx * step
            z = depth[y0 + c, x0 + c]
            if not (z > 0.0 and z < z_max):
                best = np.inf
                for yy in range(y0, y0 + step):
                    for xx in range(x0, x0 + step):
                        v = depth[yy, xx]
                        if v > 0.0 and v < best and v < z_max:
                            best = v
                z = best if best < np.inf else np.nan
            zg[gy, gx] = z
            P[gy, gx, 0] = (x0 + off - cx) / fx * z
            P[gy, gx, 1] = ry * z
            P[gy, gx, 2] = z
            if z == z:
                n += 1
    return n


@nb.njit(**_JIT)
def keep_and_level(P: np.ndarray, plane: np.ndarray, margin_a: float, margin_b: float,
                   k: int, tan_max: float, a: float, b: float, keep: np.ndarray,
                   level: np.ndarray, height: np.ndarray) -> int:
    """Cells to segment, and which of them lie on level surfaces; returns the level count.

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
            n_level += 1
    return n_level


@nb.njit(**_JIT)
def clear_large_level(labels: np.ndarray, stats: np.ndarray, plane_d: float, long_m: float,
                      min_height: float, keep: np.ndarray) -> int:
    """Clear from ``keep`` the cells of level patches (labels with ``stats``) at least
    ``long_m`` long and half that wide horizontally, more than ``min_height`` above the floor
    (``up . X + plane_d``): table tops. Returns the number of cells cleared."""
    m = stats.shape[0]
    drop = np.zeros(m, np.bool_)
    n_drop = 0
    for k in range(1, m):
        lat = stats[k, ST_LAT1] - stats[k, ST_LAT0]
        fwd = stats[k, ST_FWD1] - stats[k, ST_FWD0]
        if max(lat, fwd) >= long_m and min(lat, fwd) >= 0.5 * long_m and \
                stats[k, ST_UP0] + plane_d > min_height:
            drop[k] = True
            n_drop += 1
    if n_drop == 0:
        return 0
    N = labels.size
    L = labels.reshape(N)
    keep_f = keep.reshape(N)
    n = 0
    for i in range(N):
        if drop[L[i]]:
            keep_f[i] = False
            n += 1
    return n


@nb.njit(**_JIT)
def label_grid(value: np.ndarray, zg: np.ndarray, keep: np.ndarray, a: float, b: float,
               c: float, labels: np.ndarray) -> int:
    """4-connected components of the kept cells whose neighbours' ``value`` (depth, or height
    for level surfaces) differs by less than ``a + b z^2 + c z`` at the cell's depth. Writes
    labels 1..n into ``labels`` (0 = not kept) in raster order of first cells; returns n.

    One raster pass with provisional labels and a union-find over their equivalences, then a
    relabelling pass.
    """
    Hg, Wg = zg.shape
    N = Hg * Wg
    v_ = value.reshape(N)
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
            v = v_[i]
            thr = a + (b * z + c) * z
            lab = 0
            if gx > 0:
                o = L[i - 1]
                if o != 0 and abs(v - v_[i - 1]) < thr:
                    lab = o
            if gy > 0:
                o = L[i - Wg]
                if o != 0 and o != lab and abs(v - v_[i - Wg]) < thr:
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
    return n


@nb.njit(**_JIT)
def component_stats(P: np.ndarray, labels: np.ndarray, n: int, up: np.ndarray,
                    lateral: np.ndarray, forward: np.ndarray, cell_area: float) -> np.ndarray:
    """Per-label statistics (n + 1, N_STATS) float64 (see the ``ST_*`` columns).

    area: metric area in m^2 facing the camera (``cell_area z^2`` per cell, cell_area =
    step^2 / (fx fy)); up/lat/fwd: extents along the unit ``up``, ``lateral`` and ``forward``
    (horizontal, away from the camera) directions, metres; low: the point of least ``up``;
    border: bit flags 1 top, 2 bottom, 4 left, 8 right image border touched.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    st = np.zeros((n + 1, N_STATS))
    for k in range(1, n + 1):
        for c in (ST_R0, ST_C0, ST_UP0, ST_LAT0, ST_ZMIN, ST_FWD0):
            st[k, c] = 1e9
        for c in (ST_R1, ST_C1, ST_UP1, ST_LAT1, ST_ZMAX, ST_FWD1):
            st[k, c] = -1e9
    for i in range(N):
        k = L[i]
        if k == 0:
            continue
        gy = i // Wg
        gx = i - gy * Wg
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        st[k, ST_COUNT] += 1.0
        st[k, ST_AREA] += cell_area * z * z
        st[k, ST_SX] += x
        st[k, ST_SY] += y
        st[k, ST_SZ] += z
        st[k, ST_R0] = min(st[k, ST_R0], gy)
        st[k, ST_R1] = max(st[k, ST_R1], gy)
        st[k, ST_C0] = min(st[k, ST_C0], gx)
        st[k, ST_C1] = max(st[k, ST_C1], gx)
        u = up[0] * x + up[1] * y + up[2] * z
        w = lateral[0] * x + lateral[1] * y + lateral[2] * z
        f = forward[0] * x + forward[1] * y + forward[2] * z
        if u < st[k, ST_UP0]:
            st[k, ST_UP0] = u
            st[k, ST_LOWX], st[k, ST_LOWY], st[k, ST_LOWZ] = x, y, z
        st[k, ST_UP1] = max(st[k, ST_UP1], u)
        st[k, ST_LAT0] = min(st[k, ST_LAT0], w)
        st[k, ST_LAT1] = max(st[k, ST_LAT1], w)
        st[k, ST_FWD0] = min(st[k, ST_FWD0], f)
        st[k, ST_FWD1] = max(st[k, ST_FWD1], f)
        st[k, ST_ZMIN] = min(st[k, ST_ZMIN], z)
        st[k, ST_ZMAX] = max(st[k, ST_ZMAX], z)
    for k in range(1, n + 1):
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
    return st


@nb.njit(**_JIT)
def classify(stats: np.ndarray, h_min: float, h_max: float, w_min: float, w_max: float,
             frag_max: float, kind: np.ndarray) -> np.ndarray:
    """Sort components by size into ``kind`` (n + 1,) int8: 0 empty or row 0, 1 fragment
    (height and width below ``frag_max``), 2 person-sized, 3 larger than a person (height
    above ``h_max`` or width above ``w_max``), 4 other; returns the counts of each kind."""
    counts = np.zeros(5, np.int64)
    kind[0] = 0
    for k in range(1, stats.shape[0]):
        h = stats[k, ST_UP1] - stats[k, ST_UP0]
        w = stats[k, ST_LAT1] - stats[k, ST_LAT0]
        if stats[k, ST_COUNT] == 0:
            c = 0
        elif h > h_max or w > w_max:
            c = 3
        elif h < frag_max and w < frag_max:
            c = 1
        elif h >= h_min and w >= w_min:
            c = 2
        else:
            c = 4
        kind[k] = c
        counts[c] += 1
    return counts


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
def attach_fragments(zg: np.ndarray, labels: np.ndarray, kind: np.ndarray, a: float, b: float,
                     parent: np.ndarray) -> int:
    """Attach fragments to the person-sized component they touch.

    Limbs reaching toward the camera (or away) change depth faster than the jump threshold
    allows and come off the body. A fragment (``kind`` 1) with a cell 4-adjacent to a cell of
    a person-sized component (``kind`` 2) and a depth difference there below ``a + b z^2`` is
    attached: ``parent[fragment] = person`` (``parent`` (n + 1,) int32, the identity on entry;
    a fragment joins the first person found). Returns the number of attachments.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    z_ = zg.reshape(N)
    n = 0
    for i in range(N):
        la = L[i]
        if la == 0:
            continue
        for j in (i + 1, i + Wg):
            if j >= N or (j == i + 1 and j % Wg == 0):
                continue
            lb = L[j]
            if lb == 0 or lb == la or kind[la] + kind[lb] != 3:
                continue
            frag, person = (la, lb) if kind[la] == 1 else (lb, la)
            if parent[frag] != frag:
                continue
            z = min(z_[i], z_[j])
            if abs(z_[i] - z_[j]) < a + b * z * z:
                parent[frag] = person
                n += 1
    return n


@nb.njit(**_JIT)
def merge_components(labels: np.ndarray, stats: np.ndarray, parent: np.ndarray) -> None:
    """Relabel cells ``labels = parent[labels]`` and fold the statistics of each merged label
    into its parent's row (counts and sums add, extents widen; the merged row's count becomes
    0). ``parent`` must map every label to a root (``parent[root] == root``)."""
    N = labels.size
    L = labels.reshape(N)
    for i in range(N):
        L[i] = parent[L[i]]
    for k in range(1, stats.shape[0]):
        r = parent[k]
        if r == k:
            continue
        for c in (ST_COUNT, ST_AREA, ST_SX, ST_SY, ST_SZ):
            stats[r, c] += stats[k, c]
        if stats[k, ST_UP0] < stats[r, ST_UP0]:
            for c in (ST_LOWX, ST_LOWY, ST_LOWZ):
                stats[r, c] = stats[k, c]
        for c in (ST_R0, ST_C0, ST_UP0, ST_LAT0, ST_ZMIN, ST_FWD0):
            stats[r, c] = min(stats[r, c], stats[k, c])
        for c in (ST_R1, ST_C1, ST_UP1, ST_LAT1, ST_ZMAX, ST_FWD1):
            stats[r, c] = max(stats[r, c], stats[k, c])
        stats[r, ST_BORDER] = int(stats[r, ST_BORDER]) | int(stats[k, ST_BORDER])
        stats[k, ST_COUNT] = 0.0


@nb.njit(**_JIT)
def trim_to_corridor(P: np.ndarray, labels: np.ndarray, stats: np.ndarray, chosen: np.ndarray,
                     plane: np.ndarray, lateral: np.ndarray, forward: np.ndarray,
                     h_cut: float, lat_margin: float, fwd_margin: float) -> int:
    """Cut what sticks out sideways below a person's upper body (tables, chairs they touch).

    People are upright: their legs are under their upper body. For each ``chosen[label]``
    component whose top is more than ``h_cut + 0.3`` above the floor ``plane``, the part above
    ``h_cut`` spans a lateral and a forward range; cells below ``h_cut`` farther than
    ``lat_margin`` / ``fwd_margin`` outside those ranges are unlabelled. Returns the number of
    cells cut (the statistics must then be recomputed).
    """
    N = labels.size
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    m = stats.shape[0]
    lo = np.full((m, 2), 1e9)
    hi = np.full((m, 2), -1e9)
    tall = np.zeros(m, np.bool_)
    for k in range(m):
        tall[k] = chosen[k] and stats[k, ST_UP1] + plane[3] >= h_cut + 0.3
    for i in range(N):
        k = L[i]
        if not tall[k]:
            continue
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        if plane[0] * x + plane[1] * y + plane[2] * z + plane[3] <= h_cut:
            continue
        w = lateral[0] * x + lateral[1] * y + lateral[2] * z
        f = forward[0] * x + forward[1] * y + forward[2] * z
        lo[k, 0] = min(lo[k, 0], w)
        hi[k, 0] = max(hi[k, 0], w)
        lo[k, 1] = min(lo[k, 1], f)
        hi[k, 1] = max(hi[k, 1], f)
    n = 0
    for i in range(N):
        k = L[i]
        if not tall[k]:
            continue
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        if plane[0] * x + plane[1] * y + plane[2] * z + plane[3] > h_cut:
            continue
        w = lateral[0] * x + lateral[1] * y + lateral[2] * z
        f = forward[0] * x + forward[1] * y + forward[2] * z
        if w < lo[k, 0] - lat_margin or w > hi[k, 0] + lat_margin or \
                f < lo[k, 1] - fwd_margin or f > hi[k, 1] + fwd_margin:
            L[i] = 0
            n += 1
    return n


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
    block's own cell is compared (and neither floor nor box edges are looked for). Only grid
    rows ``window[0]:window[1]`` and columns ``window[2]:window[3]`` are visited.

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
                for j in range(9):
                    dy, dx = j // 3 - 1, j % 3 - 1
                    k = cell[base + dy * cols + dx]
                    if k >= 0:
                        ks[m] = k
                        zs[m] = zg[gy + dy, gx + dx]
                        m += 1
            for y in range(y0, y1):
                for x in range(x0, x1):
                    z = depth[y, x]
                    if not z > 0.0:
                        continue
                    best_d = a + (b * z + c) * z
                    best_k = -1
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


# shape feature columns
SF_TOP_W, SF_TOP_AREA, SF_LOW_EDGES, SF_LOW_HIDDEN = 0, 1, 2, 3


@nb.njit(**_JIT)
def shape_features(P: np.ndarray, zg: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                   up: np.ndarray, lateral: np.ndarray, top_slice: float, low_slice: float,
                   a: float, b: float, cell_area: float) -> np.ndarray:
    """Per-label shape cues (n + 1, 4) float64 (``SF_*`` columns).

    top: lateral width and metric area of the cells within ``top_slice`` of the top (a
    person's head is narrow; a cabinet or table is as wide at the top as below). low: of the
    cells within ``low_slice`` of the bottom whose lower neighbour belongs elsewhere, how many
    and how many of those continue hidden (lower neighbour nearer by more than ``a + b z^2``,
    or the image's last row): a person's legs go on behind an occluder; a
    picture on a wall ends in the wall.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    z_ = zg.reshape(N)
    m = stats.shape[0]
    out = np.zeros((m, 4))
    wlo = np.full(m, 1e9)
    whi = np.full(m, -1e9)
    for gy in range(Hg):
        for gx in range(Wg):
            i = gy * Wg + gx
            k = L[i]
            if k == 0:
                continue
            x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
            u = up[0] * x + up[1] * y + up[2] * z
            if u >= stats[k, ST_UP1] - top_slice:
                w = lateral[0] * x + lateral[1] * y + lateral[2] * z
                wlo[k] = min(wlo[k], w)
                whi[k] = max(whi[k], w)
                out[k, SF_TOP_AREA] += cell_area * z * z
            if u > stats[k, ST_UP0] + low_slice:
                continue
            if gy == Hg - 1:
                out[k, SF_LOW_EDGES] += 1.0
                out[k, SF_LOW_HIDDEN] += 1.0
                continue
            j = i + Wg
            if L[j] == k:
                continue
            out[k, SF_LOW_EDGES] += 1.0
            if z_[j] < z - (a + b * z * z):  # False for NaN: no depth is no evidence
                out[k, SF_LOW_HIDDEN] += 1.0
    for k in range(m):
        out[k, SF_TOP_W] = max(whi[k] - wlo[k], 0.0)
    return out


@nb.njit(**_JIT)
def _ramp(x: float, lo: float, hi: float) -> float:
    return min(max((x - lo) / (hi - lo), 0.0), 1.0)


@nb.njit(**_JIT)
def score_components(stats: np.ndarray, feats: np.ndarray, plane_d: float, has_plane: bool,
                     limits: np.ndarray, scores: np.ndarray, heights: np.ndarray) -> int:
    """Person scores in [0, 1] (0: not a person) and visible heights of all components
    (down to the floor for those standing on it); returns how many score above 0.

    ``limits``: min/max height, min/max width (m), min area (m^2), typical height and
    width lows (m), max width before a penalty (m). The score is a product of soft factors:
    visible height (a lower bound when cut at the image top or bottom), top of the component
    above the floor (a head is 0.5-1 m up or more), width, area, how box-like the silhouette
    is (furniture fills its bounding box), a narrow head on top, support (standing on the
    floor, or legs hidden behind something nearer), and cuts at the image's side borders.
    """
    h_min, h_max, w_min, w_max, a_min, h_typ, w_typ, w_wide = limits[:8]
    n_pos = 0
    for k in range(stats.shape[0]):
        scores[k] = 0.0
        heights[k] = 0.0
        if k == 0 or stats[k, ST_COUNT] < 6:
            continue
        h = stats[k, ST_UP1] - stats[k, ST_UP0]
        if has_plane and stats[k, ST_UP0] + plane_d < 0.3:  # on the floor: soles included
            h = stats[k, ST_UP1] + plane_d
        w = stats[k, ST_LAT1] - stats[k, ST_LAT0]
        heights[k] = h
        area = stats[k, ST_AREA]
        border = int(stats[k, ST_BORDER])
        cut_top, cut_tb, cut_lr = (border & 1) != 0, (border & 3) != 0, (border & 12) != 0
        if not (h_min <= h <= h_max and w_min <= w <= w_max and area >= a_min):
            continue
        if (border & 3) == 3 and h > 2.1:  # taller than the image and still > 2.1 m: a pillar
            continue
        s = _ramp(h, h_typ - 0.45, h_typ)
        if cut_tb:
            s = max(s, 0.7)
        top_w = feats[k, SF_TOP_W]
        if has_plane and not cut_top:  # a head 0.5-2 m above the floor (hands up to 2.3)
            top = stats[k, ST_UP1] + plane_d
            s *= _ramp(top, 0.5, 1.0) * (1.0 - 0.6 * _ramp(top, 2.0, 2.3))
            if top < 1.0 and not 0.12 <= top_w <= 0.38:  # a squatter's head, or a chair
                s *= 0.3
        s *= _ramp(w, 0.5 * w_typ, w_typ) * (0.8 if w > w_wide else 1.0)
        s *= _ramp(area, 0.1, 0.25)
        rows = stats[k, ST_R1] - stats[k, ST_R0] + 1
        fill = stats[k, ST_COUNT] / (rows * (stats[k, ST_C1] - stats[k, ST_C0] + 1))
        s *= 1.0 - 0.8 * _ramp(fill, 0.65, 0.9)
        top_fill = feats[k, SF_TOP_AREA] / max(0.25 * top_w, 1e-6)
        if not (top_w <= 0.55 or top_fill <= 0.5 or cut_top):
            s *= 0.7
        if has_plane and stats[k, ST_UP0] + plane_d > 0.3 and \
                feats[k, SF_LOW_HIDDEN] < 0.5 * feats[k, SF_LOW_EDGES]:
            s *= 0.3
        if cut_lr:
            s *= 0.7
        scores[k] = s
        if s > 0.0:
            n_pos += 1
    return n_pos


@nb.njit(**_JIT)
def split_side_by_side(P: np.ndarray, labels: np.ndarray, stats: np.ndarray, chosen: np.ndarray,
                       up: np.ndarray, lateral: np.ndarray, base: float, bin_m: float,
                       dip_m: float, min_part_m: float, min_peak: float,
                       next_label: int) -> int:
    """Split components that hold people side by side (touching shoulders or hands).

    For each ``chosen[label]`` component, the profile of its top height (``up . X + base``)
    over ``bin_m`` lateral bins is searched for a valley at least ``dip_m`` below a peak of
    at least ``min_peak`` on each side, with at least ``min_part_m`` of width on each side (a
    raised arm is narrower than that: no person of its own). The deepest valley splits:
    the cells beyond it get label ``next_label``, ``next_label + 1``, ... Returns the number of
    splits (statistics must then be recomputed).
    """
    N = labels.size
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    m = stats.shape[0]
    nb_max = 64
    prof = np.full((m, nb_max), -1e9)
    for i in range(N):
        k = L[i]
        if not chosen[k]:
            continue
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        j = int((lateral[0] * x + lateral[1] * y + lateral[2] * z - stats[k, ST_LAT0]) / bin_m)
        j = min(max(j, 0), nb_max - 1)
        prof[k, j] = max(prof[k, j], up[0] * x + up[1] * y + up[2] * z + base)
    cut = np.full(m, 1e9)
    newlab = np.zeros(m, np.int32)
    n_split = 0
    part = int(np.ceil(min_part_m / bin_m))
    for k in range(m):
        if not chosen[k]:
            continue
        nb_ = min(int((stats[k, ST_LAT1] - stats[k, ST_LAT0]) / bin_m) + 1, nb_max)
        best, best_j = 0.0, -1
        for j in range(part, nb_ - part):
            left = -1e9
            for a in range(0, j):
                left = max(left, prof[k, a])
            right = -1e9
            for b in range(j + 1, nb_):
                right = max(right, prof[k, b])
            depth = min(left, right) - prof[k, j]
            if depth >= dip_m and depth > best and min(left, right) >= min_peak:
                best, best_j = depth, j
        if best_j >= 0:
            cut[k] = stats[k, ST_LAT0] + (best_j + 0.5) * bin_m
            newlab[k] = next_label + n_split
            n_split += 1
    if n_split == 0:
        return 0
    for i in range(N):
        k = L[i]
        if newlab[k] == 0:
            continue
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        if lateral[0] * x + lateral[1] * y + lateral[2] * z > cut[k]:
            L[i] = newlab[k]
    return n_split
