import numpy as np
import pytest
import torch

from kinpose_ros.core import rotations as r


def random_axis_angle(n, rng):
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return axis * rng.uniform(0, np.pi - 1e-3, size=(n, 1))


def test_axis_angle_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    aa = random_axis_angle(500, rng)
    R = r.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(R @ R.swapaxes(1, 2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    np.testing.assert_allclose(r.matrix_to_axis_angle(R), aa, atol=1e-9)
    Rt = r.axis_angle_to_matrix(torch.tensor(aa))
    np.testing.assert_allclose(Rt.numpy(), R, atol=1e-12)


def test_quaternion_order_is_xyzw_and_round_trips():
    q = r.axis_angle_to_quaternion(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(q, [0, 0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)
    rng = np.random.default_rng(1)
    R = r.axis_angle_to_matrix(random_axis_angle(300, rng))
    q = r.matrix_to_quaternion(R)
    assert np.all(q[:, 3] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(r.quaternion_to_matrix(q), R, atol=1e-12)
    # near-180-degree rotations use the other branches of the conversion
    R180 = r.axis_angle_to_matrix(np.array([[np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi]]))
    np.testing.assert_allclose(r.quaternion_to_matrix(r.matrix_to_quaternion(R180)), R180,
                               atol=1e-12)


def test_rotation_6d_round_trip_and_gram_schmidt():
    rng = np.random.default_rng(2)
    R = r.axis_angle_to_matrix(random_axis_angle(100, rng))
    np.testing.assert_allclose(r.rotation_6d_to_matrix(r.matrix_to_rotation_6d(R)), R,
                               atol=1e-12)
    M = r.rotation_6d_to_matrix(rng.normal(size=(100, 6)))
    np.testing.assert_allclose(M @ M.swapaxes(1, 2), np.broadcast_to(np.eye(3), M.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(M), 1.0, atol=1e-9)


def test_gradients_finite_at_identity():
    x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    r.axis_angle_to_matrix(x).sum().backward()
    assert torch.all(torch.isfinite(x.grad))
    x = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(r.axis_angle_to_matrix, (x,))


def test_shape_errors():
    with pytest.raises(ValueError, match='axis_angle'):
        r.axis_angle_to_matrix(np.zeros((2, 4)))
    with pytest.raises(TypeError):
        r.axis_angle_to_matrix([0.0, 0.0, 0.0])
