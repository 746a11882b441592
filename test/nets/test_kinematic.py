"""KinematicRegressor: valid skeletons by construction, FK wiring, losses, ONNX incl. FK."""
import numpy as np
import pytest
import torch

from kinpose_ros.core.kinematics import forward_kinematics_np
from kinpose_ros.core.rotations import matrix_to_axis_angle
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.nets.export import INPUT_NAME, export_onnx
from kinpose_ros.nets.kinematic import KinematicRegressor, joint_loss

torch.set_num_threads(1)
SIZE = (1, 64, 64)


@pytest.fixture(scope='module')
def body15() -> Skeleton:
    return Skeleton.load('body15')


def make(skeleton, mode='kinematic', head_std=0.5, **kw) -> KinematicRegressor:
    torch.manual_seed(0)
    net = KinematicRegressor(skeleton, width=0.25, hidden=32, mode=mode, **kw).eval()
    with torch.no_grad():  # a head far from its rest-pose start
        net.mlp[-1].weight.normal_(0.0, head_std)
    return net


def bone_lengths(sk: Skeleton, joints: np.ndarray) -> np.ndarray:
    return np.array([[np.linalg.norm(j[c] - j[p]) for p, c in sk.bones] for j in joints])


def test_output_shapes_per_mode(body15):
    x = torch.randn(2, *SIZE)
    J, D = body15.num_joints, body15.num_dofs
    for mode in ('kinematic', 'direct_parameter'):
        with torch.no_grad():
            out = make(body15, mode)(x)
        assert out['joints'].shape == (2, J, 3) and out['joint_angles'].shape == (2, D)
        assert out['root_translation'].shape == (2, 3)
        assert out['root_rotation'].shape == (2, 3, 3)
        assert out['transforms'].shape == (2, J, 4, 4)
    with torch.no_grad():
        out = make(body15, 'direct_joint')(x)
    assert out['joints'].shape == (2, J, 3) and out['joint_angles'] is None


def test_extreme_logits_stay_within_limits_and_rotations_stay_valid(body15):
    net = make(body15, head_std=1e4)
    with torch.no_grad():
        out = net(torch.randn(3, *SIZE) * 10)
    angles = out['joint_angles'].numpy()
    assert np.isfinite(angles).all() and np.isfinite(out['joints'].numpy()).all()
    assert (angles >= body15.dof_lower - 1e-6).all() and (angles <= body15.dof_upper + 1e-6).all()
    R = out['root_rotation'].double()
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3, dtype=R.dtype).expand(3, 3, 3),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(3, dtype=R.dtype), atol=1e-5,
                               rtol=0)


def test_any_output_has_the_skeletons_bone_lengths(body15):
    with torch.no_grad():
        out = make(body15)(torch.randn(4, *SIZE))
        scaled = make(body15, scale_range=(0.8, 1.2), head_std=5.0)(torch.randn(4, *SIZE))
    rest = body15.rest_bone_lengths()
    np.testing.assert_allclose(bone_lengths(body15, out['joints'].numpy()),
                               np.broadcast_to(rest, (4, len(rest))), atol=1e-5)
    s = scaled['scale'].numpy()
    assert ((s > 0.8) & (s < 1.2)).all()
    np.testing.assert_allclose(bone_lengths(body15, scaled['joints'].numpy()),
                               s[:, None] * rest, atol=1e-5)


def test_joints_equal_numpy_fk_of_the_predicted_parameters(body15):
    with torch.no_grad():
        out = make(body15)(torch.randn(2, *SIZE))
    params = np.concatenate([out['root_translation'].numpy(),
                             matrix_to_axis_angle(out['root_rotation'].double().numpy()),
                             out['joint_angles'].numpy()], axis=1)
    joints, _ = forward_kinematics_np(body15, params.astype(np.float64))
    np.testing.assert_allclose(out['joints'].numpy(), joints, atol=1e-5)


def test_rest_pose_at_initialisation(body15):
    net = make(body15, head_std=0.0)
    with torch.no_grad():
        out = net(torch.randn(1, *SIZE))
    expected = np.clip(0.0, body15.dof_lower, body15.dof_upper)
    span = body15.dof_upper - body15.dof_lower
    assert (np.abs(out['joint_angles'][0].numpy() - expected) <= 2e-3 * span + 1e-6).all()
    torch.testing.assert_close(out['root_rotation'][0], torch.eye(3))


