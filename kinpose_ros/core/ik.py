"""Batched inverse kinematics: fit root pose, joint angles (within limits) and optionally the
global scale of a :class:`~kinpose_ros.core.skeleton.Skeleton` to target 3-D keypoints.

Method: Levenberg-Marquardt on the weighted keypoint residual with the analytic Jacobian of
revolute joints (``d p_k / d theta_i = omega_i x (p_k - o_i)``), the root rotation updated
multiplicatively (``R <- exp(delta) R``), angles projected onto their limits after each step,
per-sample damping. The root pose is initialised by a weighted Kabsch fit of the rest skeleton.
Samples that stall above tolerance are restarted from perturbed angles (``restarts``) and the
best fit is kept. Everything is numpy, vectorised over the batch.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.kinematics import (KinematicTables, _forward, numpy_consts,
                                         split_params)
from kinpose_ros.core.ik_init import ClosedFormInit
from kinpose_ros.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from kinpose_ros.core.skeleton import Skeleton


class IKStatus(enum.IntEnum):
    CONVERGED = 0        # step or cost change below tolerance
    MAX_ITERATIONS = 1   # stopped by the iteration limit (the fit may still be usable)
    INVALID_INPUT = 2    # fewer than 3 finite weighted targets: parameters are the rest pose


@dataclass
class IKResult:
    """Per-sample results; B = batch size, J keypoints, D DoFs, P parameters."""

    params: np.ndarray           # (B, P) motion-parameter vector (skeleton.param_names)
    root_translation: np.ndarray  # (B, 3)
    root_rotation: np.ndarray    # (B, 3, 3)
    joint_angles: np.ndarray     # (B, D) radians, within limits
    scale: np.ndarray            # (B,) per-sample factor on the skeleton's global scale
    joints: np.ndarray           # (B, J, 3) fitted keypoints
    residual: np.ndarray         # (B, J) distance fitted-target per keypoint (NaN if no target)
    iterations: np.ndarray       # (B,) LM iterations used
    status: np.ndarray           # (B,) IKStatus values

    @property
    def max_residual(self) -> np.ndarray:
        return np.nanmax(np.where(np.isnan(self.residual), -np.inf, self.residual), axis=1)


class InverseKinematics:
    """Reusable solver for one skeleton (precomputes tables; thread-safe for reading)."""

    def __init__(self, skeleton: Skeleton, max_iterations: int = 30, tolerance: float = 1e-10,
                 restarts: int = 2, restart_threshold: float | None = None) -> None:
        if skeleton.root_rotation not in ('free',) and skeleton.root_rotation != 'none' and \
                not isinstance(skeleton.root_rotation, tuple):
            raise ValueError(f'unsupported root rotation {skeleton.root_rotation!r}')
        self.sk = skeleton
        self.tables = KinematicTables.of(skeleton)
        self.consts = numpy_consts(self.tables)
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.restarts = restarts
        # restart samples whose worst keypoint is off by more than this (skeleton units)
        unit = 1.0 if skeleton.units == 'px' else 1e-3
        self.restart_threshold = restart_threshold if restart_threshold is not None else \
            0.5 * unit
        self._prepare()

    # ---- precomputation ----------------------------------------------------------------
    def _prepare(self) -> None:
        sk, tb = self.sk, self.tables
        F = sk.num_frames
        ancestors = np.zeros((F, F), dtype=bool)  # ancestors[f, a]: a is a strict ancestor of f
        for f in range(F):
            p = sk.frame_parents[f]
            while p >= 0:
                ancestors[f, p] = True
                p = sk.frame_parents[p]
        kp = tb.keypoints
        # keypoint k moves with dof d when the dof's frame is a strict ancestor of k's frame
        self.dof_mask = ancestors[kp][:, sk.dof_frame].astype(np.float64)  # (J, D)
        slot = np.zeros(sk.num_dofs, dtype=np.int64)
        for f in range(F):
            ds = tb.frame_dofs[f][tb.frame_dofs[f] < sk.num_dofs]
            slot[ds] = np.arange(len(ds))
        self.dof_slot = slot
        self.dof_parent = np.maximum(sk.frame_parents[sk.dof_frame], 0)
        # root-rigid keypoints (no DoF on the path) get full weight in the Kabsch init
        has_dof = np.array([len(f.dofs) > 0 for f in sk.frames])
        depth_dofs = (ancestors[kp] & has_dof[None]).sum(1)
        self.init_weights = np.where(depth_dofs == 0, 1.0, 1e-6)
        self.rest = self._rest_joints()
        if sk.root_rotation == 'free':
            self.rot_axes = np.eye(3)
        elif sk.root_rotation == 'none':
            self.rot_axes = np.zeros((0, 3))
        else:
            self.rot_axes = np.array(tb.root_axes)
        self.trans_axes = np.eye(3)[list(tb.trans_axes)]
        self.closed_form = ClosedFormInit(sk, tb, self.consts)

    def _rest_joints(self) -> np.ndarray:
        t = np.zeros((1, 3))
        G_R, G_t = _forward(self.tables, self.consts, t, np.eye(3)[None],
                            np.zeros((1, self.sk.num_dofs)), None)
        return G_t[0, self.tables.keypoints]

    # ---- public API ------------------------------------------------------------------------
    def solve(self, targets: np.ndarray, weights: np.ndarray | None = None,
              fit_scale: bool = False, init: IKResult | None = None) -> IKResult:
        """Fit ``targets`` (B, J, 3) or (J, 3) in skeleton units (NaN = missing keypoint).

        ``weights`` (B, J) or (J,) >= 0; ``init`` warm-starts from a previous result (tracking).
        """
        targets = np.asarray(targets, dtype=np.float64)
        single = targets.ndim == 2
        if single:
            targets = targets[None]
        J = self.sk.num_joints
        if targets.ndim != 3 or targets.shape[1:] != (J, 3):
            raise ValueError(f'targets: expected (B, {J}, 3) or ({J}, 3) for skeleton '
                             f'{self.sk.name!r}, got {targets.shape}')
        B = targets.shape[0]
        w = np.ones((B, J)) if weights is None else np.broadcast_to(
            np.asarray(weights, dtype=np.float64), (B, J)).copy()
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError('weights must be finite and >= 0')
        finite = np.all(np.isfinite(targets), axis=2)
        w = np.where(finite, w, 0.0)
        tgt = np.where(finite[..., None], targets, 0.0)
        valid = (w > 0).sum(1) >= 3
        state = self._initial_state(tgt, w, fit_scale) if init is None else _state_of(init)
        state = self._lm(state, tgt, w, fit_scale)
        if self.restarts:
            state = self._restart_failures(state, tgt, w, fit_scale)
        return self._result(state, targets, finite, valid)

    # ---- internals ---------------------------------------------------------------------
    def _initial_state(self, tgt: np.ndarray, w: np.ndarray, fit_scale: bool) -> dict:
        B = tgt.shape[0]
        wi = w * self.init_weights
        scale = np.ones(B)
        if fit_scale:
            scale = _scale_guess(self.rest, tgt, w, self.sk.bones)
        R, t = _kabsch(self.rest * scale[:, None, None], tgt, wi)
        R, t = self._project_root(R, t)
        angles = self.closed_form(t, R, scale, tgt, w)
        return {'t': t, 'R': R, 'angles': angles, 'scale': scale,
                'iterations': np.zeros(B, dtype=np.int64)}

    def _project_root(self, R: np.ndarray, t: np.ndarray) -> tuple:
        """Restrict a Kabsch pose to the skeleton's root DoFs (e.g. 2-D toys)."""
        t = t * self.trans_axes.sum(0)
        if self.sk.root_rotation == 'free':
            return R, t
        if self.sk.root_rotation == 'none' or len(self.rot_axes) != 1:
            return np.broadcast_to(np.eye(3), R.shape).copy(), t
        a = self.rot_axes[0]
        aa = matrix_to_axis_angle(R)
        angle = aa @ a
        return axis_angle_to_matrix(angle[:, None] * a), t

    def _evaluate(self, st: dict) -> tuple:
        G_R, G_t, partials = _forward(self.tables, self.consts, st['t'], st['R'], st['angles'],
                                      st['scale'] * 1.0, with_partials=True)
        return G_R, G_t, partials

    def _cost(self, joints: np.ndarray, tgt: np.ndarray, w: np.ndarray) -> np.ndarray:
        r = joints - tgt
        return np.einsum('bj,bjk,bjk->b', w, r, r)

    def _jacobian(self, st: dict, G_R: np.ndarray, G_t: np.ndarray, partials: list,
                  fit_scale: bool) -> np.ndarray:
        """(B, J*3, P') with columns [translation axes, root rotation axes, dofs, (scale)]."""
        sk, tb = self.sk, self.tables
        B = G_t.shape[0]
        p = G_t[:, tb.keypoints]  # (B, J, 3)
        # world axis of each dof: parent rotation @ partial rotation before its slot @ axis
        pre = G_R[:, self.dof_parent]  # (B, D, 3, 3)
        prev = np.where(self.dof_slot[None, :, None, None] > 0,
                        _gather_prev(partials, sk.dof_frame, self.dof_slot), np.eye(3))
        omega = np.einsum('bdij,bdjk,dk->bdi', pre, prev, sk.dof_axis)
        origin = G_t[:, sk.dof_frame]  # (B, D, 3)
        diff = p[:, :, None, :] - origin[:, None, :, :]  # (B, J, D, 3)
        cols = [np.broadcast_to(self.trans_axes.T[None, None], (B, p.shape[1], 3,
                                                                  len(self.trans_axes)))]
        if len(self.rot_axes):
            rel = p - st['t'][:, None]
            cols.append(np.cross(self.rot_axes[None, None, :, :], rel[:, :, None, :])
                        .swapaxes(-1, -2))
        jd = np.cross(omega[:, None], diff) * self.dof_mask[None, :, :, None]  # (B, J, D, 3)
        cols.append(jd.swapaxes(-1, -2))
        if fit_scale:
            cols.append(((p - st['t'][:, None]) / st['scale'][:, None, None])[..., None])
        jac = np.concatenate(cols, -1)  # (B, J, 3, P')
        return jac.reshape(B, -1, jac.shape[-1])

    def _step(self, st: dict, delta: np.ndarray, fit_scale: bool) -> dict:
        nt, nr, D = len(self.trans_axes), len(self.rot_axes), self.sk.num_dofs
        new = dict(st)
        new['t'] = st['t'] + delta[:, :nt] @ self.trans_axes
        if nr:
            new['R'] = axis_angle_to_matrix(delta[:, nt:nt + nr] @ self.rot_axes) @ st['R']
        new['angles'] = np.clip(st['angles'] + delta[:, nt + nr:nt + nr + D],
                                self.sk.dof_lower, self.sk.dof_upper)
        if fit_scale:
            new['scale'] = np.clip(st['scale'] + delta[:, -1], 0.3, 3.0)
        return new

    def _lm(self, st: dict, tgt: np.ndarray, w: np.ndarray, fit_scale: bool) -> dict:
        B = tgt.shape[0]
        kp = self.tables.keypoints
        lam = np.full(B, 1e-3)
        G_R, G_t, partials = self._evaluate(st)
        cost = self._cost(G_t[:, kp], tgt, w)
        active = np.ones(B, dtype=bool)
        sqrt_w = np.repeat(np.sqrt(w), 3, axis=1)  # (B, J*3)
        for _ in range(self.max_iterations):
            Jac = self._jacobian(st, G_R, G_t, partials, fit_scale) * sqrt_w[..., None]
            r = ((tgt - G_t[:, kp]).reshape(B, -1)) * sqrt_w
            H = np.einsum('bij,bik->bjk', Jac, Jac)
            g = np.einsum('bij,bi->bj', Jac, r)
            diag = np.einsum('bii->bi', H)
            Hd = H + (lam[:, None] * (diag + 1e-9))[..., None] * np.eye(H.shape[-1])
            delta = np.linalg.solve(Hd, g[..., None])[..., 0]
            delta[~active] = 0.0
            trial = self._step(st, delta, fit_scale)
            tG_R, tG_t, tpart = self._evaluate(trial)
            tcost = self._cost(tG_t[:, kp], tgt, w)
            better = (tcost < cost) & active
            st = _select(better, trial, st)
            G_R = np.where(better[:, None, None, None], tG_R, G_R)
            G_t = np.where(better[:, None, None], tG_t, G_t)
            partials = [np.where(better[:, None, None, None], a, b) for a, b in
                        zip(tpart, partials)]
            improvement = np.where(better, cost - tcost, 0.0)
            cost = np.where(better, tcost, cost)
            lam = np.where(better, lam * 0.3, lam * 10.0)
            st['iterations'] = st['iterations'] + active
            done = (better & (improvement <= self.tolerance * (1 + cost))) | (lam > 1e8) | \
                (cost < 1e-14)
            active &= ~done
            if not active.any():
                break
        st['converged'] = ~active
        return st

    def _restart_failures(self, st: dict, tgt: np.ndarray, w: np.ndarray,
                          fit_scale: bool) -> dict:
        rng = np.random.default_rng(0)
        for _ in range(self.restarts):
            err = self._max_error(st, tgt, w)
            bad = np.nonzero(err > self.restart_threshold)[0]
            if len(bad) == 0:
                break
            sub = {k: v[bad].copy() for k, v in st.items()}
            span = self.sk.dof_upper - self.sk.dof_lower
            jitter = rng.uniform(-0.25, 0.25, size=sub['angles'].shape) * span
            sub['angles'] = np.clip(sub['angles'] + jitter, self.sk.dof_lower, self.sk.dof_upper)
            sub = self._lm(sub, tgt[bad], w[bad], fit_scale)
            improved = self._max_error(sub, tgt[bad], w[bad]) < err[bad]
            for k in st:
                st[k][bad[improved]] = sub[k][improved]
        return st

    def _max_error(self, st: dict, tgt: np.ndarray, w: np.ndarray) -> np.ndarray:
        _, G_t, _ = self._evaluate(st)
        d = np.linalg.norm(G_t[:, self.tables.keypoints] - tgt, axis=2)
        return np.where(w > 0, d, 0.0).max(1)

    def _result(self, st: dict, targets: np.ndarray, finite: np.ndarray,
                valid: np.ndarray) -> IKResult:
        _, G_t, _ = self._evaluate(st)
        joints = G_t[:, self.tables.keypoints]
        residual = np.where(finite, np.linalg.norm(joints - np.where(finite[..., None], targets,
                                                                       0.0), axis=2), np.nan)
        status = np.where(st['converged'], IKStatus.CONVERGED, IKStatus.MAX_ITERATIONS)
        status = np.where(valid, status, IKStatus.INVALID_INPUT).astype(np.int64)
        params = self._params(st)
        return IKResult(params=params, root_translation=st['t'], root_rotation=st['R'],
                        joint_angles=st['angles'], scale=st['scale'], joints=joints,
                        residual=residual, iterations=st['iterations'], status=status)

    def _params(self, st: dict) -> np.ndarray:
        tb = self.tables
        trans = st['t'][:, list(tb.trans_axes)]
        if self.sk.root_rotation == 'free':
            rot = matrix_to_axis_angle(st['R'])
        elif self.sk.root_rotation == 'none':
            rot = np.zeros((len(trans), 0))
        else:  # single-axis roots (2-D toys); multi-axis roots keep the Kabsch projection
            rot = (matrix_to_axis_angle(st['R']) @ self.rot_axes.T)
        return np.concatenate([trans, rot, st['angles']], 1)


