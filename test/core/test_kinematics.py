import numpy as np
import pytest
import torch

from kinpose_ros.core.kinematics import ForwardKinematics, forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.tools.bench import random_poses

NAMES = ['body15', 'body17_h36m', 'hand21', 'toy_level1', 'toy_level4']


@pytest.mark.parametrize('name', NAMES)
def test_torch_matches_numpy_float64(name):
    sk = Skeleton.load(name)
    p = random_poses(sk, 16, np.random.default_rng(0))
    j_np, T_np = forward_kinematics_np(sk, p)
    j_t, T_t = ForwardKinematics(sk).double().forward_params(torch.tensor(p))
    np.testing.assert_allclose(j_t.numpy(), j_np, atol=1e-9)
    np.testing.assert_allclose(T_t.numpy(), T_np, atol=1e-9)


@pytest.mark.parametrize('name', ['body15', 'toy_level2'])
def test_gradcheck(name):
    sk = Skeleton.load(name)
    fk = ForwardKinematics(sk).double()
    p = torch.tensor(random_poses(sk, 2, np.random.default_rng(1)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: fk.forward_params(q)[0], (p,))
    s = torch.tensor([1.1, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda sc: fk.forward_params(p.detach(), scale=sc)[0],
                                    (s,))


@pytest.mark.parametrize('name', NAMES)
def test_bone_lengths_preserved_and_scaled(name):
    sk = Skeleton.load(name)
    p = random_poses(sk, 64, np.random.default_rng(2))
    scale = np.random.default_rng(3).uniform(0.7, 1.3, size=64)
    j, _ = forward_kinematics_np(sk, p, scale=scale)
    rest = sk.rest_bone_lengths()
    for b, (pa, c) in enumerate(sk.bones):
        np.testing.assert_allclose(np.linalg.norm(j[:, c] - j[:, pa], axis=1), rest[b] * scale,
                                   rtol=1e-12, atol=1e-12)


def test_paper_2d_example():
    """Eq. 2 on a 2-bone chain: p = Rot(t1) Trans(l) Rot(t2) Trans(l) O."""
    sk = Skeleton.load('toy_level1')
    x, y, t1, t2 = 10.0, 20.0, 0.3, -0.8
    j, _ = forward_kinematics_np(sk, np.array([[x, y, t1, t2]]))
    L = 45.0
    # bones point along +y at zero angle; a positive angle about z turns +y towards -x
    d1 = np.array([-np.sin(t1), np.cos(t1)])
    d2 = np.array([-np.sin(t1 + t2), np.cos(t1 + t2)])
    np.testing.assert_allclose(j[0, :, :2], [[x, y], [x, y] + L * d1, [x, y] + L * (d1 + d2)],
                               atol=1e-12)
    np.testing.assert_allclose(j[0, :, 2], 0.0)


def test_transforms_orientation_follows_the_limb():
    sk = Skeleton.load('body15')
    p = np.zeros((1, sk.num_params))
    p[0, 6 + sk.dof_names.index('l_shoulder_abduction')] = np.pi / 2  # T-pose left arm
    j, T = forward_kinematics_np(sk, p)
    n = sk.joint_names
    arm = j[0, n.index('l_hand')] - j[0, n.index('l_shoulder')]
    np.testing.assert_allclose(arm / np.linalg.norm(arm), [0, 1, 0], atol=1e-12)  # to the left
    np.testing.assert_allclose(T[0, n.index('l_elbow'), :3, 3], j[0, n.index('l_elbow')])
    R = T[0, :, :3, :3]
    np.testing.assert_allclose(R @ R.swapaxes(1, 2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)


def test_float32_and_shape_errors():
    sk = Skeleton.load('body15')
    fk = ForwardKinematics(sk)
    j, _ = fk.forward_params(torch.zeros(3, sk.num_params))
    assert j.dtype == torch.float32 and j.shape == (3, 15, 3)
    with pytest.raises(ValueError, match='joint_angles'):
        fk(torch.zeros(1, 3), torch.eye(3)[None], torch.zeros(1, 5))
    with pytest.raises(ValueError, match='params'):
        forward_kinematics_np(sk, np.zeros(sk.num_params))
