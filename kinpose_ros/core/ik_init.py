"""Closed-form initialisation of the IK fit, derived from the skeleton's structure.

Frames are visited level by level from the root. For each frame with DoFs we know (from its
already fitted ancestors) its world position and the rotation before its DoFs; its own
rotation is the one that best maps rest vectors to target vectors (weighted Kabsch on
directions):
  * every keypoint rigidly attached to the frame (no DoF on the path) gives a pair
    (rest offset, target - frame origin);
  * when the frame has a single rigid child whose frame is a hinge (1 DoF) with a further
    child (shoulder -> elbow -> hand), the hinge axis must be normal to the plane of the two
    target bones: that fixes the twist a single vector leaves free.
The rotation is decomposed into the frame's DoF axis sequence (generic Tait-Bryan formulas,
both branches tried against the limits). On exact targets this is usually exact; LM refines.
"""
from __future__ import annotations

import numpy as np

from kinpose_ros.core.kinematics import _forward
from kinpose_ros.core.rotations import axis_angle_to_matrix


def _unit(v: np.ndarray) -> tuple:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12), n[..., 0]


class ClosedFormInit:
    """Per-skeleton plan of the closed-form init (built once)."""

    def __init__(self, sk, tables, consts) -> None:
        self.sk, self.tables, self.consts = sk, tables, consts
        F = sk.num_frames
        kp_of_frame = {int(f): k for k, f in enumerate(tables.keypoints)}
        has_dof = [len(f.dofs) > 0 for f in sk.frames]
        children = [[] for _ in range(F)]
        for f in range(1, F):
            children[sk.frame_parents[f]].append(f)
        depth = np.zeros(F, dtype=np.int64)
        for f in range(1, F):
            depth[f] = depth[sk.frame_parents[f]] + 1
        self.levels = []
        for L in range(int(depth.max(initial=0)) + 1):
            plans = []
            for f in np.nonzero((depth == L) & np.array(has_dof))[0]:
                plans.append(self._plan(int(f), children, has_dof, kp_of_frame))
            if plans:
                self.levels.append(plans)

    def _plan(self, f: int, children: list, has_dof: list, kp_of_frame: dict) -> dict:
        sk = self.sk
        rigid = []  # (keypoint index, rest vector in f's frame after its dofs)
        hinge = None
        stack = [(c, sk.frame_offsets[c] * sk.scale) for c in children[f]]
        while stack:
            c, vec = stack.pop()
            if c in kp_of_frame:
                rigid.append((kp_of_frame[c], vec))
            if not has_dof[c]:
                stack.extend((g, vec + sk.frame_offsets[g] * sk.scale) for g in children[c])
        if len(rigid) == 1:
            c_frame = int(self.tables.keypoints[rigid[0][0]])
            c_dofs = sk.frames[c_frame].dofs
            grand = [g for g in children[c_frame] if g in kp_of_frame]
            if len(c_dofs) == 1 and grand:
                d = c_dofs[0]
                sign = 1.0 if d.upper >= -d.lower else -1.0
                hinge = (kp_of_frame[grand[0]], d.axis * sign)
        dofs = [i for i, df in enumerate(sk.dof_frame) if df == f]
        return {'frame': f, 'rigid': rigid, 'hinge': hinge, 'dofs': np.array(dofs)}

    def __call__(self, t: np.ndarray, R: np.ndarray, scale: np.ndarray, tgt: np.ndarray,
                 w: np.ndarray) -> np.ndarray:
        """Angles (B, D) for root pose (t, R), per-sample scale and targets (B, J, 3)."""
        B = tgt.shape[0]
        sk = self.sk
        angles = np.clip(np.zeros((B, sk.num_dofs)), sk.dof_lower, sk.dof_upper)
        for plans in self.levels:
            G_R, G_t = _forward(self.tables, self.consts, t, R, angles, scale)
            for plan in plans:
                f = plan['frame']
                pre = G_R[:, sk.frame_parents[f]]
                R_world = self._frame_rotation(plan, G_t[:, f], pre, tgt, w, scale)
                local = pre.swapaxes(1, 2) @ R_world
                angles[:, plan['dofs']] = decompose(local, sk.dof_axis[plan['dofs']],
                                                    sk.dof_lower[plan['dofs']],
                                                    sk.dof_upper[plan['dofs']])
        return angles

    def _frame_rotation(self, plan: dict, origin: np.ndarray, pre: np.ndarray,
                        tgt: np.ndarray, w: np.ndarray, scale: np.ndarray) -> np.ndarray:
        src, dst, wts = [], [], []
        for k, vec in plan['rigid']:
            d, n = _unit(tgt[:, k] - origin)
            src.append(np.broadcast_to(_unit(vec)[0], d.shape))
            dst.append(d)
            wts.append(w[:, k] * np.minimum(n / (np.linalg.norm(vec) * scale + 1e-12), 1.0))
        if plan['hinge'] is not None and len(plan['rigid']) == 1:
            k_c = plan['rigid'][0][0]
            g, axis = plan['hinge']
            n, size = _unit(np.cross(tgt[:, k_c] - origin, tgt[:, g] - tgt[:, k_c]))
            rel = size / (np.linalg.norm(tgt[:, k_c] - origin, axis=1) *
                          np.linalg.norm(tgt[:, g] - tgt[:, k_c], axis=1) + 1e-12)
            src.append(np.broadcast_to(axis, n.shape))
            dst.append(n)
            # a nearly straight limb leaves the hinge plane undefined: trust it less
            wts.append(np.minimum(w[:, k_c], w[:, g]) * np.clip(rel * 4.0, 0.0, 1.0))
        if not src:
            return pre
        src, dst, wts = np.stack(src, 1), np.stack(dst, 1), np.stack(wts, 1)
        if src.shape[1] == 1 or np.all(wts[:, 1:] == 0):
            return _swing(pre, src[:, 0], dst[:, 0])
        return _kabsch_directions(src, dst, wts, pre)


