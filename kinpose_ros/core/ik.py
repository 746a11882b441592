"""Batched inverse kinematics: fit root pose, joint angles (within limits) and optionally the
global scale of a :class:`~kinpose_ros.core.skeleton.Skeleton` to target 3-D keypoints.

``InverseKinematics(skeleton).solve(targets, weights=None, fit_scale=False, init=None)``
returns an :class:`IKResult`. Targets are in the skeleton's units and any frame (usually the
camera optical frame); NaN targets are ignored. The numerical work (closed-form init, then
Levenberg-Marquardt with the analytic Jacobian, restarts on stalls) is compiled with numba
in :mod:`kinpose_ros.core.ik_kernels` and runs in parallel over the batch.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.kinematics import KinematicTables, forward_kinematics_np
from kinpose_ros.core.rotations import matrix_to_axis_angle
from kinpose_ros.core.skeleton import Skeleton


class IKStatus(enum.IntEnum):
    CONVERGED = 0        # relative cost change below tolerance (or exact fit)
    MAX_ITERATIONS = 1   # stopped by the iteration limit (the fit may still be usable)
    INVALID_INPUT = 2    # fewer than 3 finite weighted targets: parameters are not meaningful


@dataclass
class IKResult:
    """Per-sample results; B = batch size, J keypoints, D DoFs, P parameters."""

    params: np.ndarray            # (B, P) motion-parameter vector (skeleton.param_names)
    root_translation: np.ndarray  # (B, 3)
    root_rotation: np.ndarray     # (B, 3, 3)
    joint_angles: np.ndarray      # (B, D) radians, within limits
    scale: np.ndarray             # (B,) factor on the skeleton's global scale
    joints: np.ndarray            # (B, J, 3) fitted keypoints
    residual: np.ndarray          # (B, J) |fitted - target| per keypoint (NaN: no target)
    iterations: np.ndarray        # (B,) LM iterations, restarts included
    status: np.ndarray            # (B,) IKStatus values

    @property
    def max_residual(self) -> np.ndarray:
        """(B,) worst keypoint residual (NaN targets ignored)."""
        return np.nanmax(np.where(np.isnan(self.residual), -np.inf, self.residual), axis=1)

    def __len__(self) -> int:
        return len(self.scale)


class InverseKinematics:
    """Reusable solver for one skeleton: tables are packed once, kernels compiled once.

    ``max_iterations`` bounds each LM run; ``restarts`` extra runs from jittered angles are
    made for samples whose worst keypoint is still off by more than ``restart_threshold``
    (default 0.5 mm, or 0.5 px for pixel skeletons).
    """

    def __init__(self, skeleton: Skeleton, max_iterations: int = 30, tolerance: float = 1e-9,
                 restarts: int = 3, restart_threshold: float | None = None) -> None:
        if max_iterations < 0 or restarts < 0:
            raise ValueError('max_iterations and restarts must be >= 0')
        self.sk = skeleton
        self.max_iterations = int(max_iterations)
        self.tolerance = float(tolerance)
        self.restarts = int(restarts)
        unit = 1.0 if skeleton.units == 'px' else 1e-3
        self.restart_threshold = float(restart_threshold if restart_threshold is not None
                                       else 0.5 * unit)
        self.tables = pack_tables(skeleton)

    def solve(self, targets: np.ndarray, weights: np.ndarray | None = None,
              fit_scale: bool = False, init: IKResult | None = None,
              with_params: bool = True) -> IKResult:
        """Fit ``targets`` (B, J, 3) or (J, 3); ``weights`` (B, J) or (J,) >= 0.

        ``init`` warm-starts every sample from a previous result of the same batch size (e.g.
        the previous frame of a track) instead of the closed-form initialisation.
        ``with_params=False`` skips building the parameter vector (``params`` is then an empty
        (B, 0) array; the root pose and angles are always returned), saving ~0.1 ms per call.
        """
        from kinpose_ros.core import ik_kernels  # noqa: PLC0415 - compiles on first use

        tgt, w, finite = self._inputs(targets, weights)
        B, D = tgt.shape[0], self.sk.num_dofs
        warm = init is not None
        if warm:
            if len(init) != B:
                raise ValueError(f'init has {len(init)} samples, targets have {B}')
            wt, wR, wa, ws = (init.root_translation, init.root_rotation, init.joint_angles,
                              init.scale)
        else:
            wt, wR, wa, ws = (np.zeros((B, 3)), np.zeros((B, 3, 3)), np.zeros((B, D)),
                              np.ones(B))
        out_t, out_R = np.empty((B, 3)), np.empty((B, 3, 3))
        out_a, out_s = np.empty((B, D)), np.empty(B)
        out_it, out_conv = np.empty(B, dtype=np.int64), np.empty(B, dtype=np.bool_)
        joints = np.empty((B, self.sk.num_joints, 3))
        ik_kernels.solve_batch(tgt, w, bool(fit_scale), self.max_iterations, self.tolerance,
                               self.restarts, self.restart_threshold, self.tables, warm,
                               np.ascontiguousarray(wt, dtype=np.float64),
                               np.ascontiguousarray(wR, dtype=np.float64),
                               np.ascontiguousarray(wa, dtype=np.float64),
                               np.ascontiguousarray(ws, dtype=np.float64),
                               out_t, out_R, out_a, out_s, out_it, out_conv, joints)
        valid = (w > 0).sum(1) >= 3
        residual = np.where(finite, np.linalg.norm(joints - tgt, axis=2), np.nan)
        status = np.where(out_conv, IKStatus.CONVERGED, IKStatus.MAX_ITERATIONS)
        status = np.where(valid, status, IKStatus.INVALID_INPUT).astype(np.int64)
        params = self._params(out_t, out_R, out_a) if with_params else np.zeros((B, 0))
        return IKResult(params=params, root_translation=out_t,
                        root_rotation=out_R, joint_angles=out_a, scale=out_s, joints=joints,
                        residual=residual, iterations=out_it, status=status)

    def _inputs(self, targets: np.ndarray, weights: np.ndarray | None) -> tuple:
        targets = np.asarray(targets, dtype=np.float64)
        if targets.ndim == 2:
            targets = targets[None]
        J = self.sk.num_joints
        if targets.ndim != 3 or targets.shape[1:] != (J, 3):
            raise ValueError(f'targets: expected (B, {J}, 3) or ({J}, 3) for skeleton '
                             f'{self.sk.name!r}, got {np.shape(targets)}')
        B = targets.shape[0]
        if weights is None:
            w = np.ones((B, J))
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape not in ((J,), (B, J)):
                raise ValueError(f'weights: expected ({J},) or ({B}, {J}), got {w.shape}')
            w = np.broadcast_to(w, (B, J)).copy()
            if np.any(~np.isfinite(w)) or np.any(w < 0):
                raise ValueError('weights must be finite and >= 0')
        finite = np.all(np.isfinite(targets), axis=2)
        w = np.ascontiguousarray(np.where(finite, w, 0.0))
        tgt = np.ascontiguousarray(np.where(finite[..., None], targets, 0.0))
        return tgt, w, finite

    def _params(self, t: np.ndarray, R: np.ndarray, angles: np.ndarray) -> np.ndarray:
        trans = t[:, list(self.sk.root_translation_axes)]
        rot_axes = self.tables[17]
        if self.sk.root_rotation == 'free':
            rot = matrix_to_axis_angle(R)
        else:  # fixed-axis roots: the angle about each listed axis (exact for one axis)
            rot = matrix_to_axis_angle(R) @ rot_axes.T
        return np.concatenate([trans, rot, angles], 1)


def pack_tables(sk: Skeleton) -> tuple:
    """Flat arrays describing ``sk`` for the compiled kernels (order fixed by the kernels)."""
    tb = KinematicTables.of(sk)
    F, D, J = sk.num_frames, sk.num_dofs, sk.num_joints
    dof_count = np.array([len(f.dofs) for f in sk.frames], dtype=np.int64)
    dof_start = np.concatenate([[0], np.cumsum(dof_count)[:-1]]).astype(np.int64)
    dof_idx = np.argmax(np.abs(sk.dof_axis), axis=1).astype(np.int64) if D else \
        np.zeros(0, np.int64)
    dof_sign = np.sign(sk.dof_axis[np.arange(D), dof_idx]) if D else np.zeros(0)
    ancestors = np.zeros((F, F), dtype=bool)
    for f in range(F):
        p = sk.frame_parents[f]
        while p >= 0:
            ancestors[f, p] = True
            p = sk.frame_parents[p]
    kp = sk.keypoint_frames.astype(np.int64)
    dof_mask = ancestors[kp][:, sk.dof_frame] if D else np.zeros((J, 0), dtype=bool)
    n_rigid, rigid_kp, rigid_vec, hinge_kp, hinge_axis = _init_plan(sk, kp)
    has_dof = dof_count > 0
    depth_dofs = (ancestors[kp] & has_dof[None]).sum(1)
    init_w = np.where(depth_dofs == 0, 1.0, 1e-6)
    if sk.root_rotation == 'free':
        rot_axes = np.eye(3)
    elif sk.root_rotation == 'none':
        rot_axes = np.zeros((0, 3))
    else:
        rot_axes = np.array(tb.root_axes, dtype=np.float64)
    rest, _ = forward_kinematics_np(sk, np.zeros((1, sk.num_params)))
    return (sk.frame_parents.astype(np.int64), np.ascontiguousarray(tb.offsets), dof_start,
            dof_count, dof_idx, dof_sign.astype(np.float64), sk.dof_lower.copy(),
            sk.dof_upper.copy(), kp, np.ascontiguousarray(dof_mask), n_rigid, rigid_kp,
            rigid_vec, hinge_kp, hinge_axis, init_w,
            np.array(sk.root_translation_axes, dtype=np.int64), rot_axes,
            np.ascontiguousarray(rest[0]))


def _init_plan(sk: Skeleton, kp: np.ndarray) -> tuple:
    """For each frame: keypoints rigidly attached to it (rest vectors in its frame), and the
    hinge (next joint's single DoF axis, sign-adjusted to its positive range) of a limb."""
    F = sk.num_frames
    kp_of_frame = {int(f): k for k, f in enumerate(kp)}
    children = [[] for _ in range(F)]
    for f in range(1, F):
        children[sk.frame_parents[f]].append(f)
    rigid = []
    for f in range(F):
        found, stack = [], [(c, sk.frame_offsets[c] * sk.scale) for c in children[f]]
        while stack:
            c, vec = stack.pop()
            if c in kp_of_frame:
                found.append((kp_of_frame[c], vec))
            if not sk.frames[c].dofs:
                stack.extend((g, vec + sk.frame_offsets[g] * sk.scale) for g in children[c])
        rigid.append(found)
    R = max(1, max(len(r) for r in rigid))
    n_rigid = np.array([len(r) for r in rigid], dtype=np.int64)
    rigid_kp = np.zeros((F, R), dtype=np.int64)
    rigid_vec = np.zeros((F, R, 3))
    hinge_kp = np.full(F, -1, dtype=np.int64)
    hinge_axis = np.zeros((F, 3))
    for f, found in enumerate(rigid):
        for r, (k, vec) in enumerate(found):
            rigid_kp[f, r], rigid_vec[f, r] = k, vec
        if len(found) == 1:
            c_frame = int(kp[found[0][0]])
            dofs = sk.frames[c_frame].dofs
            grand = [g for g in children[c_frame] if g in kp_of_frame]
            # only a one-sided hinge (elbow, knee) tells which side the limb bends to
            one_sided = dofs and (dofs[0].lower >= -0.35 or dofs[0].upper <= 0.35)
            if len(dofs) == 1 and grand and one_sided:
                sign = 1.0 if dofs[0].upper >= -dofs[0].lower else -1.0
                hinge_kp[f], hinge_axis[f] = kp_of_frame[grand[0]], dofs[0].axis * sign
    return n_rigid, rigid_kp, rigid_vec, hinge_kp, hinge_axis


def solve_ik(skeleton: Skeleton, targets: np.ndarray, weights: np.ndarray | None = None,
             fit_scale: bool = False, **solver_options) -> IKResult:
    """One-shot convenience wrapper around :class:`InverseKinematics`."""
    return InverseKinematics(skeleton, **solver_options).solve(targets, weights, fit_scale)
