"""Forward kinematics: a batched differentiable torch layer and its numpy twin.

Both run the same code (:func:`_forward`) on numpy arrays or torch tensors. Frames are processed
level by level of the kinematic tree, so the cost is a handful of batched matrix products
whatever the number of joints. Conventions: :mod:`kinpose_ros.core.skeleton` (transform chain)
and :mod:`kinpose_ros.core.rotations` (matrices act on column vectors).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kinpose_ros.core.rotations import _ns, axis_angle_to_matrix, axis_rotation
from kinpose_ros.core.skeleton import Skeleton, parse_axis


@dataclass(frozen=True)
class KinematicTables:
    """Index tables derived from a skeleton once (numpy; torch copies are made per device)."""

    offsets: np.ndarray       # (F, 3) rest offsets * skeleton scale
    dof_axis: np.ndarray      # (D, 3)
    frame_dofs: np.ndarray    # (F, M) dof index per frame, D = identity padding
    levels: tuple             # tuple of (frames (n,), parents (n,)) per tree depth >= 1
    keypoints: np.ndarray     # (J,)
    trans_axes: tuple
    root_axes: tuple | str    # 'free' | 'none' | tuple of unit axes (3,)

    @classmethod
    def of(cls, sk: Skeleton) -> KinematicTables:
        D = sk.num_dofs
        per_frame = [[] for _ in range(sk.num_frames)]
        for d, f in enumerate(sk.dof_frame):
            per_frame[int(f)].append(d)
        M = max(1, max(len(p) for p in per_frame))
        table = np.full((sk.num_frames, M), D, dtype=np.int64)
        for f, ds in enumerate(per_frame):
            table[f, :len(ds)] = ds
        depth = np.zeros(sk.num_frames, dtype=np.int64)
        for f in range(1, sk.num_frames):
            depth[f] = depth[sk.frame_parents[f]] + 1
        levels = tuple((np.nonzero(depth == L)[0], sk.frame_parents[depth == L])
                       for L in range(1, int(depth.max(initial=0)) + 1))
        if isinstance(sk.root_rotation, tuple):
            root_axes = tuple(parse_axis(a, 'root.rotation') for a in sk.root_rotation)
        else:
            root_axes = sk.root_rotation
        return cls(sk.frame_offsets * sk.scale, sk.dof_axis, table, levels,
                   sk.keypoint_frames, sk.root_translation_axes, root_axes)


def split_params(tables: KinematicTables, params: Any) -> tuple:
    """Motion-parameter vector (B, P) -> root translation (B, 3), root rotation (B, 3, 3),
    joint angles (B, D)."""
    ns = _ns(params)
    nt = len(tables.trans_axes)
    t = params[..., :1].repeat(3, -1) * 0 if ns is np else params[..., :1].repeat(1, 3) * 0
    for k, a in enumerate(tables.trans_axes):
        t[..., a] = params[..., k]
    if tables.root_axes == 'free':
        R = axis_angle_to_matrix(params[..., nt:nt + 3])
        nr = 3
    else:
        axes = () if tables.root_axes == 'none' else tables.root_axes
        R = _identity_like(params[..., 0])
        for k, axis in enumerate(axes):
            R = R @ axis_rotation(axis, params[..., nt + k])
        nr = len(axes)
    return t, R, params[..., nt + nr:]


def _identity_like(x: Any) -> Any:
    """(...,) -> (..., 3, 3) identity with x's dtype/device."""
    ns = _ns(x)
    if ns is np:
        return np.broadcast_to(np.eye(3, dtype=x.dtype), (*x.shape, 3, 3)).copy()
    return ns.eye(3, dtype=x.dtype, device=x.device).expand(*x.shape, 3, 3)