def _swing(pre: np.ndarray, v_local: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Smallest rotation taking ``pre @ v`` to ``d``, applied after ``pre``."""
    a = np.einsum('bij,bj->bi', pre, v_local)
    axis = np.cross(a, d)
    s = np.linalg.norm(axis, axis=1)
    c = np.einsum('bi,bi->b', a, d)
    angle = np.arctan2(s, c)
    axis = axis / np.maximum(s, 1e-12)[:, None]
    return axis_angle_to_matrix(axis * angle[:, None]) @ pre


def _kabsch_directions(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                       fallback: np.ndarray) -> np.ndarray:
    """Rotation R (B, 3, 3) minimising sum w |R src - dst|^2 over direction pairs."""
    H = np.einsum('bn,bni,bnk->bik', w, src, dst)
    U, S, Vt = np.linalg.svd(H)
    V = Vt.swapaxes(1, 2)
    d = np.sign(np.linalg.det(V @ U.swapaxes(1, 2)))
    D = np.broadcast_to(np.eye(3), H.shape).copy()
    D[:, 2, 2] = np.where(d == 0, 1.0, d)
    R = V @ D @ U.swapaxes(1, 2)
    ok = S[:, 1] > 1e-9 * np.maximum(S[:, 0], 1e-30)
    return np.where(ok[:, None, None], R, fallback)


def decompose(local: np.ndarray, axes: np.ndarray, lower: np.ndarray,
              upper: np.ndarray) -> np.ndarray:
    """Angles (B, n) with ``R(axes[0], a0) @ R(axes[1], a1) @ ... ~= local`` (B, 3, 3).

    Axes are signed basis vectors (n <= 3, distinct). Both Tait-Bryan branches are computed;
    the one closer to the limits wins; results are clipped to the limits.
    """
    n = len(axes)
    idx = [int(np.argmax(np.abs(a))) for a in axes]
    sign = np.array([np.sign(a[i]) for a, i in zip(axes, idx)])
    if len(set(idx)) != n:
        raise ValueError('closed-form decomposition needs distinct DoF axes per frame')
    if n == 1:
        i = idx[0]
        j, k = (i + 1) % 3, (i + 2) % 3
        ang = np.arctan2(local[:, k, j] - local[:, j, k], local[:, j, j] + local[:, k, k])
        return np.clip((ang * sign[0])[:, None], lower, upper)
    i, j = idx[0], idx[1]
    k = idx[2] if n == 3 else 3 - i - j
    e = 1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0
    b = np.arcsin(np.clip(e * local[:, i, k], -1.0, 1.0))
    a = np.arctan2(-e * local[:, j, k], local[:, k, k])
    c = np.arctan2(-e * local[:, i, j], local[:, i, i])
    first = np.stack([a, b, c], 1)[:, :n]
    second = np.stack([a + np.pi, np.pi - b, c + np.pi], 1)[:, :n]
    cands = []
    for sol in (first, second):
        sol = np.arctan2(np.sin(sol), np.cos(sol)) * sign
        if n == 3 or True:
            cands.append(sol)
    viol = [np.sum(np.maximum(lower - s, 0) + np.maximum(s - upper, 0), 1) for s in cands]
    best = np.where((viol[1] < viol[0])[:, None], cands[1], cands[0])
    return np.clip(best, lower, upper)
