"""Compiled (numba) rules on the components of the person segmenter's grid: size classes,
limb fragments, people side by side, furniture sticking out below a person, shape cues and
the person score (:mod:`kinpose_ros.core.segmentation`).

Components come from :mod:`kinpose_ros.core.segmentation_kernels` (labels on the grid and
their statistics, ``ST_*`` columns); points are in the camera optical frame (metres); "up",
"lateral" and "forward" are the floor normal, the horizontal camera x and their cross product.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from kinpose_ros.core.segmentation_kernels import (
    JIT_OPTIONS as _JIT,
)
from kinpose_ros.core.segmentation_kernels import (
    ST_AREA,
    ST_BORDER,
    ST_C0,
    ST_C1,
    ST_COUNT,
    ST_FWD0,
    ST_FWD1,
    ST_LAT0,
    ST_LAT1,
    ST_LOWX,
    ST_LOWY,
    ST_LOWZ,
    ST_R0,
    ST_R1,
    ST_SX,
    ST_SY,
    ST_SZ,
    ST_UP0,
    ST_UP1,
    ST_ZMAX,
    ST_ZMIN,
    label_window,
)


@nb.njit(**_JIT)
def classify(stats: np.ndarray, h_min: float, h_max: float, w_min: float, w_max: float,
             d_max: float, a_max: float, frag_max: float, kind: np.ndarray) -> np.ndarray:
    """Sort components by size into ``kind`` (n + 1,) int8: 0 empty or row 0, 1 fragment
    (height and width below ``frag_max``), 2 person-sized, 3 larger than a person (height
    above ``h_max``, width above ``w_max``, forward extent above ``d_max`` - a wall along the
    line of sight is narrow but deep - or metric area above ``a_max`` m^2), 4 other; returns
    the counts of each kind."""
    counts = np.zeros(5, np.int64)
    kind[0] = 0
    for k in range(1, stats.shape[0]):
        h = stats[k, ST_UP1] - stats[k, ST_UP0]
        w = stats[k, ST_LAT1] - stats[k, ST_LAT0]
        if stats[k, ST_COUNT] == 0:
            c = 0
        elif h > h_max or w > w_max or stats[k, ST_FWD1] - stats[k, ST_FWD0] > d_max or \
                stats[k, ST_AREA] > a_max:
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
def attach_fragments(zg: np.ndarray, labels: np.ndarray, kind: np.ndarray, a: float, b: float,
                     parent: np.ndarray) -> int:
    """Attach fragments to the person-sized component they touch.

    Limbs reaching toward the camera (or away) change depth faster than the jump threshold
    allows and come off the body. A fragment (``kind`` 1) with a cell 8-adjacent to a cell of
    a person-sized component (``kind`` 2) and a depth difference there below ``a + b z^2`` is
    attached; a diagonal contact counts where both corner cells between lie farther than the
    pair by that much (or have no depth): on a coarse grid a thin wrist seen against the
    background may be sampled away, leaving the hand touching the forearm at a corner.
    Attaching sets ``parent[fragment] = person`` (``parent`` (n + 1,) int32, the identity on
    entry; a fragment joins the first person found). Returns the number of attachments.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    z_ = zg.reshape(N)
    n = 0
    for gy in range(Hg):
        for gx in range(Wg):
            i = gy * Wg + gx
            la = L[i]
            if la == 0:
                continue
            for d in range(4):  # right, down-left, down, down-right
                if d == 0:
                    if gx == Wg - 1:
                        continue
                    j = i + 1
                elif gy == Hg - 1 or (d == 1 and gx == 0) or (d == 3 and gx == Wg - 1):
                    continue
                else:
                    j = i + Wg + d - 2
                lb = L[j]
                if lb == 0 or lb == la or kind[la] + kind[lb] != 3:
                    continue
                frag, person = (la, lb) if kind[la] == 1 else (lb, la)
                if parent[frag] != frag:
                    continue
                z = min(z_[i], z_[j])
                thr = a + b * z * z
                if abs(z_[i] - z_[j]) >= thr:
                    continue
                if d == 1 or d == 3:  # diagonal: the two corner cells must lie behind
                    c1, c2 = i + d - 2, i + Wg
                    zf = max(z_[i], z_[j]) + thr
                    if z_[c1] < zf or z_[c2] < zf:  # False for NaN: no depth is no evidence
                        continue
                parent[frag] = person
                n += 1
    return n


