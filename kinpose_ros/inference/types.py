"""Plain data types exchanged between the estimator and its users (nodes, tools, tests).

ROS-free and torch-free. Frames: every position is in the camera optical frame of the input
image (REP-103: x right, y down, z forward), metres; angles in radians.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PoseResult:
    """One tracked person in one frame.

    J keypoints, F skeleton frames (keypoints + auxiliary frames), D DoFs of the skeleton.
    """

    person_id: int                      # stable across frames while the track lives
    joints_xyz: np.ndarray              # (J, 3) camera optical frame, metres (filtered)
    confidence: np.ndarray              # (J,) in [0, 1]; 0 = not trusted / not visible
    joints_uv: np.ndarray               # (J, 2) image pixels of the input image
    joint_transforms: np.ndarray        # (J, 4, 4) camera <- joint frame (TF per keypoint)
    joint_angles: np.ndarray            # (D,) radians (skeleton.joint_state_names order)
    joint_velocities: np.ndarray        # (D,) rad/s (0 for a new track)
    root_transform: np.ndarray          # (4, 4) camera <- skeleton root frame
    scale: float = 1.0                  # person size relative to the skeleton
    box_xyxy: np.ndarray = field(default_factory=lambda: np.zeros(4))  # image pixels
    score: float = 1.0                  # detection / overall pose confidence in [0, 1]
    ik_residual_m: float = float('nan')  # mean |IK fit - network joints| (joint nets)


@dataclass
class FrameResult:
    """Everything the estimator returns for one input frame."""

    people: list                        # list[PoseResult], sorted by distance
    timings_ms: dict                    # stage -> milliseconds (segment, crop, infer, ...)
    stamp: float = 0.0                  # seconds, copied from the input
    dropped_reason: str = ''            # non-empty when the frame was skipped (bad input)