def _forward(tables: KinematicTables, consts: dict, t: Any, R: Any, angles: Any,
             scale: Any, with_partials: bool = False) -> tuple:
    """All frames' global rotations (B, F, 3, 3) and positions (B, F, 3).

    With ``with_partials`` also returns the per-frame cumulative DoF rotations (list over DoF
    slots of (B, F, 3, 3): ``R(dof_1) @ ... @ R(dof_m)``), which the IK Jacobian needs.
    """
    ns = _ns(angles)
    B = angles.shape[0]
    # R(axis, a) = I + sin(a) K + (1 - cos(a)) K^2 for the fixed unit axis (K its cross matrix)
    s, c = ns.sin(angles)[..., None, None], ns.cos(angles)[..., None, None]
    dof_R = consts['eye'] + s * consts['dof_K'] + (1 - c) * consts['dof_K2']  # (B, D, 3, 3)
    eye = consts['eye'][None, None].expand(B, 1, 3, 3) if ns is not np else \
        np.broadcast_to(consts['eye'], (B, 1, 3, 3))
    cat = np.concatenate if ns is np else ns.cat
    dof_R = cat([dof_R, eye], 1)
    table = consts['frame_dofs']
    partials = [dof_R[:, table[:, 0]]]
    for m in range(1, table.shape[1]):
        partials.append(partials[-1] @ dof_R[:, table[:, m]])
    local = partials[-1]
    offsets = consts['offsets'][None] if scale is None else \
        consts['offsets'][None] * scale.reshape(B, 1, 1)
    if ns is np:
        F = table.shape[0]
        G_R = np.empty((B, F, 3, 3), dtype=angles.dtype)
        G_t = np.empty((B, F, 3), dtype=angles.dtype)
        G_R[:, 0], G_t[:, 0] = R @ local[:, 0], t
        for frames, parents in consts['levels']:
            PR = G_R[:, parents]
            G_t[:, frames] = (PR @ offsets[:, frames, :, None])[..., 0] + G_t[:, parents]
            G_R[:, frames] = PR @ local[:, frames]
    else:
        G_R, G_t = (R @ local[:, 0])[:, None], t[:, None]
        index_of = {0: 0}  # frame -> position in the running stacks (autograd-safe concat)
        for frames, parents in consts['levels']:
            p_idx = [index_of[int(p)] for p in parents]
            PR = G_R[:, p_idx]
            new_t = (PR @ offsets[:, frames, :, None])[..., 0] + G_t[:, p_idx]
            for k, f in enumerate(frames):
                index_of[int(f)] = G_R.shape[1] + k
            G_R, G_t = cat([G_R, PR @ local[:, frames]], 1), cat([G_t, new_t], 1)
        order = [index_of[f] for f in range(table.shape[0])]
        G_R, G_t = G_R[:, order], G_t[:, order]
    return (G_R, G_t, partials) if with_partials else (G_R, G_t)


def numpy_consts(tables: KinematicTables, dtype: Any = np.float64) -> dict:
    """Constant arrays of :func:`_forward` for numpy (cache them for repeated calls)."""
    K = _skew_np(tables.dof_axis)
    return {'offsets': tables.offsets.astype(dtype), 'eye': np.eye(3, dtype=dtype),
            'dof_K': K.astype(dtype), 'dof_K2': (K @ K).astype(dtype),
            'frame_dofs': tables.frame_dofs, 'levels': tables.levels}