@nb.njit(**_JIT)
def merge_components(labels: np.ndarray, stats: np.ndarray, parent: np.ndarray,
                     folded: np.ndarray) -> None:
    """Relabel cells ``labels = parent[labels]`` and fold the statistics of each merged label
    into its parent's row (counts and sums add, extents widen; the merged row's count becomes
    0), marking that row in ``folded`` (bool per label). ``parent`` must map every label to a
    root (``parent[root] == root``)."""
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
        folded[r] = True


@nb.njit(**_JIT)
def trim_to_corridor(P: np.ndarray, labels: np.ndarray, stats: np.ndarray, kind: np.ndarray,
                     plane: np.ndarray, lateral: np.ndarray, forward: np.ndarray,
                     h_cut: float, lat_margin: float, fwd_margin: float,
                     trimmed: np.ndarray) -> int:
    """Cut what sticks out sideways below a person's upper body (tables, chairs they touch).

    People are upright: their legs are under their upper body. For each person-sized
    component (``kind`` 2) whose top is more than ``h_cut + 0.3`` above the floor ``plane``,
    the part above ``h_cut`` spans a lateral and a forward range; cells below ``h_cut``
    farther than ``lat_margin`` / ``fwd_margin`` outside those ranges are unlabelled, and
    ``trimmed[label]`` (bool, False on entry) is set. Returns the number of cells cut (the
    statistics of the trimmed labels must then be recomputed).
    """
    Wg = labels.shape[1]
    N = labels.size
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    m = stats.shape[0]
    lo = np.full((m, 2), 1e9)
    hi = np.full((m, 2), -1e9)
    tall = np.zeros(m, np.bool_)
    for k in range(m):
        tall[k] = kind[k] == 2 and stats[k, ST_UP1] + plane[3] >= h_cut + 0.3
    r0, r1, c0, c1 = label_window(stats, tall)
    for gy in range(r0, r1):
        for i in range(gy * Wg + c0, gy * Wg + c1):
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
    for gy in range(r0, r1):
        for i in range(gy * Wg + c0, gy * Wg + c1):
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
                trimmed[k] = True
                n += 1
    return n


# shape feature columns
SF_TOP_W, SF_TOP_AREA, SF_LOW_EDGES, SF_LOW_HIDDEN, SF_REMNANT = 0, 1, 2, 3, 4


