"""Known people for the ROS tests: PoseResults computed with the skeleton's forward kinematics.

A plain module (imported by the tests and by helper processes), not fixtures: every value here is
a known answer the tests compare against.
"""
from __future__ import annotations

import numpy as np

from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.types import PoseResult

# a pose with every DoF away from zero (so orientations matter), in limits for body15
BODY15_ANGLES = np.array([
    0.2, 0.1, -0.15,      # spine flexion, lateral, rotation
    0.1, -0.05, 0.3,      # neck
    0.6, 0.4, 0.2, 0.9,   # l shoulder flexion, abduction, rotation; l elbow
    0.3, 0.2, -0.1, 0.5,  # r shoulder ...; r elbow
    0.4, 0.1, 0.05, 0.6,  # l hip ...; l knee
    0.2, 0.15, -0.05, 0.3,  # r hip ...; r knee
])


def body_params(sk: Skeleton, root_xyz, yaw: float = 0.0, angles=None) -> np.ndarray:
    """(P,) motion parameters: a body upright at ``root_xyz`` (optical frame), facing the camera
    when ``yaw`` is 0 (body x forward = -z_cam, body y left = +x_cam, body z up = -y_cam)."""
    from kinpose_ros.core.rotations import matrix_to_axis_angle

    face = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # cam <- body
    c, s = np.cos(yaw), np.sin(yaw)
    R = face @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    p = np.zeros(sk.num_params)
    p[:3] = root_xyz
    p[3:6] = matrix_to_axis_angle(R)
    p[6:] = BODY15_ANGLES if angles is None else angles
    return p


def pose_result(sk: Skeleton, person_id: int, params: np.ndarray, scale: float = 1.0,
                confidence: float = 0.9) -> PoseResult:
    """A PoseResult whose every field follows from FK of ``params`` (camera optical frame)."""
    joints, transforms = forward_kinematics_np(sk, params[None], scale=np.array([scale]))
    _, all_T = forward_kinematics_np(sk, params[None], scale=np.array([scale]), all_frames=True)
    J = sk.num_joints
    return PoseResult(
        person_id=person_id, joints_xyz=joints[0], confidence=np.full(J, confidence),
        joints_uv=np.zeros((J, 2)), joint_transforms=transforms[0],
        joint_angles=params[-sk.num_dofs:].copy(), joint_velocities=np.full(sk.num_dofs, 0.1),
        root_transform=all_T[0, 0], scale=scale, score=confidence)


def all_frame_poses(sk: Skeleton, params: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(F, 4, 4) ground-truth camera <- frame of every skeleton frame."""
    _, all_T = forward_kinematics_np(sk, params[None], scale=np.array([scale]), all_frames=True)
    return all_T[0]
