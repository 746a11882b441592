"""The weak-perspective gap of metric-crop targets (training.target_frame)."""
import numpy as np
import pytest

from kinpose_ros.training.target_frame import (
    look_at_rotation,
    summarise_gap,
    weak_perspective_gap,
)


def test_no_gap_for_joints_at_the_centroid_depth():
    joints = np.array([[0.8, -0.4, 3.0], [1.2, 0.5, 3.0], [0.9, 0.1, 3.0]])
    assert np.allclose(weak_perspective_gap(joints, np.array([1.0, 0.0, 3.0])), 0.0)


def test_gap_is_lateral_position_times_relative_depth():
    c = np.array([1.0, 0.0, 3.0])
    hand = np.array([[1.5, 0.0, 2.5]])  # 0.5 m in front of the centroid, 1.5 m to the right
    expected = 1.5 * 0.5 / 2.5          # |X (Z - Zc) / Z|
    assert weak_perspective_gap(hand, c)[0] == pytest.approx(expected)


def test_virtual_camera_removes_the_off_axis_part():
    c = np.array([2.0, 0.0, 3.0])
    r = look_at_rotation(c)
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    assert np.allclose(r @ c, [0.0, 0.0, np.linalg.norm(c)])
    # a joint straight in front of the centroid along the camera ray: no lateral offset seen
    joint = (c * (1 - 0.3 / np.linalg.norm(c)))[None]
    assert weak_perspective_gap(joint, c, virtual_camera=True)[0] == pytest.approx(0.0, abs=1e-12)
    assert weak_perspective_gap(joint, c)[0] > 0.15


def test_summary_and_bad_input():
    s = summarise_gap(np.array([0.0, 0.05, 0.2, 0.09]))
    assert s['ceiling_map_10cm'] == pytest.approx(75.0) and s['n_joints'] == 4
    with pytest.raises(ValueError, match='in front'):
        weak_perspective_gap(np.array([[0.0, 0.0, -1.0]]), np.array([0.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match='expected joints'):
        weak_perspective_gap(np.zeros((3, 2)), np.zeros(3))
