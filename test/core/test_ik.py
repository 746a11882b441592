import numpy as np
import pytest

from kinpose_ros.core.ik import IKStatus, InverseKinematics
from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.tools.bench import random_poses


@pytest.fixture(scope='module', params=['body15', 'body17_h36m'])
def setup(request):
    sk = Skeleton.load(request.param)
    params = random_poses(sk, 1000, np.random.default_rng(0))
    joints, _ = forward_kinematics_np(sk, params)
    return sk, InverseKinematics(sk), params, joints


def test_roundtrip_recovers_joints(setup):
    """Acceptance: FK -> IK recovers the joints within 1 mm in >= 99 % of 1000 poses."""
    sk, ik, params, joints = setup
    res = ik.solve(joints)
    err = np.linalg.norm(res.joints - joints, axis=2).max(axis=1)
    assert np.mean(err < 1e-3) >= 0.99
    assert np.all(res.joint_angles >= sk.dof_lower - 1e-12)
    assert np.all(res.joint_angles <= sk.dof_upper + 1e-12)
    # the returned parameters reproduce the returned joints
    again, _ = forward_kinematics_np(sk, res.params, scale=res.scale)
    np.testing.assert_allclose(again, res.joints, atol=1e-9)
    np.testing.assert_allclose(res.residual, np.linalg.norm(res.joints - joints, axis=2))


def test_noisy_targets_are_denoised(setup):
    """Acceptance: 2 cm per-axis noise (about 32 mm) -> fitted mean error below 30 mm."""
    sk, ik, params, joints = setup
    noisy = joints + np.random.default_rng(1).normal(scale=0.02, size=joints.shape)
    res = ik.solve(noisy)
    assert np.linalg.norm(noisy - joints, axis=2).mean() > 0.03
    assert np.linalg.norm(res.joints - joints, axis=2).mean() < 0.030


def test_fit_scale_and_weights():
    sk = Skeleton.load('body15')
    params = random_poses(sk, 50, np.random.default_rng(2))
    scale = np.random.default_rng(3).uniform(0.8, 1.2, size=50)
    joints, _ = forward_kinematics_np(sk, params, scale=scale)
    ik = InverseKinematics(sk)
    res = ik.solve(joints, fit_scale=True)
    assert np.mean(np.abs(res.scale - scale) < 1e-3) >= 0.95
    # a wildly wrong keypoint with zero weight does not disturb the fit
    bad = joints.copy()
    bad[:, 0] += 1.0
    w = np.ones(15)
    w[0] = 0.0
    res = ik.solve(bad, weights=w, fit_scale=True)
    assert np.median(np.abs(np.linalg.norm(res.joints - joints, axis=2)[:, 1:])) < 1e-3


def test_missing_targets_and_invalid_input():
    sk = Skeleton.load('body15')
    joints, _ = forward_kinematics_np(sk, random_poses(sk, 3, np.random.default_rng(4)))
    t = joints.copy()
    t[0, [0, 6]] = np.nan          # two missing keypoints: still solvable
    t[1, 2:] = np.nan              # two targets left: invalid
    t[2] = np.nan
    res = InverseKinematics(sk).solve(t)
    assert res.status[0] == IKStatus.CONVERGED
    assert np.isnan(res.residual[0, 0]) and np.nanmax(res.residual[0]) < 1e-3
    assert res.status[1] == IKStatus.INVALID_INPUT and res.status[2] == IKStatus.INVALID_INPUT
    assert np.all(np.isfinite(res.params))
    with pytest.raises(ValueError, match='targets'):
        InverseKinematics(sk).solve(np.zeros((4, 3)))
    with pytest.raises(ValueError, match='weights'):
        InverseKinematics(sk).solve(joints, weights=-np.ones(15))


def test_warm_start_tracks_small_motion():
    sk = Skeleton.load('body15')
    params = random_poses(sk, 20, np.random.default_rng(5))
    j0, _ = forward_kinematics_np(sk, params)
    ik = InverseKinematics(sk)
    first = ik.solve(j0)
    moved = params.copy()
    moved[:, 6:] = np.clip(moved[:, 6:] + 0.02, sk.dof_lower, sk.dof_upper)
    j1, _ = forward_kinematics_np(sk, moved)
    res = ik.solve(j1, init=first)
    assert np.mean(res.max_residual < 1e-3) >= 0.95


@pytest.mark.parametrize('name', ['toy_level1', 'toy_level4', 'hand21'])
def test_other_skeletons_round_trip(name):
    sk = Skeleton.load(name)
    joints, _ = forward_kinematics_np(sk, random_poses(sk, 200, np.random.default_rng(6)))
    res = InverseKinematics(sk).solve(joints)
    tol = 0.01 if sk.units == 'px' else 1e-3
    assert np.mean(res.max_residual < tol) >= 0.98