def _gather_prev(partials: list, dof_frame: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Partial rotation before each dof's slot: partials[slot - 1][:, frame] -> (B, D, 3, 3)."""
    stacked = np.stack(partials, 1)  # (B, M, F, 3, 3)
    return stacked[:, np.maximum(slot - 1, 0), dof_frame]


def _select(mask: np.ndarray, a: dict, b: dict) -> dict:
    out = {}
    for k in b:
        m = mask.reshape(-1, *([1] * (b[k].ndim - 1)))
        out[k] = np.where(m, a[k], b[k])
    return out


def _state_of(res: IKResult) -> dict:
    return {'t': res.root_translation.copy(), 'R': res.root_rotation.copy(),
            'angles': res.joint_angles.copy(), 'scale': res.scale.copy(),
            'iterations': np.zeros(len(res.scale), dtype=np.int64)}


def _scale_guess(rest: np.ndarray, tgt: np.ndarray, w: np.ndarray, bones: list) -> np.ndarray:
    p, c = np.array([b[0] for b in bones]), np.array([b[1] for b in bones])
    ok = (w[:, p] > 0) & (w[:, c] > 0)
    lt = np.linalg.norm(tgt[:, c] - tgt[:, p], axis=2)
    lr = np.linalg.norm(rest[c] - rest[p], axis=1)
    num = np.where(ok, lt, 0).sum(1)
    den = np.where(ok, lr[None], 0).sum(1)
    return np.clip(np.where(den > 0, num / np.maximum(den, 1e-12), 1.0), 0.3, 3.0)


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple:
    """Weighted rigid fit dst ~ R src + t. src (J,3) or (B,J,3), dst (B,J,3), w (B,J)."""
    B = dst.shape[0]
    src = np.broadcast_to(src, dst.shape)
    ws = w.sum(1, keepdims=True)
    wn = w / np.maximum(ws, 1e-12)
    mu_s = np.einsum('bj,bjk->bk', wn, src)
    mu_d = np.einsum('bj,bjk->bk', wn, dst)
    Hm = np.einsum('bj,bji,bjk->bik', wn, src - mu_s[:, None], dst - mu_d[:, None])
    U, _, Vt = np.linalg.svd(Hm)
    d = np.sign(np.linalg.det(Vt.swapaxes(1, 2) @ U.swapaxes(1, 2)))
    S = np.broadcast_to(np.eye(3), (B, 3, 3)).copy()
    S[:, 2, 2] = np.where(d == 0, 1.0, d)
    R = Vt.swapaxes(1, 2) @ S @ U.swapaxes(1, 2)
    t = mu_d - np.einsum('bij,bj->bi', R, mu_s)
    return R, t


def solve_ik(skeleton: Skeleton, targets: np.ndarray, **kwargs) -> IKResult:
    """One-shot convenience wrapper around :class:`InverseKinematics`."""
    fit_scale = kwargs.pop('fit_scale', False)
    weights = kwargs.pop('weights', None)
    return InverseKinematics(skeleton, **kwargs).solve(targets, weights=weights,
                                                       fit_scale=fit_scale)


__all__ = ['IKResult', 'IKStatus', 'InverseKinematics', 'solve_ik', 'split_params']