@nb.njit(**_JIT)
def shape_features(P: np.ndarray, zg: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                   up: np.ndarray, lateral: np.ndarray, top_slice: float, low_slice: float,
                   a: float, b: float, cell_area: float, segmented: np.ndarray,
                   keep: np.ndarray, ta: float, tb: float) -> np.ndarray:
    """Per-label shape cues (n + 1, 5) float64 (``SF_*`` columns).

    top: lateral width and metric area of the cells within ``top_slice`` of the top (a
    person's head is narrow; a cabinet or table is as wide at the top as below); the width
    leaves out cells more than three standard deviations (at least 0.05 m) from the cells'
    mean lateral position (a hand raised beside the head; a compact top keeps all its cells).
    low: of the cells within ``low_slice`` of the bottom whose lower neighbour belongs
    elsewhere, how many and how many of those continue hidden (lower neighbour nearer by more
    than ``a + b z^2``, or the image's last row): a person's legs go on behind an occluder; a
    picture on a wall ends in the wall. remnant: the fraction of the outline cells (a
    4-neighbour in the image with another label) with a 4-neighbour on a removed plane
    (``segmented`` before the plane removal of larger-than-person components, not ``keep``
    after it) within ``ta + tb z^2`` of their depth: what is left of a wall after its plane
    went (a door jamb, mixed pixels at an edge) continues into the removed surface; a person
    stands out of the surface behind it.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    Pf = P.reshape(N, 3)
    z_ = zg.reshape(N)
    seg_f = segmented.reshape(N)
    keep_f = keep.reshape(N)
    m = stats.shape[0]
    out = np.zeros((m, 5))
    outline = np.zeros(m)
    wsum = np.zeros((m, 3))  # top cells: count, sum and sum of squares of lateral positions
    for gy in range(Hg):
        for gx in range(Wg):
            i = gy * Wg + gx
            k = L[i]
            if k == 0:
                continue
            x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
            edge = False
            on_removed = False
            tol = ta + tb * z * z
            for d in range(4):  # left, right, up, down
                if d == 0:
                    j = i - 1 if gx > 0 else -1
                elif d == 1:
                    j = i + 1 if gx < Wg - 1 else -1
                elif d == 2:
                    j = i - Wg if gy > 0 else -1
                else:
                    j = i + Wg if gy < Hg - 1 else -1
                if j < 0 or L[j] == k:
                    continue
                edge = True
                if seg_f[j] and not keep_f[j] and abs(z_[j] - z) < tol:
                    on_removed = True
            if edge:
                outline[k] += 1.0
                if on_removed:
                    out[k, SF_REMNANT] += 1.0
            u = up[0] * x + up[1] * y + up[2] * z
            if u >= stats[k, ST_UP1] - top_slice:
                w = lateral[0] * x + lateral[1] * y + lateral[2] * z
                wsum[k, 0] += 1.0
                wsum[k, 1] += w
                wsum[k, 2] += w * w
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
    mean = np.zeros(m)
    band = np.zeros(m)
    for k in range(m):
        if wsum[k, 0] > 0:
            mean[k] = wsum[k, 1] / wsum[k, 0]
            var = max(wsum[k, 2] / wsum[k, 0] - mean[k] * mean[k], 0.0)
            band[k] = max(3.0 * np.sqrt(var), 0.05)
    wlo = np.full(m, 1e9)
    whi = np.full(m, -1e9)
    for i in range(N):
        k = L[i]
        if k == 0:
            continue
        x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
        if up[0] * x + up[1] * y + up[2] * z < stats[k, ST_UP1] - top_slice:
            continue
        w = lateral[0] * x + lateral[1] * y + lateral[2] * z
        if abs(w - mean[k]) <= band[k]:
            wlo[k] = min(wlo[k], w)
            whi[k] = max(whi[k], w)
    for k in range(m):
        out[k, SF_TOP_W] = max(whi[k] - wlo[k], 0.0)
        out[k, SF_REMNANT] /= max(outline[k], 1.0)
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
    width lows (m), max width before a penalty (m), remnant fractions where the penalty starts
    and ends (``SF_REMNANT``). The score is a product of soft factors:
    visible height (a lower bound when cut at the image top or bottom), top of the component
    above the floor (a head is 0.5-1 m up or more), width, area (less is needed when cut at
    the image bottom with no floor in view: an upper body close to the camera, holed by the
    sensor), how box-like the silhouette is (furniture fills its bounding box), a narrow head
    on top, support (standing on the floor, or legs hidden behind something nearer), cuts at
    the image's side borders, an outline that continues into a removed wall plane (a remnant
    of the wall), and a forward extent more than twice the height and the width.
    """
    h_min, h_max, w_min, w_max, a_min, h_typ, w_typ, w_wide, rem0, rem1 = limits[:10]
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
            elif top < 1.5 and top_w < 0.1:  # no head; a raised hand would be higher
                s *= 0.3
        s *= _ramp(w, 0.5 * w_typ, w_typ) * (0.8 if w > w_wide else 1.0)
        if (border & 2) != 0 and not has_plane:  # an upper body before a desk camera
            s *= _ramp(area, 0.08, 0.15)
        else:
            s *= _ramp(area, 0.1, 0.25)
        rows = stats[k, ST_R1] - stats[k, ST_R0] + 1
        fill = stats[k, ST_COUNT] / (rows * (stats[k, ST_C1] - stats[k, ST_C0] + 1))
        s *= 1.0 - 0.8 * _ramp(fill, 0.65, 0.9)
        top_fill = feats[k, SF_TOP_AREA] / max(0.25 * top_w, 1e-6)
        if not (top_w <= 0.55 or top_fill <= 0.5 or cut_top):
            s *= 0.7
        if has_plane and stats[k, ST_UP0] + plane_d > 0.3 and \
                feats[k, SF_LOW_HIDDEN] < 0.5 * feats[k, SF_LOW_EDGES]:
            s *= 0.4
        if cut_lr:
            s *= 0.7
        s *= 1.0 - 0.9 * _ramp(feats[k, SF_REMNANT], rem0, rem1)
        # reaching far back along the line of sight for its size: an object chained to the
        # surfaces behind it through mixed pixels at its edge (people stay below ~1.9)
        s *= 1.0 - 0.9 * _ramp((stats[k, ST_FWD1] - stats[k, ST_FWD0]) / max(h, w), 2.0, 2.5)
        scores[k] = s
        if s > 0.0:
            n_pos += 1
    return n_pos


