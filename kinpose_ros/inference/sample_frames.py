"""Stand-in depth frames for tests, benchmarks and INT8 calibration: capsule people on a floor.

Not the project's synthetic generator (``kinpose_ros.data``), which renders realistic bodies and
sensor effects; this is a few milliseconds of numpy that gives the pipeline frames with a known
number of people at known places, with their proposals, so that the inference stack can be run
and timed without that generator or a camera.

People are a skeleton (default body15) posed by FK, each bone a capsule (a chain of spheres),
standing on a floor plane ``camera_height_m`` below a level camera (optical frame: y down), in
front of an optional back wall; depth is z along the optical axis in metres, NaN where nothing is
within ``max_range_m``. Proposals carry the fields of ``core.segmentation.PersonProposal``
(``box_xyxy``, ``mask``, ``centroid_xyz``, ``score``) computed from the rendered person pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.rotations import matrix_to_axis_angle
from kinpose_ros.core.skeleton import Skeleton

__all__ = ['SampleFrame', 'SampleProposal', 'person_params', 'render_people', 'sample_frame']


@dataclass
class SampleProposal:
    """Same fields as ``core.segmentation.PersonProposal``."""

    box_xyxy: np.ndarray     # (4,) pixel edges
    mask: np.ndarray         # (H, W) bool
    centroid_xyz: np.ndarray  # (3,) metres, camera frame
    score: float = 1.0


@dataclass
class SampleFrame:
    depth_m: np.ndarray              # (H, W) float32, NaN invalid
    intrinsics: Intrinsics
    proposals: list                  # SampleProposal per visible person, sorted by distance
    joints_xyz: np.ndarray           # (N, J, 3) true joints, same order as ``params``
    params: np.ndarray               # (N, P) motion parameters
    visible: list = field(default_factory=list)  # index into params of each proposal


def _facing_rotation(yaw: float) -> np.ndarray:
    """Camera <- body rotation of an upright person facing the camera, turned by ``yaw``."""
    base = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return base @ rz


def person_params(sk: Skeleton, x_m: float, z_m: float, yaw: float, camera_height_m: float,
                  rng: np.random.Generator | None = None, pose_spread: float = 0.3) -> np.ndarray:
    """(P,) parameters of a person standing at (x, z) on the floor, facing the camera at yaw 0.

    ``pose_spread``: fraction of each DoF's range sampled about the rest pose (0 = rest pose).
    """
    p = np.zeros(sk.num_params)
    nt, nr = len(sk.root_translation_axes), sk.root_rotation_size
    if rng is not None and pose_spread > 0:
        lo = np.maximum(sk.dof_lower, -pose_spread * (sk.dof_upper - sk.dof_lower) / 2)
        hi = np.minimum(sk.dof_upper, pose_spread * (sk.dof_upper - sk.dof_lower) / 2)
        p[nt + nr:] = rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi))
    p[nt + nr:] = sk.clip_angles(p[nt + nr:])
    p[nt:nt + 3] = matrix_to_axis_angle(_facing_rotation(yaw))
    joints, _ = forward_kinematics_np(sk, p[None])
    lowest = joints[0, :, 1].max()  # y down: the lowest point has the largest y
    p[:3] = [x_m, camera_height_m - lowest - 0.04, z_m]  # feet about 4 cm above the floor
    return p


def _bone_spheres(joints: np.ndarray, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Sphere centres (S, 3) and radii (S,) covering the bones (and a torso slab) as capsules."""
    names = sk.joint_names
    centres, radii = [], []

    def capsule(a: np.ndarray, b: np.ndarray, r: float) -> None:
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / (0.6 * r))) + 1)
        t = np.linspace(0.0, 1.0, n)[:, None]
        centres.append(a + t * (b - a))
        radii.append(np.full(n, r))

    for p, c in sk.bones:
        thick = any(k in names[c] or k in names[p] for k in ('torso', 'hip', 'neck'))
        capsule(joints[p], joints[c], 0.09 if thick else 0.05)
    idx = {n: i for i, n in enumerate(names)}
    for a, b in (('l_shoulder', 'r_shoulder'), ('l_hip', 'r_hip'), ('l_shoulder', 'l_hip'),
                 ('r_shoulder', 'r_hip')):
        if a in idx and b in idx:
            capsule(joints[idx[a]], joints[idx[b]], 0.08)
    if 'head' in idx:
        centres.append(joints[idx['head']][None])
        radii.append(np.array([0.11]))
    return np.concatenate(centres), np.concatenate(radii)


