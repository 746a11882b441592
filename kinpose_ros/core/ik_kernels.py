"""Compiled (numba) kernels of the IK solver: per-sample FK, closed-form init and LM.

Kept apart from :mod:`kinpose_ros.core.ik` (API, validation, table packing) because these
functions work on flat arrays only. One sample is solved by :func:`solve_one`; batches run
in parallel over samples. Algorithm (see ik.py for the contract):

1. Root pose: weighted Kabsch of the rest skeleton on the keypoints rigidly attached to the
   root (other keypoints get a tiny weight that only breaks degeneracies).
2. Closed form, one pass in topological order: for each frame with DoFs, the rotation that
   best maps its rigid descendants' rest vectors (plus, for a limb, the hinge axis of the next
   joint onto the normal of the target limb plane) to the target vectors, decomposed into the
   frame's DoF axis sequence (both Tait-Bryan branches; the one within limits wins).
3. Levenberg-Marquardt with the analytic revolute-joint Jacobian, the root rotation updated
   multiplicatively, angles projected onto their limits; restarts from jittered angles when
   the worst keypoint stays above a threshold.
"""
from __future__ import annotations

import numba as nb
import numpy as np

_JIT = {'cache': True}


@nb.njit(**_JIT)
def mm3(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """3x3 product without a BLAS call (BLAS overhead dominates at this size)."""
    C = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            C[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]
    return C


@nb.njit(**_JIT)
def mv3(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.empty(3)
    for i in range(3):
        out[i] = A[i, 0] * v[0] + A[i, 1] * v[1] + A[i, 2] * v[2]
    return out


@nb.njit(**_JIT)
def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(3)
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]
    return out


@nb.njit(**_JIT)
def rot_axis(idx: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    R = np.eye(3)
    j, k = (idx + 1) % 3, (idx + 2) % 3
    R[j, j] = c
    R[k, k] = c
    R[j, k] = -s
    R[k, j] = s
    return R


@nb.njit(**_JIT)
def rodrigues(v: np.ndarray) -> np.ndarray:
    theta = np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    K = np.zeros((3, 3))
    K[0, 1], K[0, 2], K[1, 2] = -v[2], v[1], -v[0]
    K[1, 0], K[2, 0], K[2, 1] = v[2], -v[1], v[0]
    if theta < 1e-8:
        return np.eye(3) + K + 0.5 * mm3(K, K)
    return np.eye(3) + (np.sin(theta) / theta) * K + \
        ((1 - np.cos(theta)) / (theta * theta)) * mm3(K, K)


@nb.njit(**_JIT)
def fk(t, R, angles, scale, parent, offset, dof_start, dof_count, dof_idx, dof_sign,
       G_R, G_t, omega, origin) -> None:
    """Fill global rotations G_R (F,3,3), positions G_t (F,3), DoF world axes omega (D,3)
    and DoF origins origin (D,3)."""
    F = parent.shape[0]
    for f in range(F):
        if f == 0:
            cur = R.copy()
            G_t[0] = t
        else:
            p = parent[f]
            cur = G_R[p].copy()
            G_t[f] = mv3(G_R[p], offset[f] * scale) + G_t[p]
        for d in range(dof_start[f], dof_start[f] + dof_count[f]):
            omega[d] = cur[:, dof_idx[d]] * dof_sign[d]
            origin[d] = G_t[f]
            cur = mm3(cur, rot_axis(dof_idx[d], angles[d] * dof_sign[d]))
        G_R[f] = cur


@nb.njit(**_JIT)
def kabsch_dirs(src, dst, w, fallback) -> np.ndarray:
    """R minimising sum w |R src - dst|^2 over vector pairs (n,3); fallback if degenerate."""
    H = np.zeros((3, 3))
    for n in range(src.shape[0]):
        H += w[n] * np.outer(src[n], dst[n])
    U, S, Vt = np.linalg.svd(H)
    if S[1] <= 1e-9 * max(S[0], 1e-30):
        return fallback
    V = Vt.T
    D = np.eye(3)
    if np.linalg.det(V @ U.T) < 0:
        D[2, 2] = -1.0
    return V @ D @ U.T


@nb.njit(**_JIT)
def swing(pre, v_local, d) -> np.ndarray:
    a = pre @ v_local
    axis = np.cross(a, d)
    s = np.sqrt(axis @ axis)
    angle = np.arctan2(s, a @ d)
    if s < 1e-12:
        return pre
    return rodrigues(axis / s * angle) @ pre


@nb.njit(**_JIT)
def wrap(a: float) -> float:
    return np.arctan2(np.sin(a), np.cos(a))


@nb.njit(**_JIT)
def decompose(local, start, count, dof_idx, dof_sign, lower, upper, out) -> None:
    """Angles of the frame's DoF sequence reproducing ``local`` (clipped to limits)."""
    if count == 0:
        return
    i = dof_idx[start]
    if count == 1:
        j, k = (i + 1) % 3, (i + 2) % 3
        a = np.arctan2(local[k, j] - local[j, k], local[j, j] + local[k, k]) * dof_sign[start]
        out[start] = min(max(a, lower[start]), upper[start])
        return
    j = dof_idx[start + 1]
    k = dof_idx[start + 2] if count == 3 else 3 - i - j
    e = 1.0 if (j - i) % 3 == 1 else -1.0
    b = np.arcsin(min(max(e * local[i, k], -1.0), 1.0))
    a = np.arctan2(-e * local[j, k], local[k, k])
    c = np.arctan2(-e * local[i, j], local[i, i])
    first = np.array([a, b, c])
    second = np.array([a + np.pi, np.pi - b, c + np.pi])
    best_v = 1e30
    for cand in (first, second):
        v = 0.0
        for m in range(count):
            x = wrap(cand[m]) * dof_sign[start + m]
            v += max(lower[start + m] - x, 0.0) + max(x - upper[start + m], 0.0)
        if v < best_v:
            best_v = v
            for m in range(count):
                x = wrap(cand[m]) * dof_sign[start + m]
                out[start + m] = min(max(x, lower[start + m]), upper[start + m])


@nb.njit(**_JIT)
def root_kabsch(rest, tgt, w):
    """Weighted rigid fit tgt ~ R rest + t over keypoints."""
    ws = w.sum()
    if ws <= 0:
        return np.eye(3), np.zeros(3)
    mu_s = np.zeros(3)
    mu_d = np.zeros(3)
    for k in range(rest.shape[0]):
        mu_s += w[k] * rest[k]
        mu_d += w[k] * tgt[k]
    mu_s /= ws
    mu_d /= ws
    H = np.zeros((3, 3))
    for k in range(rest.shape[0]):
        H += w[k] * np.outer(rest[k] - mu_s, tgt[k] - mu_d)
    U, S, Vt = np.linalg.svd(H)
    V = Vt.T
    D = np.eye(3)
    if np.linalg.det(V @ U.T) < 0:
        D[2, 2] = -1.0
    R = V @ D @ U.T
    return R, mu_d - R @ mu_s


@nb.njit(**_JIT)
def closed_form(t, R, s, tgt, w, tb, angles, G_R, G_t) -> None:
    """One topological pass: closed-form angles for every frame with DoFs (in place)."""
    (parent, offset, dof_start, dof_count, dof_idx, dof_sign, lower, upper, kp, dof_mask,
     n_rigid, rigid_kp, rigid_vec, hinge_kp, hinge_axis, init_w, trans_idx, rot_axes,
     rest) = tb
    for f in range(parent.shape[0]):
        if f == 0:
            cur = R.copy()
            G_t[0] = t
        else:
            p = parent[f]
            cur = G_R[p].copy()
            G_t[f] = G_R[p] @ (offset[f] * s) + G_t[p]
        st, cnt = dof_start[f], dof_count[f]
        if cnt > 0:
            src = np.zeros((n_rigid[f] + 1, 3))
            dst = np.zeros((n_rigid[f] + 1, 3))
            wts = np.zeros(n_rigid[f] + 1)
            for r in range(n_rigid[f]):
                k = rigid_kp[f, r]
                vec = rigid_vec[f, r]
                lv = np.sqrt(vec @ vec)
                d = tgt[k] - G_t[f]
                nd = np.sqrt(d @ d)
                if w[k] > 0 and nd > 1e-12 and lv > 1e-12:
                    src[r] = vec / lv
                    dst[r] = d / nd
                    wts[r] = w[k] * min(nd / (lv * s), 1.0)
            h = hinge_kp[f]
            if n_rigid[f] == 1 and h >= 0 and w[h] > 0:
                kc = rigid_kp[f, 0]
                a = tgt[kc] - G_t[f]
                b = tgt[h] - tgt[kc]
                n = np.cross(a, b)
                nn = np.sqrt(n @ n)
                rel = nn / (np.sqrt(a @ a) * np.sqrt(b @ b) + 1e-12)
                if nn > 1e-12:
                    src[1] = hinge_axis[f]
                    dst[1] = n / nn
                    wts[1] = min(w[kc], w[h]) * min(rel * 4.0, 1.0)
            npairs = 0
            for r in range(wts.shape[0]):
                if wts[r] > 0:
                    npairs += 1
            if npairs == 1:
                r0 = np.argmax(wts)
                Rw = swing(cur, src[r0], dst[r0])
            elif npairs > 1:
                r0 = np.argmax(wts)
                Rw = kabsch_dirs(src, dst, wts, swing(cur, src[r0], dst[r0]))
            else:
                Rw = cur
            decompose(cur.T @ Rw, st, cnt, dof_idx, dof_sign, lower, upper, angles)
            for d in range(st, st + cnt):
                cur = cur @ rot_axis(dof_idx[d], angles[d] * dof_sign[d])
        G_R[f] = cur


@nb.njit(**_JIT)
def weighted_cost(G_t, kp, tgt, w) -> float:
    c = 0.0
    for k in range(kp.shape[0]):
        if w[k] > 0:
            r = tgt[k] - G_t[kp[k]]
            c += w[k] * (r @ r)
    return c


@nb.njit(**_JIT)
def lm(t, R, angles, s, tgt, w, fit_scale, max_it, tol, tb):
    """Levenberg-Marquardt from (t, R, angles, s). Returns the refined state, iterations
    and whether it converged (False: iteration limit).

    Converged: an accepted step improved the cost by at most ``tol * (1 + cost)``, or the
    Gauss-Newton model predicts no more than that for the next step, or damping grew past 1e8.
    """
    (parent, offset, dof_start, dof_count, dof_idx, dof_sign, lower, upper, kp, dof_mask,
     n_rigid, rigid_kp, rigid_vec, hinge_kp, hinge_axis, init_w, trans_idx, rot_axes,
     rest) = tb
    F, D, J = parent.shape[0], lower.shape[0], kp.shape[0]
    nt, nr = trans_idx.shape[0], rot_axes.shape[0]
    P = nt + nr + D + (1 if fit_scale else 0)
    G_R, G_t = np.empty((F, 3, 3)), np.empty((F, 3))
    omega, origin = np.empty((D, 3)), np.empty((D, 3))
    fk(t, R, angles, s, parent, offset, dof_start, dof_count, dof_idx, dof_sign, G_R, G_t,
       omega, origin)
    cost = weighted_cost(G_t, kp, tgt, w)
    lam = 1e-3
    it = 0
    converged = cost < 1e-14
    Jk = np.zeros((3, P))
    while it < max_it and not converged:
        it += 1
        H = np.zeros((P, P))
        g = np.zeros(P)
        cols = np.empty(P, dtype=np.int64)
        for k in range(J):
            if w[k] <= 0:
                continue
            p = G_t[kp[k]]
            rel = p - t
            r = tgt[k] - p
            n = 0  # only the non-zero columns of this keypoint's 3 x P block
            for c in range(nt):
                Jk[:, c] = 0.0
                Jk[trans_idx[c], c] = 1.0
                cols[n] = c
                n += 1
            for m in range(nr):
                Jk[:, nt + m] = cross3(rot_axes[m], rel)
                cols[n] = nt + m
                n += 1
            for d in range(D):
                if dof_mask[k, d]:
                    Jk[:, nt + nr + d] = cross3(omega[d], p - origin[d])
                    cols[n] = nt + nr + d
                    n += 1
            if fit_scale:
                Jk[:, P - 1] = rel / s
                cols[n] = P - 1
                n += 1
            wk = w[k]
            for a in range(n):
                ca = cols[a]
                g[ca] += wk * (Jk[0, ca] * r[0] + Jk[1, ca] * r[1] + Jk[2, ca] * r[2])
                for b in range(a, n):
                    cb = cols[b]
                    v = wk * (Jk[0, ca] * Jk[0, cb] + Jk[1, ca] * Jk[1, cb] +
                              Jk[2, ca] * Jk[2, cb])
                    H[ca, cb] += v
                    if cb != ca:
                        H[cb, ca] += v
        Hd = H.copy()
        for i in range(P):
            Hd[i, i] += lam * (H[i, i] + 1e-9)
        delta = np.linalg.solve(Hd, g)
        # active set: a DoF on a limit whose step points outward is frozen and the step
        # re-solved, so coupled variables (root pitch + trunk + hip) can still move together
        frozen = False
        for d in range(D):
            c = nt + nr + d
            if (angles[d] <= lower[d] and delta[c] < 0) or (angles[d] >= upper[d] and
                                                            delta[c] > 0):
                Hd[c, :] = 0.0
                Hd[:, c] = 0.0
                Hd[c, c] = 1.0
                g[c] = 0.0
                frozen = True
        if frozen:
            delta = np.linalg.solve(Hd, g)
        # reduction the Gauss-Newton model predicts for this step: when even that is below the
        # tolerance, no step can improve the fit (a warm start at the optimum stops here instead
        # of raising lambda through a dozen rejected steps)
        predicted = 0.0
        for i in range(P):
            hd = 0.0
            for j in range(P):
                hd += H[i, j] * delta[j]
            predicted += delta[i] * (g[i] - 0.5 * hd)
        if predicted <= tol * (1.0 + cost):
            converged = True
            break
        t2 = t.copy()
        for c in range(nt):
            t2[trans_idx[c]] += delta[c]
        rv = np.zeros(3)
        for m in range(nr):
            rv += delta[nt + m] * rot_axes[m]
        R2 = mm3(rodrigues(rv), R)
        a2 = np.minimum(np.maximum(angles + delta[nt + nr:nt + nr + D], lower), upper)
        s2 = min(max(s + delta[P - 1], 0.3), 3.0) if fit_scale else s
        G_R2, G_t2 = np.empty((F, 3, 3)), np.empty((F, 3))
        om2, or2 = np.empty((D, 3)), np.empty((D, 3))
        fk(t2, R2, a2, s2, parent, offset, dof_start, dof_count, dof_idx, dof_sign, G_R2,
           G_t2, om2, or2)
        cost2 = weighted_cost(G_t2, kp, tgt, w)
        if cost2 < cost:
            improvement = cost - cost2
            t, R, angles, s = t2, R2, a2, s2
            G_R, G_t, omega, origin = G_R2, G_t2, om2, or2
            cost = cost2
            lam *= 0.3
            converged = improvement <= tol * (1.0 + cost) or cost < 1e-14
        else:
            lam *= 10.0
            converged = lam > 1e8
    return t, R, angles, s, it, converged, G_t


@nb.njit(**_JIT)
def max_error(G_t, kp, tgt, w) -> float:
    e = 0.0
    for k in range(kp.shape[0]):
        if w[k] > 0:
            r = tgt[k] - G_t[kp[k]]
            e = max(e, np.sqrt(r @ r))
    return e


@nb.njit(**_JIT)
def planar_fit(rest, tgt, w, axis):
    """Best rotation about ``axis`` (and translation) mapping rest onto tgt."""
    ws = max(w.sum(), 1e-30)
    mu_s, mu_d = np.zeros(3), np.zeros(3)
    for k in range(rest.shape[0]):
        mu_s += w[k] * rest[k] / ws
        mu_d += w[k] * tgt[k] / ws
    sin_sum, cos_sum = 0.0, 0.0
    for k in range(rest.shape[0]):
        a = rest[k] - mu_s
        b = tgt[k] - mu_d
        a = a - (a @ axis) * axis
        b = b - (b @ axis) * axis
        sin_sum += w[k] * (cross3(a, b) @ axis)
        cos_sum += w[k] * (a @ b)
    R = rodrigues(axis * np.arctan2(sin_sum, cos_sum))
    return R, mu_d - mv3(R, mu_s)


@nb.njit(**_JIT)
def root_translation_only(rest, tgt, w):
    ws = max(w.sum(), 1e-30)
    t = np.zeros(3)
    for k in range(rest.shape[0]):
        t += w[k] * (tgt[k] - rest[k]) / ws
    return t


@nb.njit(**_JIT)
def initial_pose(tgt, w, fit_scale, tb):
    (parent, offset, dof_start, dof_count, dof_idx, dof_sign, lower, upper, kp, dof_mask,
     n_rigid, rigid_kp, rigid_vec, hinge_kp, hinge_axis, init_w, trans_idx, rot_axes,
     rest) = tb
    s = 1.0
    if fit_scale:  # ratio of target to rest spread around the centroid, a robust size cue
        num, den = 0.0, 0.0
        ws = max(w.sum(), 1e-30)
        mt, mr = np.zeros(3), np.zeros(3)
        for k in range(kp.shape[0]):
            mt += w[k] * tgt[k] / ws
            mr += w[k] * rest[k] / ws
        for k in range(kp.shape[0]):
            num += w[k] * np.sqrt((tgt[k] - mt) @ (tgt[k] - mt))
            den += w[k] * np.sqrt((rest[k] - mr) @ (rest[k] - mr))
        s = min(max(num / max(den, 1e-12), 0.3), 3.0)
    wi = w * init_w
    if rot_axes.shape[0] == 1:  # rotation about one fixed axis (2-D chains): planar fit
        R, t = planar_fit(rest * s, tgt, wi, rot_axes[0])
    else:
        R, t = root_kabsch(rest * s, tgt, wi)
        if rot_axes.shape[0] == 0:
            R = np.eye(3)
            t = root_translation_only(rest * s, tgt, wi)
    mask = np.zeros(3)
    for c in range(trans_idx.shape[0]):
        mask[trans_idx[c]] = 1.0
    t = t * mask
    return t, R, s


@nb.njit(**_JIT)
def solve_one(tgt, w, fit_scale, max_it, tol, restarts, restart_threshold, seed, tb,
              warm, warm_t, warm_R, warm_angles, warm_s):
    parent, lower, upper = tb[0], tb[6], tb[7]
    F, D = parent.shape[0], lower.shape[0]
    G_R, G_t = np.empty((F, 3, 3)), np.empty((F, 3))
    if warm:
        t, R, s = warm_t.copy(), warm_R.copy(), warm_s
        angles = warm_angles.copy()
    else:
        t, R, s = initial_pose(tgt, w, fit_scale, tb)
        angles = np.minimum(np.maximum(np.zeros(D), lower), upper)
        closed_form(t, R, s, tgt, w, tb, angles, G_R, G_t)
    t, R, angles, s, its, conv, G_t = lm(t, R, angles, s, tgt, w, fit_scale, max_it, tol, tb)
    err = max_error(G_t, tb[8], tgt, w)
    for r in range(restarts):
        if err <= restart_threshold:
            break
        a0 = angles.copy()
        for d in range(D):  # deterministic jitter of a quarter of each range
            u = np.sin((seed + 1) * 12.9898 + (r + 1) * 78.233 + d * 37.719) * 43758.5453
            u = u - np.floor(u) - 0.5
            a0[d] = min(max(a0[d] + 0.5 * u * (upper[d] - lower[d]), lower[d]), upper[d])
        t3, R3, a3, s3, its3, conv3, G3 = lm(t, R, a0, s, tgt, w, fit_scale, max_it, tol, tb)
        its += its3
        e3 = max_error(G3, tb[8], tgt, w)
        if e3 < err:
            t, R, angles, s, conv, G_t, err = t3, R3, a3, s3, conv3, G3, e3
    return t, R, angles, s, its, conv, G_t


@nb.njit(parallel=True, cache=True)
def solve_batch(tgt, w, fit_scale, max_it, tol, restarts, restart_threshold, tb, warm,
                warm_t, warm_R, warm_angles, warm_s, out_t, out_R, out_angles, out_s, out_it,
                out_conv, out_joints):
    kp = tb[8]
    for b in nb.prange(tgt.shape[0]):
        t, R, angles, s, its, conv, G_t = solve_one(
            tgt[b], w[b], fit_scale, max_it, tol, restarts, restart_threshold, b, tb, warm,
            warm_t[b], warm_R[b], warm_angles[b], warm_s[b])
        out_t[b] = t
        out_R[b] = R
        out_angles[b] = angles
        out_s[b] = s
        out_it[b] = its
        out_conv[b] = conv
        for k in range(kp.shape[0]):
            out_joints[b, k] = G_t[kp[k]]