@nb.njit(**_JIT)
def split_side_by_side(P: np.ndarray, labels: np.ndarray, stats: np.ndarray, kind: np.ndarray,
                       min_width: float, up: np.ndarray, lateral: np.ndarray, base: float,
                       bin_m: float, dip_m: float, min_part_m: float, min_peak: float,
                       next_label: int, origin: np.ndarray) -> int:
    """Split components that hold people side by side (touching shoulders or hands).

    For each person-sized component (``kind`` 2) at least ``min_width`` wide, the profile of
    its top height (``up . X + base``) over ``bin_m`` lateral bins is searched for a valley at
    least ``dip_m`` below a peak of at least ``min_peak`` on each side, with at least
    ``min_part_m`` of width on each side (a raised arm is narrower than that: no person of its
    own). The deepest valley splits: the cells beyond it get label ``next_label``,
    ``next_label + 1``, ..., split off label ``origin[0]``, ``origin[1]``, ... Returns the
    number of splits (statistics must then be recomputed).
    """
    Hg, Wg = labels.shape
    L = labels.reshape(Hg * Wg)
    Pf = P.reshape(Hg * Wg, 3)
    m = stats.shape[0]
    nb_max = 64
    chosen = np.zeros(m, np.bool_)
    slot = np.full(m, -1, np.int32)  # profile row of each chosen label
    n_chosen = 0
    for k in range(m):
        if kind[k] == 2 and stats[k, ST_LAT1] - stats[k, ST_LAT0] >= min_width:
            chosen[k] = True
            slot[k] = n_chosen
            n_chosen += 1
    if n_chosen == 0:
        return 0
    prof = np.full((n_chosen, nb_max), -1e9)
    r0, r1, c0, c1 = label_window(stats, chosen)
    for gy in range(r0, r1):
        for i in range(gy * Wg + c0, gy * Wg + c1):
            k = L[i]
            if not chosen[k]:
                continue
            x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
            j = int((lateral[0] * x + lateral[1] * y + lateral[2] * z - stats[k, ST_LAT0]) /
                    bin_m)
            j = min(max(j, 0), nb_max - 1)
            prof[slot[k], j] = max(prof[slot[k], j], up[0] * x + up[1] * y + up[2] * z + base)
    cut = np.full(m, 1e9)
    newlab = np.zeros(m, np.int32)
    n_split = 0
    part = int(np.ceil(min_part_m / bin_m))
    for k in range(m):
        if not chosen[k]:
            continue
        row = prof[slot[k]]
        nb_ = min(int((stats[k, ST_LAT1] - stats[k, ST_LAT0]) / bin_m) + 1, nb_max)
        best, best_j = 0.0, -1
        for j in range(part, nb_ - part):
            left = -1e9
            for a in range(0, j):
                left = max(left, row[a])
            right = -1e9
            for b in range(j + 1, nb_):
                right = max(right, row[b])
            depth = min(left, right) - row[j]
            if depth >= dip_m and depth > best and min(left, right) >= min_peak:
                best, best_j = depth, j
        if best_j >= 0:
            cut[k] = stats[k, ST_LAT0] + (best_j + 0.5) * bin_m
            newlab[k] = next_label + n_split
            origin[n_split] = k
            n_split += 1
    if n_split == 0:
        return 0
    for gy in range(r0, r1):
        for i in range(gy * Wg + c0, gy * Wg + c1):
            k = L[i]
            if newlab[k] == 0:
                continue
            x, y, z = Pf[i, 0], Pf[i, 1], Pf[i, 2]
            if lateral[0] * x + lateral[1] * y + lateral[2] * z > cut[k]:
                L[i] = newlab[k]
    return n_split


@nb.njit(**_JIT)
def _root(parent: np.ndarray, k: int) -> int:
    while parent[k] != k:
        k = parent[k]
    return k


