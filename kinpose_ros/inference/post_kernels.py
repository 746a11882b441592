"""Compiled (numba) parts of ``PoseEstimator``: the ``uvz_crop`` decode, the surface check of
decoded joints, and the tail (smoothed state -> skeleton, pixels, confidence).

One call per frame replaces about twenty small numpy calls (Gram-Schmidt, forward kinematics per
person, projection, confidence), which cost a few microseconds each at these sizes.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from kinpose_ros.core.ik_kernels import fk

__all__ = ['decode_uvz', 'finish_people', 'surface_factor']


@nb.njit(cache=True, nogil=True)
def finish_people(states, J, D, parent, offset, dof_start, dof_count, dof_idx, dof_sign, kp,
                  fx, fy, cx, cy, net_conf, surface, residual, residual_scale,
                  joints, transforms, root, angles, scale, uv, conf):
    """Per person ``i`` of ``states`` (n, 3J + 13 + D): joints (3J), root translation (3), root
    rotation (9, row-major, orthonormalised here by Gram-Schmidt on its first two columns),
    scale (1), joint angles (D).

    Writes: ``joints`` (n, J, 3) the state's joints, NaN ones replaced by the skeleton's;
    ``transforms`` (n, J, 4, 4) camera <- joint frame from FK; ``root`` (n, 4, 4); ``angles``
    (n, D); ``scale`` (n,); ``uv`` (n, J, 2) pixels (NaN behind the camera); ``conf`` (n, J) =
    clip(net_conf x surface x exp(-(residual / residual_scale)^2), 0, 1), NaN residual = 1.
    """
    F = parent.shape[0]
    G_R, G_t = np.empty((F, 3, 3)), np.empty((F, 3))
    omega, origin = np.empty((max(D, 1), 3)), np.empty((max(D, 1), 3))
    R = np.empty((3, 3))
    t = np.empty(3)
    for i in range(states.shape[0]):
        s = states[i]
        o = 3 * J
        t[0], t[1], t[2] = s[o], s[o + 1], s[o + 2]
        m = s[o + 3:o + 12]
        ax, ay, az = m[0], m[3], m[6]
        n = np.sqrt(ax * ax + ay * ay + az * az)
        ax, ay, az = ax / n, ay / n, az / n
        bx, by, bz = m[1], m[4], m[7]
        d = ax * bx + ay * by + az * bz
        bx, by, bz = bx - d * ax, by - d * ay, bz - d * az
        n = np.sqrt(bx * bx + by * by + bz * bz)
        bx, by, bz = bx / n, by / n, bz / n
        R[0, 0], R[1, 0], R[2, 0] = ax, ay, az
        R[0, 1], R[1, 1], R[2, 1] = bx, by, bz
        R[0, 2], R[1, 2], R[2, 2] = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        sc = s[o + 12]
        scale[i] = sc
        for k in range(D):
            angles[i, k] = s[o + 13 + k]
        fk(t, R, angles[i], sc, parent, offset, dof_start, dof_count, dof_idx, dof_sign,
           G_R, G_t, omega, origin)
        root[i] = 0.0
        root[i, :3, :3] = R
        root[i, :3, 3] = t
        root[i, 3, 3] = 1.0
        for j in range(J):
            f = kp[j]
            T = transforms[i, j]
            T[:] = 0.0
            T[:3, :3] = G_R[f]
            T[:3, 3] = G_t[f]
            T[3, 3] = 1.0
            for c in range(3):
                v = s[3 * j + c]
                joints[i, j, c] = v if np.isfinite(v) else G_t[f, c]
            z = joints[i, j, 2]
            if z > 0:
                uv[i, j, 0] = fx * joints[i, j, 0] / z + cx
                uv[i, j, 1] = fy * joints[i, j, 1] / z + cy
            else:
                uv[i, j, 0] = np.nan
                uv[i, j, 1] = np.nan
            r = residual[i, j]
            r = 0.0 if r != r else r / residual_scale
            c = net_conf[i, j] * surface[i, j] * np.exp(-r * r)
            conf[i, j] = min(max(c, 0.0), 1.0)


@nb.njit(cache=True, nogil=True)
def surface_factor(uv, z, depth, tolerance, behind, occluded_factor, unverified_factor):
    """(N, J) agreement of joints with the measured surface (``PoseEstimator``'s docstring):
    joint ``(n, j)`` at pixel ``uv`` (rounded half up) and depth ``z`` against ``depth`` there:
    ``exp(-(max(surface - z, 0) / tolerance)^2)`` (a joint in front of the visible surface is
    doubtful), ``occluded_factor`` where it lies more than ``behind`` behind it (hidden),
    ``unverified_factor`` where the pixel is outside the image or has no depth, 0 for a NaN
    joint."""
    N, J = z.shape
    H, W = depth.shape
    out = np.empty((N, J))
    for n in range(N):
        for j in range(J):
            zj = z[n, j]
            if not zj == zj:
                out[n, j] = 0.0
                continue
            u = np.floor(uv[n, j, 0] + 0.5)
            v = np.floor(uv[n, j, 1] + 0.5)
            if not (u >= 0 and u < W and v >= 0 and v < H):  # NaN: outside
                out[n, j] = unverified_factor
                continue
            surf = depth[int(v), int(u)]
            if not surf > 0:  # NaN or no depth
                out[n, j] = unverified_factor
                continue
            ahead = surf - zj
            if ahead < -behind:
                out[n, j] = occluded_factor
            else:
                a = max(ahead, 0.0) / tolerance
                out[n, j] = np.exp(-a * a)
    return out


@nb.njit(cache=True, nogil=True)
def decode_uvz(uv, z, conf, uv_scale, z_scale, conf_scale, table, fx, fy, cx, cy, joints,
               uv_img, conf_out, centres):
    """The ``uvz_crop`` decode rule (``inference.crop_geometry.decode_outputs``) in one pass.

    ``uv`` (N, J, 2), ``z`` (N, J), ``conf`` (N, J): the graph's outputs, divided by their
    card scales. ``table`` (N, 8) per crop: crop-to-image affine diagonal (2) and offset (2),
    centre depth, half depth range, box centre pixel (2). Writes ``joints`` (N, J, 3) metres,
    ``uv_img`` (N, J, 2) image pixels, ``conf_out`` (N, J) clipped to [0, 1] (NaN -> 0) and
    ``centres`` (N, 3) the crop centre points (NaN centre depth -> NaN joints)."""
    N, J = z.shape
    for n in range(N):
        dx, dy, ox, oy = table[n, 0], table[n, 1], table[n, 2], table[n, 3]
        cz, half = table[n, 4], table[n, 5]
        centres[n, 0] = (table[n, 6] - cx) / fx * cz
        centres[n, 1] = (table[n, 7] - cy) / fy * cz
        centres[n, 2] = cz
        for j in range(J):
            u = uv[n, j, 0] / uv_scale * dx + ox
            v = uv[n, j, 1] / uv_scale * dy + oy
            zz = z[n, j] / z_scale * half + cz
            uv_img[n, j, 0] = u
            uv_img[n, j, 1] = v
            joints[n, j, 0] = (u - cx) / fx * zz
            joints[n, j, 1] = (v - cy) / fy * zz
            joints[n, j, 2] = zz
            c = conf[n, j] / conf_scale
            conf_out[n, j] = 0.0 if c != c else min(max(c, 0.0), 1.0)
