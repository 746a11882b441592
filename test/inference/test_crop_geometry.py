"""Crop rules and decode rules of the model card, on known boxes and points."""
from types import SimpleNamespace

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS
from kinpose_ros.inference.crop_geometry import crop_boxes, decode_outputs, make_crops
from kinpose_ros.inference.model_card import CropRule, InputSpec, ModelCard, family_outputs

K = SENSOR_PRESETS['itop']


def card(family='a2j', **crop) -> ModelCard:
    return ModelCard(name='c', family=family, skeleton='body15', input=InputSpec(height=32,
                     width=32), outputs=family_outputs(family, 15, 22), crop=CropRule(**crop))


def proposal(box, centroid):
    return SimpleNamespace(box_xyxy=np.array(box, float), centroid_xyz=np.array(centroid, float))


def test_proposal_box_margin_then_square():
    props = [proposal([10, 20, 30, 60], [0, 0, 2])]
    np.testing.assert_allclose(crop_boxes(props, K, card(margin=0.1)), [[8, 16, 32, 64]])
    depth = np.full((K.height, K.width), 2.0, np.float32)
    crops, infos = make_crops(depth, K, props, card(margin=0.1))
    assert crops.shape == (1, 1, 32, 32)
    np.testing.assert_allclose(infos[0].box_xyxy, [-4, 16, 44, 64])  # grown to a square
    assert infos[0].center_depth_m == 2.0
    # crop columns 0-2 sample x < 0, outside the image: the fill value; the rest sit at the centre
    np.testing.assert_array_equal(crops[0, 0, :, :3], 1.0)
    np.testing.assert_array_equal(crops[0, 0, :, 3:], 0.0)


def test_metric_cube_and_centroid_normalisation():
    c = card(box='metric_cube', cube_size_m=1.0)
    c.input.normalisation.center = 'proposal_centroid'
    props = [proposal([0, 0, 1, 1], [0.0, 0.0, 2.5])]
    side = 1.0 * K.fx / 2.5
    expect = [K.cx + 0.5 - side / 2, K.cy + 0.5 - side / 2, K.cx + 0.5 + side / 2,
              K.cy + 0.5 + side / 2]
    np.testing.assert_allclose(crop_boxes(props, K, c), [expect])
    depth = np.full((K.height, K.width), 3.0, np.float32)
    crops, infos = make_crops(depth, K, props, c)
    assert infos[0].center_depth_m == 2.5  # from the centroid, not the pixels
    np.testing.assert_allclose(crops, 0.5)  # (3.0 - 2.5) / 1.0


def test_decode_rules_recover_camera_points():
    pts = np.array([[[0.1, -0.2, 2.4], [-0.3, 0.4, 2.9]] + [[0.0, 0.0, 2.6]] * 13])
    props = [proposal([120, 60, 200, 220], [0.0, 0.0, 2.6])]
    depth = np.full((K.height, K.width), 2.6, np.float32)
    a2j = card('a2j')
    _, infos = make_crops(depth, K, props, a2j)
    info = infos[0]
    uv = info.image_to_crop(K.project(pts[0]))[None]
    z = info.normalise_depth(pts[0, :, 2])[None]
    dec = decode_outputs({'uv': uv, 'z': z, 'confidence': np.full((1, 15), 2.0)}, infos, K, a2j)
    np.testing.assert_allclose(dec.joints_xyz, pts, atol=1e-9)
    assert np.all(dec.confidence == 1.0)  # clipped to [0, 1]
    kin = card('direct_joint')
    centre = dec.centre_xyz[0]
    x0, y0, x1, y1 = info.box_xyxy
    np.testing.assert_allclose(centre, K.unproject(np.array([(x0 + x1) / 2 - 0.5,
                                                             (y0 + y1) / 2 - 0.5]), 2.6))
    dec2 = decode_outputs({'joints': pts - centre}, infos, K, kin)
    np.testing.assert_allclose(dec2.joints_xyz, pts, atol=1e-12)
    np.testing.assert_allclose(dec2.joints_uv, K.project(pts), atol=1e-9)
    assert np.all(dec2.confidence == 1.0)


def test_uvz_decode_matches_the_crop_methods_per_person_and_handles_no_depth():
    from kinpose_ros.core.depth import CropInfo

    a2j = card('a2j')
    rng = np.random.default_rng(1)
    infos = [CropInfo((10.0, 20.0, 90.0, 180.0), (64, 64), 2.5, 0.8),
             CropInfo((150.5, 30.0, 230.0, 230.0), (64, 64), 4.1, 1.2),
             CropInfo((5.0, 5.0, 60.0, 100.0), (64, 64), float('nan'), 1.0)]  # no valid pixel
    uv = rng.uniform(0, 64, (3, 15, 2)).astype(np.float32)
    z = rng.uniform(-1, 1, (3, 15)).astype(np.float32)
    conf = rng.uniform(-0.5, 1.5, (3, 15)).astype(np.float32)
    conf[0, 0] = np.nan
    dec = decode_outputs({'uv': uv, 'z': z, 'confidence': conf}, infos, K, a2j)
    for i, ci in enumerate(infos[:2]):
        uv_img = ci.crop_to_image(uv[i].astype(np.float64))
        depth = ci.denormalise_depth(z[i].astype(np.float64))
        np.testing.assert_allclose(dec.joints_uv[i], uv_img, rtol=1e-12)
        np.testing.assert_allclose(dec.joints_xyz[i], K.unproject(uv_img, depth), rtol=1e-12)
    assert np.isnan(dec.joints_xyz[2]).all() and np.isnan(dec.centre_xyz[2]).all()
    assert dec.confidence[0, 0] == 0.0
    np.testing.assert_array_equal(dec.confidence[:, 1:],
                                  np.clip(conf[:, 1:].astype(np.float64), 0.0, 1.0))
    empty = decode_outputs({'uv': np.zeros((0, 15, 2)), 'z': np.zeros((0, 15)),
                            'confidence': np.zeros((0, 15))}, [], K, a2j)
    assert empty.joints_xyz.shape == (0, 15, 3) and empty.centre_xyz.shape == (0, 3)