@nb.njit(**_JIT)
def join_hidden_parts(P: np.ndarray, zg: np.ndarray, labels: np.ndarray, keep: np.ndarray,
                      level: np.ndarray, height: np.ndarray, kind: np.ndarray,
                      stats: np.ndarray, up: np.ndarray, a: float, b: float, dz_max: float,
                      gap_m: float, lat_margin: float, touch_margin: float, min_votes: float,
                      h_max: float, w_max: float, parent: np.ndarray) -> int:
    """Join the parts of a person cut apart by something in front of them (a table, another
    person's arm) or by a depth step within the body (a seated person's lap).

    Below the lowest cells of a component A (not larger than a person: ``kind`` 1, 2 or 4),
    each grid column is followed down through cells that hide what is behind them: nearer
    than A by more than ``a + b z^2`` (and not floor: ``height`` above the floor more than
    0.1 m), table tops removed as furniture (``level`` and not ``keep``), or invalid. When that
    gap (at most ``gap_m`` down along ``up``; possibly empty: B touches A) ends on a cell of
    another such component B within ``dz_max`` of A's depth, and B is not itself part of the
    gap (then B is in front of A), the column votes for (A, B). B is joined to A when the
    votes of either kind (across a gap, touching) cover at least ``min_votes`` of B's columns
    (and 2), B lies under A (within ``lat_margin`` of A's lateral extent; touching parts also
    A over B within ``touch_margin``: a table edge touching a person's hips is wider than the
    person) and the union stays within ``h_max`` x ``w_max`` (up x lateral, metres).

    Args:
        P, zg, labels, keep, level, height: the grid (points, depth, labels, kept and level
            cells, height above the floor: NaN without a floor).
        kind, stats: size classes and statistics of labels 0..n.
        parent: (n + 1,) int32, the identity on entry; maps every label to its root on
            return (for ``merge_components``).

    Returns:
        The number of joins. At most ``8 Wg`` column votes are counted.
    """
    Hg, Wg = labels.shape
    N = Hg * Wg
    L = labels.reshape(N)
    z_ = zg.reshape(N)
    Pf = P.reshape(N, 3)
    keep_f = keep.reshape(N)
    level_f = level.reshape(N)
    height_f = height.reshape(N)
    m = stats.shape[0]
    pairs = np.empty(Wg * 8, np.int64)
    n_pairs = 0
    for gx in range(Wg):
        for gy in range(Hg - 1):
            i = gy * Wg + gx
            A = L[i]
            if A == 0 or kind[A] == 0 or kind[A] == 3 or L[i + Wg] == A:
                continue
            zA = z_[i]
            thr = a + b * zA * zA
            u_end = up[0] * Pf[i, 0] + up[1] * Pf[i, 1] + up[2] * Pf[i, 2] - gap_m
            for gy2 in range(gy + 1, Hg):
                j = gy2 * Wg + gx
                zj = z_[j]
                B = L[j]
                if B != 0 and B != A and abs(zj - zA) < dz_max:
                    occluder = False  # B hides part of the gap: it is in front, not behind
                    for gy3 in range(gy + 1, gy2):
                        occluder = occluder or L[gy3 * Wg + gx] == B
                    if not occluder:
                        if kind[B] != 0 and kind[B] != 3 and n_pairs < pairs.shape[0]:
                            pairs[n_pairs] = 2 * (A * m + B) + (gy2 == gy + 1)
                            n_pairs += 1
                        break
                if zj == zj:
                    if up[0] * Pf[j, 0] + up[1] * Pf[j, 1] + up[2] * Pf[j, 2] < u_end:
                        break
                    hides = zj < zA - thr and (keep_f[j] or height_f[j] > 0.1)
                    if not (hides or (level_f[j] and not keep_f[j])):
                        break
    if n_pairs < 2:
        return 0
    keys = np.sort(pairs[:n_pairs])
    ext = np.empty((m, 4))  # up0, up1, lat0, lat1 of each root's union
    for k in range(m):
        ext[k, 0], ext[k, 1] = stats[k, ST_UP0], stats[k, ST_UP1]
        ext[k, 2], ext[k, 3] = stats[k, ST_LAT0], stats[k, ST_LAT1]
    joins = 0
    s = 0
    while s < n_pairs:
        e = s
        while e < n_pairs and keys[e] == keys[s]:
            e += 1
        A, B, touch = keys[s] // 2 // m, keys[s] // 2 % m, keys[s] % 2 == 1
        votes = e - s
        s = e
        if votes < 2 or votes < min_votes * (stats[B, ST_C1] - stats[B, ST_C0] + 1):
            continue
        if stats[B, ST_LAT0] < stats[A, ST_LAT0] - lat_margin or \
                stats[B, ST_LAT1] > stats[A, ST_LAT1] + lat_margin:
            continue
        if touch and (stats[A, ST_LAT0] < stats[B, ST_LAT0] - touch_margin or
                      stats[A, ST_LAT1] > stats[B, ST_LAT1] + touch_margin):
            continue
        ra, rb = _root(parent, A), _root(parent, B)
        if ra == rb:
            continue
        u0, u1 = min(ext[ra, 0], ext[rb, 0]), max(ext[ra, 1], ext[rb, 1])
        w0, w1 = min(ext[ra, 2], ext[rb, 2]), max(ext[ra, 3], ext[rb, 3])
        if u1 - u0 > h_max or w1 - w0 > w_max:
            continue
        parent[rb] = ra
        ext[ra, 0], ext[ra, 1], ext[ra, 2], ext[ra, 3] = u0, u1, w0, w1
        joins += 1
    for k in range(m):
        parent[k] = _root(parent, k)
    return joins


