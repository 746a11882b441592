"""Rotation conversions for numpy arrays and torch tensors alike.

Conventions (stated once, used everywhere in kinpose_ros):
  * Rotation matrices act on column vectors: ``v_parent = R @ v_child``. Shapes ``(..., 3, 3)``.
  * Quaternions are ``(x, y, z, w)``, the order of ROS ``geometry_msgs/Quaternion`` (pytorch3d uses
    ``(w, x, y, z)``: convert when exchanging data with it). Unit norm; ``q`` and ``-q`` are the
    same rotation; conversions to quaternions return ``w >= 0``.
  * Axis-angle is a 3-vector ``angle * unit_axis`` (radians), right-hand rule.
  * The continuous 6-D representation (Zhou et al., CVPR 2019) is the first two *columns* of the
    matrix, concatenated: ``(..., 6) = [R[:, 0], R[:, 1]]``; decoding uses Gram-Schmidt, so any
    6-vector with two non-parallel halves maps to a valid rotation.

Every function accepts a numpy array or a torch tensor and returns the same kind (the operations
used exist in both libraries under the same names). Functions are gradient-safe in torch: no
division by zero at the identity (Taylor expansions near zero angle).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _ns(x: Any):
    """The array namespace of ``x``: numpy, or torch for tensors (imported lazily)."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    import torch  # noqa: PLC0415 - torch is optional for numpy users

    if isinstance(x, torch.Tensor):
        return torch
    raise TypeError(f'expected a numpy array or a torch tensor, got {type(x).__name__}')


def _check_last(x: Any, sizes: tuple, name: str) -> None:
    _ns(x)  # type check first: lists and other sequences are refused with a TypeError
    if tuple(x.shape[len(x.shape) - len(sizes):]) != sizes or len(x.shape) < len(sizes):
        raise ValueError(f'{name}: expected shape (..., {", ".join(map(str, sizes))}), '
                         f'got {tuple(x.shape)}')


def _norm(x: Any) -> Any:
    return ((x * x).sum(-1)) ** 0.5


def _normalize(x: Any) -> Any:
    """x / |x| along the last axis, exact for |x| >= 1e-12 (no bias from an added epsilon)."""
    n = _norm(x)
    n = _ns(x).where(n < 1e-12, n * 0 + 1e-12, n)
    return x / n[..., None]


def _skew(v: Any) -> Any:
    """(..., 3) -> (..., 3, 3) cross-product matrices."""
    ns = _ns(v)
    z = v[..., 0] * 0
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    rows = [ns.stack([z, -w, y], -1), ns.stack([w, z, -x], -1), ns.stack([-y, x, z], -1)]
    return ns.stack(rows, -2)


def axis_angle_to_matrix(axis_angle: Any) -> Any:
    """Rodrigues' formula. (..., 3) radians -> (..., 3, 3)."""
    _check_last(axis_angle, (3,), 'axis_angle')
    ns = _ns(axis_angle)
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < 1e-8
    theta2_safe = ns.where(small, theta2 * 0 + 1.0, theta2)
    theta = theta2_safe ** 0.5
    # sin(t)/t and (1-cos t)/t^2 with series near zero so gradients stay finite
    a = ns.where(small, 1.0 - theta2 / 6.0, ns.sin(theta) / theta)
    b = ns.where(small, 0.5 - theta2 / 24.0, (1.0 - ns.cos(theta)) / theta2_safe)
    K = _skew(axis_angle)
    eye = K * 0
    eye[..., 0, 0] = 1
    eye[..., 1, 1] = 1
    eye[..., 2, 2] = 1
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def matrix_to_quaternion(matrix: Any) -> Any:
    """(..., 3, 3) -> (..., 4) quaternion (x, y, z, w) with w >= 0.

    Uses the numerically best-conditioned of the four standard formulas per element.
    """
    _check_last(matrix, (3, 3), 'matrix')
    ns = _ns(matrix)
    m00, m11, m22 = matrix[..., 0, 0], matrix[..., 1, 1], matrix[..., 2, 2]
    m01, m02, m10 = matrix[..., 0, 1], matrix[..., 0, 2], matrix[..., 1, 0]
    m12, m20, m21 = matrix[..., 1, 2], matrix[..., 2, 0], matrix[..., 2, 1]
    # four candidate (x, y, z, w) vectors, each scaled by 4 * (its dominant component)
    cands = ns.stack([
        ns.stack([1 + m00 - m11 - m22, m01 + m10, m02 + m20, m21 - m12], -1),
        ns.stack([m01 + m10, 1 - m00 + m11 - m22, m12 + m21, m02 - m20], -1),
        ns.stack([m02 + m20, m12 + m21, 1 - m00 - m11 + m22, m10 - m01], -1),
        ns.stack([m21 - m12, m02 - m20, m10 - m01, 1 + m00 + m11 + m22], -1),
    ], -2)
    diag = ns.stack([1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22,
                     1 + m00 + m11 + m22], -1)
    best = diag.argmax(-1)
    if ns is np:
        q = np.take_along_axis(cands, best[..., None, None].repeat(4, -1), -2)[..., 0, :]
    else:
        q = ns.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = _normalize(q)
    sign = ns.where(q[..., 3:4] < 0, q[..., 3:4] * 0 - 1, q[..., 3:4] * 0 + 1)
    return q * sign


