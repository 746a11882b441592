"""Geometry planes: config and card validation, and the kinematic net's use of them."""
import numpy as np
import pytest
import torch

from kinpose_ros.inference.crop_geometry import geometry_planes
from kinpose_ros.inference.model_card import InputSpec
from kinpose_ros.nets.kinematic import KinematicRegressor
from kinpose_ros.training.config import TrainConfig


def _config(planes, in_channels, geometry_inputs, family='kinematic'):
    return {'model': {'family': family, 'input_size': [64, 64], 'in_channels': in_channels,
                      'args': {'width': 0.125, 'geometry_inputs': geometry_inputs}},
            'normalisation': {'crop': 'metric_cube', 'planes': planes},
            'data': {'source': 'fabricated', 'samples': 4}}


def test_config_accepts_consistent_planes_and_rejects_the_rest():
    TrainConfig.from_dict(_config(['ray_x', 'ray_y', 'centre_depth'], 4, 3))
    with pytest.raises(ValueError, match='in_channels 4'):
        TrainConfig.from_dict(_config(['ray_x', 'ray_y', 'centre_depth'], 1, 3))
    with pytest.raises(ValueError, match='distinct names'):
        TrainConfig.from_dict(_config(['ray_z'], 2, 1))
    with pytest.raises(ValueError, match='name the planes'):
        TrainConfig.from_dict(_config([], 2, 1))
    a2j = _config(['centre_depth'], 2, 1, family='a2j')
    a2j['model']['args'] = {'width': 0.125}
    with pytest.raises(ValueError, match='kinematic'):
        TrainConfig.from_dict(a2j)


def test_card_input_validation_names_plane_problems(tmp_path):
    from kinpose_ros.inference.model_card import ModelCard

    card = ModelCard.load('models/a2j_body15.json')
    assert card.input.planes == [] and not card.problems()
    card.input = InputSpec(channels=2, height=128, width=128,
                           normalisation=card.input.normalisation, planes=['centre_depth'])
    assert not [p for p in card.problems() if 'input' in p]
    card.input.channels = 3
    assert any('input.channels' in p for p in card.problems())
    card.input.planes = ['depth']
    assert any('input.planes' in p for p in card.problems())


def test_plane_values_follow_the_crop_rotation():
    c = np.array([[1.0, -0.5, 2.0], [0.0, 0.0, np.nan]])
    v = geometry_planes(c, ['ray_x', 'ray_y', 'centre_depth'])
    np.testing.assert_allclose(v[0], [0.5, -0.25, 0.5])
    np.testing.assert_array_equal(v[1], [0.0, 0.0, 0.0])  # no depth: zeros, not NaN
    turned = geometry_planes(c[:1], ['ray_x', 'ray_y'], np.pi / 2)
    np.testing.assert_allclose(turned[0], [-0.25, -0.5], atol=1e-12)  # rotated by -90 degrees


def test_kinematic_net_reads_the_planes_in_its_head_not_its_backbone():
    torch.manual_seed(0)
    net = KinematicRegressor('body15', width=0.125, in_channels=4, hidden=16,
                             scale_range=(0.7, 1.3), geometry_inputs=3).eval()
    first_conv = next(m for m in net.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 1
    with torch.no_grad():
        net.mlp[-1].weight.normal_(std=0.1)
    x = torch.rand(2, 4, 64, 64)
    with torch.no_grad():
        a = net(x)['joints']
        x2 = x.clone()
        x2[:, 3] += 0.5  # another centre depth, same depth image
        b = net(x2)['joints']
    assert a.shape == (2, 15, 3) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match='geometry_inputs'):
        KinematicRegressor('body15', width=0.125, in_channels=1, geometry_inputs=1)


def test_planes_model_exports_and_runs_in_the_estimator(tmp_path):
    """A kinematic model with geometry planes through ONNX export, ONNX Runtime and the
    estimator: the card names the planes and the estimator builds 4-channel crops."""
    from kinpose_ros.core.camera import SENSOR_PRESETS
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator
    from kinpose_ros.inference.model_card import ModelCard
    from kinpose_ros.inference.model_export import export_model
    from kinpose_ros.inference.sample_frames import person_params, sample_frame
    from kinpose_ros.nets.checkpoint import build_model
    from kinpose_ros.training.families import card_fields, model_config

    cfg = TrainConfig.from_dict(_config(['ray_x', 'ray_y', 'centre_depth'], 4, 3))
    sk = Skeleton.load('body15')
    torch.manual_seed(0)
    mc = model_config(cfg)
    model = build_model('kinematic', mc, sk).eval()
    report = export_model(model, 'kinematic', mc, sk, tmp_path / 'geo.onnx',
                          card_fields=card_fields(cfg), check=True)
    assert max(report.max_abs_error.values()) < 1e-3
    card = ModelCard.load(report.card_path)
    assert card.input.channels == 4 and card.input.planes == ['ray_x', 'ray_y', 'centre_depth']
    k = SENSOR_PRESETS['itop']
    rng = np.random.default_rng(0)
    frame = sample_frame(k, np.array([person_params(sk, 0.4, 3.0, 0.0, 1.0, rng, 0.2)]), sk)
    est = PoseEstimator(card, EstimatorConfig(backend='onnxruntime-cpu', threads=1))
    result = est(frame.depth_m, k, stamp=0.0)
    assert len(result.people) == 1
    person = result.people[0]
    assert np.isfinite(person.joints_xyz).all() and person.joint_angles is not None