def render_people(intrinsics: Intrinsics, joints: np.ndarray, sk: Skeleton,
                  depth: np.ndarray, labels: np.ndarray) -> None:
    """Z-buffer capsule people (N, J, 3) into ``depth`` (H, W) and person ``labels`` (in place)."""
    K = intrinsics
    H, W = depth.shape
    for person, jp in enumerate(joints):
        centres, radii = _bone_spheres(jp, sk)
        for (x, y, z), r in zip(centres, radii):
            if z <= r:
                continue
            u, v = K.fx * x / z + K.cx, K.fy * y / z + K.cy
            ru, rv = K.fx * r / z, K.fy * r / z
            c0, c1 = max(0, int(u - ru)), min(W, int(u + ru) + 2)
            r0, r1 = max(0, int(v - rv)), min(H, int(v + rv) + 2)
            if c0 >= c1 or r0 >= r1:
                continue
            du = (np.arange(c0, c1) - u)[None, :] / ru
            dv = (np.arange(r0, r1) - v)[:, None] / rv
            q = 1.0 - du * du - dv * dv
            inside = q > 0
            surf = np.where(inside, z - r * np.sqrt(np.maximum(q, 0.0)), np.inf)
            win, lab = depth[r0:r1, c0:c1], labels[r0:r1, c0:c1]
            closer = surf < win
            win[closer] = surf[closer]
            lab[closer] = person


def _proposals(depth: np.ndarray, labels: np.ndarray, K: Intrinsics, n: int,
               min_pixels: int) -> tuple[list, list]:
    props, visible = [], []
    vs, us = np.indices(depth.shape)
    finite = np.isfinite(depth)
    for i in range(n):
        mask = (labels == i) & finite
        if mask.sum() < min_pixels:
            continue
        z = depth[mask]
        x = (us[mask] - K.cx) / K.fx * z
        y = (vs[mask] - K.cy) / K.fy * z
        rows, cols = np.nonzero(mask)
        box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=float)
        props.append(SampleProposal(box, mask, np.array([x.mean(), y.mean(), z.mean()])))
        visible.append(i)
    order = np.argsort([p.centroid_xyz[2] for p in props])
    return [props[k] for k in order], [visible[k] for k in order]


def sample_frame(intrinsics: Intrinsics, params: np.ndarray, sk: Skeleton | None = None,
                 camera_height_m: float = 1.0, wall_z_m: float | None = 6.0,
                 max_range_m: float = 8.0, noise: bool = True, seed: int = 0,
                 min_pixels: int = 60) -> SampleFrame:
    """Render people with motion parameters ``params`` (N, P) on a floor; see the module doc."""
    sk = sk or Skeleton.load('body15')
    K = intrinsics
    params = np.asarray(params, dtype=np.float64).reshape(-1, sk.num_params)
    H, W = K.height, K.width
    depth = np.full((H, W), np.inf)
    rows = np.arange(H, dtype=np.float64)[:, None] - K.cy
    with np.errstate(divide='ignore'):
        floor = np.where(rows > 0, camera_height_m * K.fy / rows, np.inf)
    depth[:] = np.broadcast_to(floor, (H, W))
    if wall_z_m is not None:
        np.minimum(depth, wall_z_m, out=depth)
    labels = np.full((H, W), -1, dtype=np.int64)
    joints = np.zeros((0, sk.num_joints, 3))
    if len(params):
        joints, _ = forward_kinematics_np(sk, params)
        render_people(K, joints, sk, depth, labels)
    depth[depth > max_range_m] = np.inf
    if noise:
        rng = np.random.default_rng(seed)
        sigma = 1e-3 * (1.2 + 1.9 * (np.minimum(depth, max_range_m) - 0.4) ** 2)
        depth = depth + rng.normal(size=depth.shape) * sigma
        depth[rng.random(depth.shape) < 0.01] = np.inf  # dropped pixels
    depth = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32)
    props, visible = _proposals(depth, labels, K, len(params), min_pixels)
    return SampleFrame(depth, K, props, joints, params, visible)