def _skew_np(v: np.ndarray) -> np.ndarray:
    K = np.zeros((*v.shape[:-1], 3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return K


def _to_4x4(rot: Any, pos: Any) -> Any:
    ns = _ns(rot)
    bottom = rot[..., :1, :] * 0
    top = np.concatenate([rot, pos[..., None]], -1) if ns is np else ns.cat([rot, pos[..., None]],
                                                                            -1)
    bottom = np.concatenate([bottom, bottom[..., :1] * 0 + 1], -1) if ns is np else \
        ns.cat([bottom, bottom[..., :1] * 0 + 1], -1)
    return np.concatenate([top, bottom], -2) if ns is np else ns.cat([top, bottom], -2)


def forward_kinematics_np(sk: Skeleton | KinematicTables, params: np.ndarray,
                          scale: np.ndarray | None = None, all_frames: bool = False) -> tuple:
    """numpy FK. params (B, P) -> joints (B, J, 3) and transforms (B, J, 4, 4).

    With ``all_frames`` the outputs cover every frame (B, F, ...), auxiliary ones included.
    ``scale`` (B,) multiplies the skeleton's global scale per sample.
    """
    tables = sk if isinstance(sk, KinematicTables) else KinematicTables.of(sk)
    params = np.asarray(params, dtype=np.float64 if np.asarray(params).dtype != np.float32
                        else np.float32)
    if params.ndim != 2:
        raise ValueError(f'params: expected shape (B, P), got {params.shape}')
    t, R, angles = split_params(tables, params)
    G_R, G_t = _forward(tables, numpy_consts(tables, params.dtype), t, R, angles, scale)
    if not all_frames:
        G_R, G_t = G_R[:, tables.keypoints], G_t[:, tables.keypoints]
    return G_t, _to_4x4(G_R, G_t)


def __getattr__(name: str) -> Any:
    # The torch layer is built on first use so that numpy users never import torch.
    if name == 'ForwardKinematics':
        cls = _make_torch_layer()
        globals()[name] = cls
        return cls
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def _make_torch_layer() -> type:
    import torch  # noqa: PLC0415 - torch is optional for numpy users

    class ForwardKinematics(torch.nn.Module):
        """Differentiable FK layer (no learnable parameters; tables are registered buffers).

        ``forward(root_translation (B, 3), root_rotation (B, 3, 3), joint_angles (B, D),
        scale=None (B,)) -> (joints (B, J, 3), transforms (B, J, 4, 4))`` in skeleton units, any
        device and float dtype (buffers follow ``.to()``).
        """

        def __init__(self, skeleton: Skeleton) -> None:
            super().__init__()
            self.skeleton = skeleton
            self.tables = KinematicTables.of(skeleton)
            t = self.tables
            self.register_buffer('offsets', torch.as_tensor(t.offsets), persistent=False)
            consts = numpy_consts(t)
            for key in ('eye', 'dof_K', 'dof_K2'):
                self.register_buffer(key, torch.as_tensor(consts[key]), persistent=False)
            self.register_buffer('keypoints', torch.as_tensor(self.tables.keypoints),
                                 persistent=False)
            self._levels = self.tables.levels

        def _consts(self, like: Any) -> dict:
            return {'offsets': self.offsets.to(like.dtype), 'eye': self.eye.to(like.dtype),
                    'dof_K': self.dof_K.to(like.dtype), 'dof_K2': self.dof_K2.to(like.dtype),
                    'frame_dofs': self.tables.frame_dofs, 'levels': self._levels}

        def forward(self, root_translation: Any, root_rotation: Any, joint_angles: Any,
                    scale: Any = None, all_frames: bool = False) -> tuple:
            B = joint_angles.shape[0]
            if joint_angles.ndim != 2 or joint_angles.shape[1] != self.skeleton.num_dofs:
                raise ValueError(f'joint_angles: expected (B, {self.skeleton.num_dofs}), got '
                                 f'{tuple(joint_angles.shape)}')
            shapes = (tuple(root_translation.shape), tuple(root_rotation.shape))
            if shapes != ((B, 3), (B, 3, 3)):
                raise ValueError(f'root_translation/root_rotation: expected ({B}, 3)/({B}, 3, 3),'
                                 f' got {shapes[0]}/{shapes[1]}')
            G_R, G_t = _forward(self.tables, self._consts(joint_angles), root_translation,
                                root_rotation, joint_angles, scale)
            if not all_frames:
                G_R, G_t = G_R[:, self.tables.keypoints], G_t[:, self.tables.keypoints]
            return G_t, _to_4x4(G_R, G_t)

        def forward_params(self, params: Any, scale: Any = None,
                           all_frames: bool = False) -> tuple:
            """FK from the motion-parameter vector (B, P)."""
            t, R, angles = split_params(self.tables, params)
            return self.forward(t, R, angles, scale, all_frames)

    return ForwardKinematics