@nb.njit(**_JIT)
def split_by_depth(zg: np.ndarray, labels: np.ndarray, stats: np.ndarray, kind: np.ndarray,
                   h_max: float, w_max: float, bin_m: float, gap_m: float, valley_frac: float,
                   min_side: float, next_label: int, origin: np.ndarray) -> int:
    """Split components that hold people one behind the other (touching where one reaches
    out), at an empty stretch of their depth histogram.

    Candidates: person-sized components (``kind`` 2), or larger ones (3) within ``h_max`` x
    ``w_max`` (up x lateral, metres: too large in area or depth only; a wall is left whole),
    whose depths span more than ``gap_m + 0.2``. Their depths are counted in ``bin_m`` bins;
    a run of bins at least ``gap_m`` long, each holding at most ``valley_frac`` of the cells
    (and at least 1), with at least ``min_side`` of the cells on either side, is a gap between
    two bodies (one body is depth-continuous: its histogram has no such gap). At the most
    balanced gap the cells behind its middle get label ``next_label``, ``next_label + 1``,
    ..., split off label ``origin[0]``, ``origin[1]``, ... Returns the number of splits
    (statistics must then be recomputed).
    """
    N = labels.size
    L = labels.reshape(N)
    z_ = zg.reshape(N)
    m = stats.shape[0]
    chosen = np.zeros(m, np.bool_)
    any_chosen = False
    for k in range(1, m):
        if stats[k, ST_ZMAX] - stats[k, ST_ZMIN] > gap_m + 0.2 and (kind[k] == 2 or (
                kind[k] == 3 and stats[k, ST_UP1] - stats[k, ST_UP0] <= h_max and
                stats[k, ST_LAT1] - stats[k, ST_LAT0] <= w_max)):
            chosen[k] = True
            any_chosen = True
    if not any_chosen:
        return 0
    nb_max = 64
    hist = np.zeros((m, nb_max), np.int32)
    for i in range(N):
        k = L[i]
        if chosen[k]:
            j = min(int((z_[i] - stats[k, ST_ZMIN]) / bin_m), nb_max - 1)
            hist[k, j] += 1
    cut = np.full(m, np.inf)
    n_split = 0
    run_min = max(int(np.ceil(gap_m / bin_m)), 1)
    for k in range(m):
        if not chosen[k]:
            continue
        n = stats[k, ST_COUNT]
        nb_ = min(int((stats[k, ST_ZMAX] - stats[k, ST_ZMIN]) / bin_m) + 1, nb_max)
        t = max(1.0, valley_frac * n)
        best, best_at = 0.0, 0.0
        left = 0.0
        j = 0
        while j < nb_:
            if hist[k, j] > t:
                left += hist[k, j]
                j += 1
                continue
            j1 = j  # a run of sparse bins j..j1-1
            inside = 0.0
            while j1 < nb_ and hist[k, j1] <= t:
                inside += hist[k, j1]
                j1 += 1
            right = n - left - inside
            side = min(left, right)
            if j1 - j >= run_min and side >= min_side * n and side > best:
                best, best_at = side, stats[k, ST_ZMIN] + 0.5 * (j + j1) * bin_m
            left += inside
            j = j1
        if best > 0.0:
            cut[k] = best_at
            n_split += 1
    if n_split == 0:
        return 0
    newlab = np.zeros(m, np.int32)
    s = 0
    for k in range(m):
        if cut[k] < np.inf:
            newlab[k] = next_label + s
            origin[s] = k
            s += 1
    for i in range(N):
        k = L[i]
        if k != 0 and z_[i] > cut[k]:
            L[i] = newlab[k]
    return n_split