def quaternion_to_matrix(quaternion: Any) -> Any:
    """(..., 4) quaternion (x, y, z, w), normalised here -> (..., 3, 3)."""
    _check_last(quaternion, (4,), 'quaternion')
    ns = _ns(quaternion)
    q = _normalize(quaternion)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        ns.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        ns.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        ns.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ]
    return ns.stack(rows, -2)


def quaternion_to_axis_angle(quaternion: Any) -> Any:
    """(..., 4) (x, y, z, w) -> (..., 3) axis-angle with angle in [0, pi]."""
    _check_last(quaternion, (4,), 'quaternion')
    ns = _ns(quaternion)
    q = _normalize(quaternion)
    q = ns.where(q[..., 3:4] < 0, -q, q)
    s = _norm(q[..., :3])
    angle = 2 * ns.arctan2(s, q[..., 3])
    small = s < 1e-6
    s_safe = ns.where(small, s * 0 + 1.0, s)
    # angle/s -> 2/w near zero
    factor = ns.where(small, 2.0 / q[..., 3] * (1 - s * s / 3), angle / s_safe)
    return q[..., :3] * factor[..., None]


def axis_angle_to_quaternion(axis_angle: Any) -> Any:
    """(..., 3) -> (..., 4) (x, y, z, w)."""
    _check_last(axis_angle, (3,), 'axis_angle')
    ns = _ns(axis_angle)
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < 1e-8
    theta = ns.where(small, theta2 * 0 + 1.0, theta2) ** 0.5
    half_sinc = ns.where(small, 0.5 - theta2 / 48.0, ns.sin(theta / 2) / theta)
    w = ns.where(small, 1 - theta2 / 8.0, ns.cos(theta / 2))
    return ns.concatenate([axis_angle * half_sinc[..., None], w[..., None]], -1) \
        if ns is np else ns.cat([axis_angle * half_sinc[..., None], w[..., None]], -1)


def matrix_to_axis_angle(matrix: Any) -> Any:
    """(..., 3, 3) -> (..., 3) axis-angle, angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rotation_6d_to_matrix(d6: Any) -> Any:
    """(..., 6) continuous representation -> (..., 3, 3) via Gram-Schmidt (columns b1, b2, b3)."""
    _check_last(d6, (6,), 'rotation_6d')
    ns = _ns(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = _normalize(a1)
    a2 = a2 - (b1 * a2).sum(-1)[..., None] * b1
    b2 = _normalize(a2)
    b3 = _cross(b1, b2)
    return ns.stack([b1, b2, b3], -1)


def matrix_to_rotation_6d(matrix: Any) -> Any:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    _check_last(matrix, (3, 3), 'matrix')
    ns = _ns(matrix)
    cols = [matrix[..., :, 0], matrix[..., :, 1]]
    return np.concatenate(cols, -1) if ns is np else ns.cat(cols, -1)


def _cross(a: Any, b: Any) -> Any:
    ns = _ns(a)
    return ns.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], -1)


def axis_rotation(axis: Any, angle: Any) -> Any:
    """Rotation by ``angle`` (...,) radians about fixed unit ``axis`` (3,) -> (..., 3, 3)."""
    ns = _ns(angle)
    if ns is np:
        axis = np.asarray(axis, dtype=np.result_type(angle, np.float32))
    else:
        axis = ns.as_tensor(axis, dtype=angle.dtype, device=angle.device)
    return axis_angle_to_matrix(angle[..., None] * axis)


def geodesic_angle(r1: Any, r2: Any) -> Any:
    """Angle (radians) of the relative rotation ``r1^T r2``; (..., 3, 3) x2 -> (...)."""
    ns = _ns(r1)
    rel = r1.swapaxes(-1, -2) @ r2 if ns is np else r1.transpose(-1, -2) @ r2
    cos = (rel[..., 0, 0] + rel[..., 1, 1] + rel[..., 2, 2] - 1) / 2
    return ns.arccos(ns.clip(cos, -1.0, 1.0))
