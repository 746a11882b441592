"""The A2J + kinematic head hybrid: exact in-graph unprojection, a frozen A2J part, initial
weights from an A2J checkpoint, export and the estimator."""
import numpy as np
import pytest
import torch

from kinpose_ros.core.camera import SENSOR_PRESETS
from kinpose_ros.core.depth import CropInfo
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.crop_geometry import crop_centres, crop_pixel_scales, geometry_planes
from kinpose_ros.nets.checkpoint import build_model, save_checkpoint
from kinpose_ros.nets.hybrid import PLANES, A2JKinematic
from kinpose_ros.training.trainer import load_initial_weights

torch.set_num_threads(1)
SK = Skeleton.load('body15')
K = SENSOR_PRESETS['itop']
TINY = {'width': 0.125, 'head_width': 16, 'head_depth': 1, 'hidden': 32}


def _net(**kw) -> A2JKinematic:
    torch.manual_seed(0)
    return A2JKinematic(SK, (64, 64), **{**TINY, **kw})


def test_unproject_matches_the_crop_geometry_exactly():
    info = CropInfo((150.0, 40.0, 230.0, 120.0), (64, 64), center_depth_m=3.2)
    centre = crop_centres([info], K)
    planes = geometry_planes(centre, list(PLANES), pixel_scale=crop_pixel_scales([info], K))
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 64, (1, 15, 2))
    z = rng.uniform(-20, 20, (1, 15))  # 2 cm units about the centre depth
    got = _net().unproject(torch.tensor(uv), torch.tensor(z), torch.tensor(planes))[0].numpy()
    expected = K.unproject(info.crop_to_image(uv[0]), 3.2 + 0.02 * z[0]) - centre[0]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_frozen_a2j_part_stays_fixed_while_the_head_trains():
    net = _net()
    a2j_before = {k: v.clone() for k, v in net.a2j.state_dict().items()}
    head_before = net.mlp[0].weight.clone()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    net.train()
    assert not net.a2j.training  # batch-norm statistics are frozen too
    x = torch.rand(4, 6, 64, 64)
    x[:, 3] = 0.8  # centre depth plane: 3.2 m
    x[:, 4:] = 0.004
    loss = net.loss(net(x), target_joints=torch.zeros(4, 15, 3))
    opt.zero_grad()
    loss.backward()
    opt.step()
    for k, v in net.a2j.state_dict().items():
        assert torch.equal(v, a2j_before[k]), k
    assert not torch.equal(net.mlp[0].weight, head_before)


def test_build_model_initial_weights_and_bad_configs(tmp_path):
    cfg = {'input_size': [64, 64], 'in_channels': 6, 'trunk': 'a2j', 'geometry_inputs': 5,
           **TINY}
    net = build_model('kinematic', cfg, SK)
    assert isinstance(net, A2JKinematic) and net.output_names[0] == 'joints'
    a2j = build_model('a2j', {'input_size': [64, 64], 'in_channels': 1, 'width': 0.125,
                              'head_width': 16, 'head_depth': 1}, SK)
    path = save_checkpoint(tmp_path / 'a2j.pt', a2j, 'a2j', {}, SK)
    assert load_initial_weights(net, path, 'a2j.') == len(a2j.state_dict())
    for k, v in a2j.state_dict().items():
        assert torch.equal(net.a2j.state_dict()[k], v)
    with pytest.raises(ValueError, match='do not fit'):
        load_initial_weights(net, path, 'mlp.')
    with pytest.raises(FileNotFoundError, match='train that run first'):
        load_initial_weights(net, tmp_path / 'missing.pt', 'a2j.')
    with pytest.raises(ValueError, match='in_channels 6'):
        A2JKinematic(SK, (64, 64), in_channels=4, geometry_inputs=3)
    with pytest.raises(ValueError, match='family kinematic'):
        build_model('direct_joint', cfg, SK)


def test_config_requires_the_hybrid_planes():
    from kinpose_ros.training.config import TrainConfig

    base = {'model': {'family': 'kinematic', 'input_size': [64, 64], 'in_channels': 4,
                      'args': {'trunk': 'a2j', 'geometry_inputs': 3}},
            'normalisation': {'planes': ['ray_x', 'ray_y', 'centre_depth']},
            'data': {'source': 'fabricated', 'samples': 4}}
    with pytest.raises(ValueError, match="trunk 'a2j'"):
        TrainConfig.from_dict(base)


def test_hybrid_exports_and_runs_in_the_estimator(tmp_path):
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator
    from kinpose_ros.inference.model_card import ModelCard
    from kinpose_ros.inference.model_export import export_model
    from kinpose_ros.inference.sample_frames import person_params, sample_frame

    cfg = {'input_size': [64, 64], 'in_channels': 6, 'trunk': 'a2j', 'geometry_inputs': 5,
           **TINY}
    net = build_model('kinematic', cfg, SK).eval()
    fields = {'input': {'normalisation': {'center': 'proposal_centroid'}, 'planes': list(PLANES)},
              'crop': {'box': 'proposal_box', 'margin': 0.1}}
    report = export_model(net, 'kinematic', cfg, SK, tmp_path / 'hybrid.onnx',
                          card_fields=fields, check=True)
    assert max(report.max_abs_error.values()) < 1e-3 and report.tensorrt_ok
    card = ModelCard.load(report.card_path)
    assert card.input.channels == 6 and card.angles == 'native'
    assert [o.name for o in card.outputs][-1] == 'confidence'
    rng = np.random.default_rng(1)
    frame = sample_frame(K, np.array([person_params(SK, -0.3, 2.8, 0.2, 1.0, rng, 0.2)]), SK)
    est = PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu', threads=1))
    people = est(frame.depth_m, K, stamp=0.0).people
    assert len(people) == 1 and np.isfinite(people[0].joints_xyz).all()
    assert not np.allclose(people[0].confidence, people[0].confidence[0])  # A2J's, per joint


def test_canonical_body_frame_is_the_true_root_pose():
    from kinpose_ros.core.kinematics import forward_kinematics_np
    from kinpose_ros.core.rotations import axis_angle_to_matrix

    net = _net(canonical=True, root_init='identity', scale_range=(0.7, 1.3))
    rng = np.random.default_rng(0)
    params = np.zeros((4, SK.num_params))
    params[:, :3] = rng.normal(0.0, 1.0, (4, 3))
    params[:, 3:6] = rng.normal(0.0, 1.0, (4, 3))
    params[:, 6:] = np.clip(rng.normal(0.0, 0.3, (4, SK.num_dofs)), SK.dof_lower, SK.dof_upper)
    joints = forward_kinematics_np(SK, params)[0]
    r0, t0 = net.body_frame(torch.from_numpy(joints).float())
    np.testing.assert_allclose(r0.numpy(), axis_angle_to_matrix(params[:, 3:6]), atol=1e-5)
    np.testing.assert_allclose(t0.numpy(), params[:, :3], atol=1e-6)
    # the untrained head (rest pose relative to that frame) already has the true root pose
    x = torch.zeros(4, 6, 64, 64)
    out = net.decode_params(torch.zeros(4, net.mlp[-1].out_features) + net.mlp[-1].bias, r0, t0)
    np.testing.assert_allclose(out['root_rotation'].detach().numpy(), r0.numpy(), atol=1e-5)
    assert x.shape[1] == net.in_channels
    with pytest.raises(ValueError, match="root_init 'identity'"):
        _net(canonical=True)
