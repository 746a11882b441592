"""Compiled (numba) kernels of the segmenter's instance votes (``cell_mode='votes'``).

A cell classifier with offsets (:class:`kinpose_ros.nets.person_cells.PersonCellNet`,
``offsets=True``) gives every grid cell the offset, in cells, to the centre of the person it
shows (the mean of the person's image joints, hidden ones included). A cell's vote is its grid
position plus that offset. One person's cells vote for one point wherever the person is cut
apart (a table or another person's arm in front); two people touching at the same depth vote
for two. Votes are compared in metres: a distance in cells times the metric cell side ``z
step / fx`` at the component's mean depth.

Conventions as in :mod:`~kinpose_ros.core.segmentation_kernels` (flat loops, labels 1..n, row
0 of the statistics unused).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from kinpose_ros.core.segmentation_kernels import (
    JIT_OPTIONS as _JIT,
)
from kinpose_ros.core.segmentation_kernels import (
    ST_C0,
    ST_C1,
    ST_COUNT,
    ST_LAT0,
    ST_LAT1,
    ST_R0,
    ST_R1,
    ST_SZ,
    ST_UP0,
    ST_UP1,
)

__all__ = ['merge_by_votes', 'split_by_votes']


@nb.njit(**_JIT)
def split_by_votes(labels: np.ndarray, off: np.ndarray, stats: np.ndarray, kind: np.ndarray,
                   step_over_fx: float, sep_m: float, min_frac: float, min_cells: int,
                   next_label: int, origin: np.ndarray) -> int:
    """Split components whose votes form two groups: people side by side or one partly in
    front of the other at nearly the same depth, which depth continuity joins.

    Candidates are person-sized or larger components (``kind`` 2 or 3) of at least ``2
    min_cells`` cells. Their votes (metres in the image plane at the component's mean depth)
    are parted by 2-means (seeded by the vote farthest from the mean and the vote farthest from
    that one); when the two means lie more than ``sep_m`` apart and each side holds at least
    ``min_frac`` of the cells and ``min_cells`` cells, the second side's cells get label
    ``next_label``, ``next_label + 1``, ..., split off ``origin[0]``, ``origin[1]``, ...
    Returns the number of splits (statistics must then be recomputed).

    Args:
        labels: (Hg, Wg) int32 component labels, 0 none; changed in place.
        off: (2, Hg, Wg) float32 offsets to the person centre in cells (rows, columns).
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    o_r = off[0].reshape(N)
    o_c = off[1].reshape(N)
    m = stats.shape[0]
    u = np.empty(N)  # votes of one component, metres, and their cells
    v = np.empty(N)
    cells = np.empty(N, np.int64)
    n_split = 0
    for k in range(1, m):
        if stats[k, ST_COUNT] < 2 * min_cells or (kind[k] != 2 and kind[k] != 3):
            continue
        s = stats[k, ST_SZ] / stats[k, ST_COUNT] * step_over_fx  # metres per cell
        cnt = 0
        mu = 0.0
        mv = 0.0
        for gy in range(int(stats[k, ST_R0]), int(stats[k, ST_R1]) + 1):
            for gx in range(int(stats[k, ST_C0]), int(stats[k, ST_C1]) + 1):
                i = gy * Wg + gx
                if L[i] == k:
                    cells[cnt] = i
                    u[cnt] = (gx + o_c[i]) * s
                    v[cnt] = (gy + o_r[i]) * s
                    mu += u[cnt]
                    mv += v[cnt]
                    cnt += 1
        if cnt < 2 * min_cells:
            continue
        mu /= cnt
        mv /= cnt
        # 2-means seeded by the vote farthest from the mean and the one farthest from that
        au, av = _farthest(u, v, cnt, mu, mv)
        bu, bv = _farthest(u, v, cnt, au, av)
        nb_ = 0
        for _ in range(5):
            su_a = 0.0
            sv_a = 0.0
            su_b = 0.0
            sv_b = 0.0
            nb_ = 0
            for j in range(cnt):
                if (u[j] - au) ** 2 + (v[j] - av) ** 2 <= (u[j] - bu) ** 2 + (v[j] - bv) ** 2:
                    su_a += u[j]
                    sv_a += v[j]
                else:
                    su_b += u[j]
                    sv_b += v[j]
                    nb_ += 1
            if nb_ == 0 or nb_ == cnt:
                break
            au = su_a / (cnt - nb_)
            av = sv_a / (cnt - nb_)
            bu = su_b / nb_
            bv = sv_b / nb_
        if nb_ == 0 or nb_ == cnt:
            continue
        small = min(nb_, cnt - nb_)
        if (au - bu) ** 2 + (av - bv) ** 2 <= sep_m * sep_m or small < min_cells or \
                small < min_frac * cnt:
            continue
        new = next_label + n_split
        for j in range(cnt):
            if (u[j] - au) ** 2 + (v[j] - av) ** 2 > (u[j] - bu) ** 2 + (v[j] - bv) ** 2:
                L[cells[j]] = new
        origin[n_split] = k
        n_split += 1
        if n_split >= origin.size:
            break
    return n_split


@nb.njit(**_JIT)
def _farthest(u: np.ndarray, v: np.ndarray, n: int, pu: float, pv: float) -> tuple:
    """The point of ``(u, v)[:n]`` farthest from ``(pu, pv)``."""
    best = -1.0
    fu = pu
    fv = pv
    for j in range(n):
        d = (u[j] - pu) ** 2 + (v[j] - pv) ** 2
        if d > best:
            best = d
            fu = u[j]
            fv = v[j]
    return fu, fv


@nb.njit(**_JIT)
def merge_by_votes(zg: np.ndarray, labels: np.ndarray, off: np.ndarray, prob: np.ndarray,
                   stats: np.ndarray, step_over_fx: float, merge_m: float, dz_m: float,
                   min_cells: int, min_prob: float, h_max: float, w_max: float,
                   parent: np.ndarray) -> int:
    """Join components whose votes meet: the parts of one person cut apart by something in
    front of them or by a depth step, and the limbs that fell off.

    Components of at least ``min_cells`` cells whose mean person probability is at least
    ``min_prob`` are compared pairwise, nearest votes first: mean votes closer than
    ``merge_m`` (metres at the pair's mean depth) and mean depths closer than ``dz_m`` join,
    unless the union would be taller than ``h_max`` or wider than ``w_max`` (metres, up and
    lateral). ``parent`` (n + 1,) gets label -> root. Returns the number of joins.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    z_ = zg.reshape(N)
    o_r = off[0].reshape(N)
    o_c = off[1].reshape(N)
    p_ = prob.reshape(N)
    m = stats.shape[0]
    cnt = np.zeros(m, np.int64)
    vr = np.zeros(m)
    vc = np.zeros(m)
    zs = np.zeros(m)
    ps = np.zeros(m)
    for i in range(N):
        k = L[i]
        if k == 0:
            continue
        cnt[k] += 1
        vr[k] += i // Wg + o_r[i]
        vc[k] += i % Wg + o_c[i]
        zs[k] += z_[i]
        ps[k] += p_[i]
    idx = np.empty(m, np.int64)
    n = 0
    for k in range(1, m):
        if cnt[k] >= min_cells and ps[k] >= min_prob * cnt[k]:
            vr[k] /= cnt[k]
            vc[k] /= cnt[k]
            zs[k] /= cnt[k]
            idx[n] = k
            n += 1
    if n < 2:
        return 0
    n_pairs = 0
    pa = np.empty(n * (n - 1) // 2, np.int64)
    pb = np.empty(n * (n - 1) // 2, np.int64)
    pd = np.empty(n * (n - 1) // 2)
    for x in range(n):
        a = idx[x]
        for y in range(x + 1, n):
            b = idx[y]
            if abs(zs[a] - zs[b]) >= dz_m:
                continue
            s = 0.5 * (zs[a] + zs[b]) * step_over_fx
            d = np.sqrt((vr[a] - vr[b]) ** 2 + (vc[a] - vc[b]) ** 2) * s
            if d < merge_m:
                pa[n_pairs] = a
                pb[n_pairs] = b
                pd[n_pairs] = d
                n_pairs += 1
    if n_pairs == 0:
        return 0
    up0 = stats[:, ST_UP0].copy()
    up1 = stats[:, ST_UP1].copy()
    lat0 = stats[:, ST_LAT0].copy()
    lat1 = stats[:, ST_LAT1].copy()
    joins = 0
    for q in np.argsort(pd[:n_pairs]):
        ra = pa[q]
        while parent[ra] != ra:
            ra = parent[ra]
        rb = pb[q]
        while parent[rb] != rb:
            rb = parent[rb]
        if ra == rb:
            continue
        u0 = min(up0[ra], up0[rb])
        u1 = max(up1[ra], up1[rb])
        l0 = min(lat0[ra], lat0[rb])
        l1 = max(lat1[ra], lat1[rb])
        if u1 - u0 > h_max or l1 - l0 > w_max:
            continue
        if rb < ra:
            ra, rb = rb, ra
        parent[rb] = ra
        up0[ra] = u0
        up1[ra] = u1
        lat0[ra] = l0
        lat1[ra] = l1
        joins += 1
    for k in range(m):  # flatten to roots
        r = k
        while parent[r] != r:
            r = parent[r]
        parent[k] = r
    return joins
