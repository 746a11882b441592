"""Training crops match the estimator's crops, and their targets decode back to the labels."""
import numpy as np
import pytest

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.model_export import build_card
from kinpose_ros.training.config import TrainConfig
from kinpose_ros.training.cropping import CropGeometry
from kinpose_ros.training.dataset import PersonCropDataset, make_sample
from kinpose_ros.training.fabricated import FabricatedSource
from kinpose_ros.training.families import card_fields, model_config
from kinpose_ros.training.model_eval import crop_people, decode_outputs

SK = Skeleton.load('body15')


def _cfg(family: str, crop: str, center: str, planes: tuple = ()) -> TrainConfig:
    args = ({'width': 0.125, 'head_width': 16, 'head_depth': 1} if family == 'a2j'
            else {'width': 0.125, 'hidden': 16, 'geometry_inputs': len(planes)})
    cfg = TrainConfig.from_dict({
        'model': {'family': family, 'input_size': [64, 48], 'args': args,
                  'in_channels': 1 + len(planes)},
        'normalisation': {'crop': crop, 'center': center, 'planes': list(planes)},
        'data': {'source': 'fabricated', 'samples': 4, 'synth': {'size': [96, 72]}}})
    cfg.augment.enabled = False
    return cfg


@pytest.mark.parametrize('family,crop,center,planes', [
    ('a2j', 'proposal_box', 'proposal_centroid', ()),
    ('a2j', 'proposal_box', 'crop_median', ()),
    ('kinematic', 'metric_cube', 'proposal_centroid', ()),
    ('kinematic', 'metric_cube', 'proposal_centroid', ('ray_x', 'ray_y', 'centre_depth')),
    ('direct_joint', 'metric_cube', 'crop_median', ('centre_depth',)),
    ('kinematic', 'proposal_box', 'proposal_centroid',
     ('ray_x', 'ray_y', 'centre_depth', 'px_scale_x', 'px_scale_y'))])
def test_unaugmented_sample_is_the_runtime_crop_and_decodes_to_the_labels(family, crop, center,
                                                                          planes):
    cfg = _cfg(family, crop, center, planes)
    card = build_card('t', family, model_config(cfg), SK, card_fields(cfg),
                      {'dynamic': True, 'max': 4}, '', 17, '')
    source = FabricatedSource(SK, seed=3, size=(96, 72))
    for i in range(3):
        frame = source.frame(i)
        crops, infos, _ = crop_people(frame, card)
        sample = make_sample(frame, cfg, np.random.default_rng(0))
        assert crops.shape[1] == 1 + len(planes)
        np.testing.assert_array_equal(crops[0], sample['input'])  # bit for bit
        if planes:  # constant planes holding the crop centre's ray / depth
            k, box = frame.intrinsics, np.asarray(infos[0].box_xyxy, dtype=np.float64)
            centre = k.unproject(0.5 * (box[:2] + box[2:]) - 0.5, infos[0].center_depth_m)
            want = {'ray_x': centre[0] / centre[2], 'ray_y': centre[1] / centre[2],
                    'centre_depth': centre[2] / 4.0,
                    'px_scale_x': (box[2] - box[0]) / crops.shape[3] / k.fx,
                    'px_scale_y': (box[3] - box[1]) / crops.shape[2] / k.fy}
            for p, name in enumerate(planes, start=1):
                np.testing.assert_allclose(crops[0, p], want[name], rtol=1e-6)
        outputs = {o.name: np.zeros([1] + o.shape[1:], np.float32) for o in card.outputs}
        outputs.update({k: sample[k][None] for k in ('uv', 'z', 'joints') if k in outputs})
        xyz = decode_outputs(card, outputs, infos, frame.intrinsics)
        np.testing.assert_allclose(xyz[0], frame.people[0].joints_xyz, atol=1e-5)


def test_a2j_z_target_is_in_2cm_units_and_the_card_scale_matches():
    cfg = _cfg('a2j', 'proposal_box', 'proposal_centroid')
    fields = card_fields(cfg)
    assert fields['output_scales']['z'] == pytest.approx(1.0 / 0.02)
    frame = FabricatedSource(SK, seed=1, size=(96, 72)).frame(0)
    sample = make_sample(frame, cfg, np.random.default_rng(0))
    z = frame.people[0].joints_xyz[:, 2]
    # differences between joints do not depend on the centre: 1 unit = 2 cm
    np.testing.assert_allclose(np.diff(sample['z']), np.diff(z) / 0.02, atol=1e-3)


@pytest.mark.parametrize('rotation_deg', [0.0, 30.0, -45.0])
def test_rotated_crop_target_points_at_the_pixel_it_samples(rotation_deg):
    """A marker pixel at a known image point lands in the crop where image_to_crop puts it."""
    depth = np.full((80, 100), 3.0, np.float32)
    geom = CropGeometry.from_box(np.array([30.0, 20.0, 60.0, 50.0]), (48, 48), zoom=1.1,
                                 rotation=np.radians(rotation_deg))
    for uv in ([40.0, 30.0], [50.0, 42.0], [38.0, 44.0]):
        marked = depth.copy()
        marked[int(uv[1]), int(uv[0])] = 1.0
        crop = geom.sample(marked)
        hits = np.argwhere(crop == 1.0)
        assert len(hits) >= 1
        target = geom.image_to_crop(np.array(uv))
        # the marker is 1.76 x 1.76 crop pixels (turned): hits lie within 1.25 px of its centre
        assert np.linalg.norm(hits[:, ::-1] - target, axis=1).max() <= 1.25


def test_rotation_turns_camera_offsets_like_crop_pixels():
    k = Intrinsics(100, 80, 90.0, 90.0, 49.5, 39.5)
    geom = CropGeometry.from_box(np.array([30.0, 20.0, 70.0, 60.0]), (40, 40),
                                 rotation=np.radians(25.0))
    centre = geom.centre_point(3.0, k)
    point = centre + np.array([0.2, -0.1, 0.0])
    uv = geom.image_to_crop(k.project(point))
    rel = geom.offsets_to_crop((point - centre)[:2])
    # near the optical axis, a crop pixel offset is the rotated metric offset times f*s/z
    np.testing.assert_allclose(uv - (np.array([40, 40]) / 2 - 0.5), rel * 90.0 / 3.0, atol=0.05)


def test_dataset_is_deterministic_per_seed_epoch_and_index():
    cfg = _cfg('a2j', 'proposal_box', 'proposal_centroid')
    cfg.augment.enabled = True
    ds = PersonCropDataset(FabricatedSource(SK, seed=0, size=(96, 72)), cfg)
    a, b = ds[1], ds[1]
    for key in a:
        assert np.array_equal(a[key].numpy(), b[key].numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[1]['input'].numpy(), a['input'].numpy())
    assert a['input'].shape == (1, 64, 48) and a['uv'].shape == (15, 2)  # input_size is (H, W)
