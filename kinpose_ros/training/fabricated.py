"""Fabricated depth frames: stick figures of capsules in front of a wall and above a floor.

Not a substitute for the synthetic generator (``data.synth``): no body surface, no sensor model.
It exists so that the training pipeline, its tests and smoke runs work without the generator's
assets, in milliseconds per frame. Frames are a pure function of (seed, index).

A person is the skeleton in a random in-limit pose (a third of each DoF's range around rest),
upright, facing the camera within +-60 degrees of yaw, 2.6-4.5 m away; every bone is a chain of
spheres (radius 5-11 cm) rendered with a z-buffer.
"""
from __future__ import annotations

import numpy as np

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.rotations import axis_rotation, matrix_to_axis_angle
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.training.records import FrameRecord, PersonRecord

__all__ = ['FabricatedSource']

# body frame (x forward, y left, z up) -> camera optical frame, person facing the camera
_FACING = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


class FabricatedSource:
    """Indexable fabricated frames: ``source.frame(i) -> FrameRecord`` (one person each).

    Args:
        skeleton: a body skeleton in metres (e.g. body15).
        seed: frames are a pure function of (seed, index).
        size: (width, height) of the image; focal length scales with the width (ITOP-like FOV).
        length: the nominal number of frames (``len``); any index works.
    """

    def __init__(self, skeleton: Skeleton, seed: int = 0, size: tuple[int, int] = (160, 120),
                 length: int = 10**9) -> None:
        if skeleton.units != 'm':
            raise ValueError(f'skeleton: fabricated frames need a skeleton in metres, got '
                             f'{skeleton.name!r} in {skeleton.units!r}')
        self.skeleton, self.seed, self.length = skeleton, int(seed), int(length)
        w, h = (int(s) for s in size)
        f = 285.714 * w / 320.0
        self.intrinsics = Intrinsics(w, h, f, f, (w - 1) / 2.0, (h - 1) / 2.0)
        self._bones = [(int(p), c) for c, p in enumerate(skeleton.parents) if p >= 0]

    def __len__(self) -> int:
        return self.length

    def _params(self, rng: np.random.Generator) -> np.ndarray:
        sk = self.skeleton
        lo, hi = sk.dof_lower, sk.dof_upper
        rest = np.clip(0.0, lo, hi)
        angles = np.clip(rest + rng.uniform(-1, 1, sk.num_dofs) * (hi - lo) / 6, lo, hi)
        yaw = rng.uniform(-np.pi / 3, np.pi / 3)
        R = _FACING @ axis_rotation(np.array([0.0, 0.0, 1.0]), np.array(yaw))
        z = rng.uniform(2.6, 4.5)
        t = np.array([rng.uniform(-0.4, 0.4) * z, rng.uniform(-0.1, 0.2), z])
        rotvec = matrix_to_axis_angle(R)
        return np.concatenate([t, rotvec, angles])

    def frame(self, index: int) -> FrameRecord:
        rng = np.random.default_rng([self.seed, int(index)])
        k = self.intrinsics
        params = self._params(rng)
        joints, _ = forward_kinematics_np(self.skeleton, params[None])
        joints = joints[0]
        # background: a wall 1.5-3 m behind the person, a floor under the feet
        wall = joints[:, 2].mean() + rng.uniform(1.5, 3.0)
        floor_y = joints[:, 1].max() + 0.05
        vv, uu = np.mgrid[0:k.height, 0:k.width].astype(np.float64)
        ray_y = (vv - k.cy) / k.fy
        with np.errstate(divide='ignore'):
            floor_z = np.where(ray_y > 1e-6, floor_y / ray_y, np.inf)
        depth = np.minimum(floor_z, wall)
        body = np.full(depth.shape, np.inf)
        for p, c in self._bones:
            radius = 0.11 if self.skeleton.joint_names[c] in ('torso', 'neck') else \
                rng.uniform(0.05, 0.08)
            _draw_capsule(body, joints[p], joints[c], radius, k)
        _draw_capsule(body, joints[0], joints[0], 0.1, k)  # head ball
        mask = body < depth
        depth = np.where(mask, body, depth).astype(np.float32)
        depth[~np.isfinite(depth) | (depth > 8.0)] = np.nan
        person = PersonRecord(joints, mask=mask, params=params)
        return FrameRecord(depth, k, [person], frame_id=f'fabricated:{self.seed}:{index}')


def _draw_capsule(zbuf: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float,
                  k: Intrinsics) -> None:
    """Spheres every ~radius/2 from a to b (3-D points, metres) into the z-buffer (in place)."""
    n = max(1, int(np.ceil(np.linalg.norm(b - a) / (0.5 * radius))))
    for s in np.linspace(0.0, 1.0, n + 1):
        c = a + s * (b - a)
        if c[2] <= radius:
            continue
        u, v = k.fx * c[0] / c[2] + k.cx, k.fy * c[1] / c[2] + k.cy
        r_px = k.fx * radius / c[2]
        c0, c1 = max(0, int(u - r_px)), min(k.width, int(u + r_px) + 2)
        r0, r1 = max(0, int(v - r_px)), min(k.height, int(v + r_px) + 2)
        if c0 >= c1 or r0 >= r1:
            continue
        vv, uu = np.mgrid[r0:r1, c0:c1]
        d2 = ((uu - u) ** 2 + (vv - v) ** 2) / r_px ** 2
        inside = d2 < 1.0
        z = c[2] - radius * np.sqrt(np.clip(1.0 - d2, 0.0, 1.0))
        patch = zbuf[r0:r1, c0:c1]
        np.minimum(patch, np.where(inside, z, np.inf), out=patch)

