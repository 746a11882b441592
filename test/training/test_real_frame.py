"""Pose checks used for the real-frame acceptance picture (image-space rules, known answers)."""
import numpy as np

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.training.real_frame import pose_checks

NAMES = Skeleton.load('body15').joint_names
# a person facing the camera, arms spread down and out, legs straight (u right, v down)
UV = {'head': (160, 60), 'neck': (160, 80), 'r_shoulder': (145, 85), 'l_shoulder': (175, 85),
      'r_elbow': (128, 100), 'l_elbow': (192, 100), 'r_hand': (112, 115), 'l_hand': (208, 115),
      'torso': (160, 110), 'r_hip': (152, 135), 'l_hip': (168, 135), 'r_knee': (152, 170),
      'l_knee': (168, 170), 'r_foot': (152, 204), 'l_foot': (168, 204)}


def _uv(**changes) -> np.ndarray:
    d = dict(UV, **changes)
    return np.array([d[n] for n in NAMES], dtype=float)


def test_frontal_spread_pose_passes_every_check():
    mask = np.zeros((240, 320), bool)
    mask[50:206, 100:220] = True  # silhouette rows 50..205
    checks = pose_checks(_uv(), NAMES, mask)
    assert all(v for k, v in checks.items() if k != 'feet_error_px')
    assert abs(checks['feet_error_px'] - (204 - 205)) < 1e-9


def test_swapped_sides_raised_hands_and_short_legs_fail_their_checks():
    swapped = _uv(l_shoulder=UV['r_shoulder'], r_shoulder=UV['l_shoulder'],
                  l_hand=UV['r_hand'], r_hand=UV['l_hand'])
    assert not pose_checks(swapped, NAMES, None)['left_right_not_swapped']
    raised = _uv(l_hand=(208, 40), r_hand=(112, 40))
    assert not pose_checks(raised, NAMES, None)['hands_below_shoulders']
    mask = np.zeros((240, 320), bool)
    mask[50:236] = True
    assert not pose_checks(_uv(), NAMES, mask)['feet_at_bottom_of_silhouette']
