"""A known scene for node tests: a box of depth in front of a camera, and a simple but real
estimator that puts a skeleton at the centroid of the valid depth.

``CentroidEstimator`` is a genuine component, not a mock: it reads the depth it is given,
unprojects every valid pixel and places the skeleton (a fixed pose) with its root at their
centroid, so what the node publishes depends on the depth and camera model it decoded.
"""
from __future__ import annotations

import time

import numpy as np
from people import body_params, pose_result

from kinpose_ros.core.camera import Intrinsics, depth_to_points
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.types import FrameResult

INTRINSICS = Intrinsics(width=80, height=60, fx=70.0, fy=70.0, cx=39.5, cy=29.5)
CAMERA_FRAME = 'test_camera_depth_optical_frame'


def box_depth_m(intr: Intrinsics = INTRINSICS, box=(30, 15, 50, 45), z_m: float = 2.5,
                tilt: float = 0.0) -> np.ndarray:
    """(H, W) float32 metres: NaN everywhere but ``box`` (x0, y0, x1, y1) at ``z_m`` (+ a
    gradient of ``tilt`` m per column)."""
    depth = np.full((intr.height, intr.width), np.nan, np.float32)
    x0, y0, x1, y1 = box
    cols = np.arange(x0, x1, dtype=np.float32)
    depth[y0:y1, x0:x1] = z_m + tilt * (cols - x0)[None, :]
    return depth


def centroid(depth_m: np.ndarray, intr: Intrinsics = INTRINSICS) -> np.ndarray:
    """(3,) mean of the valid pixels' 3-D points (the known answer)."""
    pts = depth_to_points(depth_m, intr).reshape(-1, 3)
    return pts[np.isfinite(pts).all(axis=1)].mean(axis=0)


class CentroidEstimator:
    """``process`` -> one person (id ``person_id``) rooted at the depth centroid.

    Called like ``PoseEstimator``: ``estimator(depth_m, intrinsics, rgb=None, stamp=None)``.
    ``delay_s`` simulates a slower network (sleeps in the caller's thread).
    """

    def __init__(self, skeleton: Skeleton | None = None, person_id: int = 0,
                 delay_s: float = 0.0) -> None:
        self.skeleton = skeleton or Skeleton.load('body15')
        self.person_id, self.delay_s = person_id, delay_s
        self.calls = 0
        self.last_intrinsics = None

    def params_at(self, root_xyz) -> np.ndarray:
        return body_params(self.skeleton, root_xyz, yaw=0.3)

    def __call__(self, depth_m, intrinsics, rgb=None, stamp=None) -> FrameResult:
        t0 = time.perf_counter()
        self.calls += 1
        self.last_intrinsics = intrinsics
        if self.delay_s:
            time.sleep(self.delay_s)
        pts = depth_to_points(depth_m, intrinsics).reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(axis=1)]
        people = []
        if len(pts):
            people.append(pose_result(self.skeleton, self.person_id,
                                      self.params_at(pts.mean(axis=0))))
        return FrameResult(people=people, stamp=stamp or 0.0,
                           timings_ms={'infer': (time.perf_counter() - t0) * 1e3})
