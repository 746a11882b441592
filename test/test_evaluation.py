import json

import numpy as np
import pytest

from kinpose_ros.evaluation import (
    angle_error_deg,
    bone_length_spread,
    count_nonfinite,
    evaluate_joints,
    map_at,
    mpjpe_mm,
    pck_2d,
)


def test_map_threshold_is_strict_and_nan_is_wrong():
    gt = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, 0, 0] = 0.10          # exactly at the threshold: wrong (ITOP rule: strictly below)
    pred[0, 1, 0] = 0.0999        # right
    pred[0, 2] = np.nan           # no prediction: wrong
    overall, per_joint = map_at(pred, gt)
    assert overall == pytest.approx(2 / 4)
    np.testing.assert_array_equal(per_joint, [0, 1, 0, 1])
    assert count_nonfinite(pred) == 1


def test_map_with_valid_mask_and_per_joint_average():
    gt = np.zeros((2, 2, 3))
    pred = np.zeros((2, 2, 3))
    pred[0, 0, 2] = 0.5
    valid = np.array([[True, True], [False, True]])
    overall, per_joint = map_at(pred, gt, valid=valid)
    assert overall == pytest.approx(2 / 3)
    np.testing.assert_allclose(per_joint, [0.0, 1.0])


def test_mpjpe_pck_and_shape_errors():
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[:, :, 0] = 0.003  # 3 mm everywhere
    mean, per_joint = mpjpe_mm(pred, gt)
    assert mean == pytest.approx(3.0) and np.allclose(per_joint, 3.0)
    uv = np.zeros((2, 3, 2))
    puv = uv + [[[3.0, 4.0]]]  # 5 px
    assert pck_2d(puv, uv, threshold=5.0)[0] == 0.0
    assert pck_2d(puv, uv, threshold=5.01)[0] == 1.0
    assert pck_2d(puv, uv, threshold=0.5, scale=np.array([20.0, 5.0]))[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match='map_at'):
        map_at(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))


def test_bone_length_spread_and_angle_wrap():
    rng = np.random.default_rng(0)
    parents = [-1, 0, 1]
    rigid = np.zeros((50, 3, 3))
    rigid[:, 1, 0] = 1.0
    rigid[:, 2, 0] = 3.0
    rigid += rng.normal(size=(50, 1, 3))  # same rigid body translated: zero spread
    mean, std = bone_length_spread(rigid, parents)
    np.testing.assert_allclose(mean[1:], [1.0, 2.0])
    np.testing.assert_allclose(std[1:], 0.0, atol=1e-12)
    assert np.isnan(mean[0])
    noisy = rigid.copy()
    noisy[::2, 2, 0] += 0.5
    assert bone_length_spread(noisy, parents)[1][2] == pytest.approx(0.25)
    deg, per = angle_error_deg(np.radians([[179.0, 10.0]]), np.radians([[-179.0, 0.0]]))
    np.testing.assert_allclose(per, [2.0, 10.0])
    assert deg == pytest.approx(6.0)


def test_result_table_json_and_plot(tmp_path):
    gt = np.zeros((3, 2, 3))
    res = evaluate_joints(gt + 0.01, gt, joint_names=['a', 'b'], name='unit')
    d = res.to_dict()
    json.dumps(d)
    assert d['map_10cm'] == pytest.approx(100.0) and d['mean_error_mm'] == pytest.approx(
        np.sqrt(3) * 10, rel=1e-6)
    assert 'a' in res.format_table()
    out = res.plot(tmp_path / 'bars.png')
    assert out.stat().st_size > 1000
