"""Known-answer tests for kinpose_ros.evaluation (hand-made cases, no shared data)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from kinpose_ros.evaluation import (
    EvaluationResult,
    angle_error_deg,
    bone_length_spread,
    count_nonfinite,
    evaluate_joints,
    map_at,
    mpjpe_mm,
    pck_2d,
)


def _offset_along_x(errors_m):
    """gt at zero, pred shifted by the given x errors: (N, J) -> (N, J, 3) pair."""
    errors = np.asarray(errors_m, dtype=np.float64)
    gt = np.zeros(errors.shape + (3,))
    pred = gt.copy()
    pred[..., 0] = errors
    return pred, gt


def test_map_threshold_is_strict():
    pred, gt = _offset_along_x([[0.10, 0.0999]])
    overall, per_joint = map_at(pred, gt, 0.10)
    assert overall == pytest.approx(0.5)
    np.testing.assert_array_equal(per_joint, [0.0, 1.0])


def test_map_averages_over_frames_and_joints_in_3d():
    # 3-D distance: (0.06, 0.06, 0.06) has norm 0.1039 > 0.10 though each axis is small
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[0, 0] = 0.06
    pred[1, 1] = [0.0, 0.0, 0.2]
    overall, per_joint = map_at(pred, gt)
    assert overall == pytest.approx(4 / 6)
    np.testing.assert_allclose(per_joint, [0.5, 0.5, 1.0])


def test_nan_prediction_counts_wrong_and_is_reported():
    pred, gt = _offset_along_x([[0.0, 0.0], [0.05, 0.0]])
    pred[1, 1] = np.nan
    overall, per_joint = map_at(pred, gt)
    assert overall == pytest.approx(3 / 4)
    np.testing.assert_allclose(per_joint, [1.0, 0.5])
    assert count_nonfinite(pred) == 1
    # left out of the mean error: (0 + 0 + 50) / 3 mm
    mean, per = mpjpe_mm(pred, gt)
    assert mean == pytest.approx(50.0 / 3)
    np.testing.assert_allclose(per, [25.0, 0.0])
    result = evaluate_joints(pred, gt, ['a', 'b'])
    assert result.n_nonfinite == 1 and result.n_counted == 4
    assert result.map_percent == pytest.approx(75.0)


def test_valid_mask_excludes_joints_and_unlabelled_gt():
    pred, gt = _offset_along_x([[0.2, 0.0], [0.0, 0.0]])
    gt[0, 0] = np.nan
    with pytest.raises(ValueError, match='non-finite'):
        map_at(pred, gt)
    valid = np.array([[False, True], [True, True]])
    overall, per_joint = map_at(pred, gt, valid=valid)
    assert overall == pytest.approx(1.0)
    np.testing.assert_allclose(per_joint, [1.0, 1.0])
    only_b = np.array([[False, True], [False, True]])
    _, per_joint = map_at(pred, gt, valid=only_b)
    assert np.isnan(per_joint[0]) and per_joint[1] == 1.0


def test_mpjpe_in_millimetres():
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[0.03, 0.04, 0.0], [0.0, 0.0, 0.01]]])  # 50 mm and 10 mm
    mean, per_joint = mpjpe_mm(pred, gt)
    assert mean == pytest.approx(30.0)
    np.testing.assert_allclose(per_joint, [50.0, 10.0])


@pytest.mark.parametrize('pred_shape, gt_shape', [
    ((2, 3, 3), (2, 4, 3)), ((2, 3, 2), (2, 3, 2)), ((3, 3), (3, 3)),
])
def test_shapes_are_checked(pred_shape, gt_shape):
    with pytest.raises(ValueError, match='map_at'):
        map_at(np.zeros(pred_shape), np.zeros(gt_shape))


def test_bad_mask_is_rejected():
    with pytest.raises(ValueError, match='valid must be a bool array'):
        mpjpe_mm(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), valid=np.ones((2, 3)))


def test_pck_pixels_and_normalised():
    gt = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 10.0]], [[0.0, 10.0], [0.0, 0.0]]])  # 5, 10, 10, 0 px
    overall, per_joint = pck_2d(pred, gt, threshold=10.0)
    assert overall == pytest.approx(0.5)  # 10 px is not below 10 px
    np.testing.assert_allclose(per_joint, [0.5, 0.5])
    # frame 0 scale 100 -> limit 5 px; frame 1 scale 400 -> limit 20 px
    overall, per_joint = pck_2d(pred, gt, threshold=0.05, scale=np.array([100.0, 400.0]))
    assert overall == pytest.approx(0.5)
    np.testing.assert_allclose(per_joint, [0.5, 0.5])
    with pytest.raises(ValueError, match='scale'):
        pck_2d(pred, gt, threshold=0.5, scale=np.array([1.0, 0.0]))


def test_bone_spread_constant_skeleton_is_zero():
    rng = np.random.default_rng(0)
    rest = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.3, 0.5, 0.0]])
    frames = rest[None] + rng.normal(size=(20, 1, 3))  # rigid translations only
    mean, std = bone_length_spread(frames, [-1, 0, 1])
    assert np.isnan(mean[0]) and np.isnan(std[0])
    np.testing.assert_allclose(mean[1:], [0.5, 0.3])
    np.testing.assert_allclose(std[1:], 0.0, atol=1e-12)


def test_bone_spread_known_std_2d():
    # lengths 40 and 50 px alternate: mean 45, population std 5
    joints = np.zeros((4, 2, 2))
    joints[:, 1, 0] = [40.0, 50.0, 40.0, 50.0]
    mean, std = bone_length_spread(joints, [-1, 0])
    assert mean[1] == pytest.approx(45.0) and std[1] == pytest.approx(5.0)
    with pytest.raises(ValueError, match='parents'):
        bone_length_spread(joints, [-1, 2])


def test_angle_error_wraps_around():
    pred = np.radians([[179.0, 10.0, 360.0]])
    gt = np.radians([[-179.0, -20.0, 0.0]])
    mean, per_dof = angle_error_deg(pred, gt)
    np.testing.assert_allclose(per_dof, [2.0, 30.0, 0.0], atol=1e-9)
    assert mean == pytest.approx(32.0 / 3)
    # exactly pi apart is 180 deg either way round
    _, per_dof = angle_error_deg(np.array([[np.pi]]), np.array([[0.0]]))
    assert per_dof[0] == pytest.approx(180.0)


def _small_result() -> EvaluationResult:
    pred, gt = _offset_along_x([[0.05, 0.2], [0.0, np.nan]])
    return evaluate_joints(pred, gt, ['Head', 'LeftHand'], name='toy')


def test_result_dict_is_json_safe_and_table_aligned():
    result = _small_result()
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data['map_10cm'] == pytest.approx(50.0)
    assert data['per_joint_map_10cm'] == pytest.approx([100.0, 0.0])
    assert data['per_joint_error_mm'] == pytest.approx([25.0, 200.0])
    assert data['n_nonfinite'] == 1 and data['joint_names'] == ['Head', 'LeftHand']
    lines = result.format_table().splitlines()
    rows = [line for line in lines if line.startswith(('Head', 'LeftHand', 'overall'))]
    assert len(rows) == 3 and len({len(r) for r in rows}) == 1
    # the NaN joint is left out of the error: (50 + 200 + 0) / 3 mm
    assert rows[-1].split() == ['overall', '50.00', '83.33']


def test_result_without_map_has_no_map_key():
    pred, gt = _offset_along_x([[0.001]])
    data = evaluate_joints(pred, gt, threshold_m=None).to_dict()
    assert 'map_10cm' not in data and data['mean_error_mm'] == pytest.approx(1.0)


def test_plot_writes_png(tmp_path):
    pytest.importorskip('matplotlib')
    path = _small_result().plot(tmp_path / 'joints.png')
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_import_pulls_in_neither_torch_nor_matplotlib():
    code = ('import sys, kinpose_ros.evaluation, kinpose_ros.data.golden; '
            'print(sorted(m for m in ("torch", "matplotlib", "rclpy") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'