def test_facing_camera_start_is_an_upright_person_facing_the_camera(body15):
    """root_init='facing_camera': in the optical frame (x right, y down, z forward) the untrained
    net predicts the head above the feet and the person's left on the image's right."""
    net = make(body15, head_std=0.0, root_init='facing_camera')
    with torch.no_grad():
        out = net(torch.randn(1, *SIZE))
    j = dict(zip(body15.joint_names, out['joints'][0].numpy()))
    R = out['root_rotation'][0].numpy()
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-6)
    assert j['head'][1] < j['neck'][1] < j['torso'][1] < j['l_knee'][1] < j['l_foot'][1]
    assert j['l_foot'][1] - j['head'][1] > 1.2
    assert j['l_shoulder'][0] > j['r_shoulder'][0] + 0.2 and j['l_hip'][0] > j['r_hip'][0]
    assert abs(j['head'][2] - j['l_foot'][2]) < 0.1  # upright: no extent along the optical axis
    with pytest.raises(ValueError, match='root_init'):
        KinematicRegressor(body15, width=0.25, root_init='lying')


def test_spatial_head_input_is_a_grid_of_reduced_features(body15):
    """spatial=k: the MLP reads spatial_channels x k x k values (a grid keeping where features
    are), spatial=0 the globally pooled layer-4 channels; both give valid skeletons."""
    x = torch.randn(2, *SIZE)
    for spatial, n_in in ((0, None), (2, 16 * 2 * 2)):
        net = make(body15, spatial=spatial, spatial_channels=16)
        if n_in is None:
            n_in = net.backbone.channels[1]
            assert net.reduce is None
        assert net.mlp[0].in_features == n_in
        with torch.no_grad():
            out = net(x)
        assert out['joints'].shape == (2, body15.num_joints, 3)
        assert torch.isfinite(out['joints']).all()
    with pytest.raises(ValueError, match='spatial'):
        KinematicRegressor(body15, width=0.25, spatial=-1)


def test_planar_root_rotates_about_its_axis_only():
    toy = Skeleton.load('toy_level2')
    with torch.no_grad():
        out = make(toy, head_std=2.0)(torch.randn(3, *SIZE))
    R = out['root_rotation']
    torch.testing.assert_close(R[:, 2], torch.tensor([0.0, 0.0, 1.0]).expand(3, 3))
    assert float(out['joints'][..., 2].abs().max()) < 1e-4  # the chain stays in the image plane
    assert float(out['root_translation'][:, 2].abs().max()) == 0.0


def test_losses_and_gradients(body15):
    x = torch.randn(2, *SIZE)
    target = torch.randn(2, body15.num_joints, 3)
    for mode in ('kinematic', 'direct_joint'):
        net = make(body15, mode).train()
        out = net(x)
        loss = net.loss(out, target_joints=target)
        expected = 0.5 * ((out['joints'] - target) ** 2).sum() / 2
        torch.testing.assert_close(loss, expected)
        loss.backward()
        assert float(net.backbone.conv1.weight.grad.abs().sum()) > 0
    net = make(body15, 'direct_parameter').train()
    out = net(x)
    own = torch.cat([out['root_translation'], matrix_to_axis_angle(out['root_rotation']),
                     out['joint_angles']], dim=1).detach()
    assert float(net.loss(out, target_params=own).detach()) < 1e-8
    shifted = own.clone()
    shifted[:, 0] += 1.0  # 1 unit of root x in both samples: 0.5 * 1
    loss = net.loss(out, target_params=shifted)
    assert float(loss.detach()) == pytest.approx(0.5, abs=1e-5)
    loss.backward()
    assert float(net.backbone.conv1.weight.grad.abs().sum()) > 0


def test_bad_arguments(body15):
    with pytest.raises(ValueError, match='mode'):
        KinematicRegressor(body15, mode='joint')
    net = make(body15, 'direct_parameter')
    out = net(torch.randn(1, *SIZE))
    with pytest.raises(ValueError, match='target_params'):
        net.loss(out, target_joints=torch.zeros(1, body15.num_joints, 3))
    with pytest.raises(ValueError, match='target_joints'):
        joint_loss(out['joints'], torch.zeros(1, 3, 3))


@pytest.mark.parametrize('spatial', [0, 2])
def test_onnx_round_trip_with_forward_kinematics(body15, tmp_path, spatial):
    ort = pytest.importorskip('onnxruntime')
    net = make(body15, spatial=spatial)
    path = tmp_path / 'kinematic.onnx'
    names = export_onnx(net, path, torch.randn(1, *SIZE))
    assert names == ('joints', 'root_translation', 'root_rotation', 'joint_angles')
    x = torch.randn(2, *SIZE)
    got = ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).run(
        None, {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        ref = net.export_forward(x)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)
