"""Tests for kinpose_ros.data.nyu: PNG depth packing, labels and the UVD -> XYZ frame."""
import numpy as np
import pytest

from kinpose_ros.data.nyu import (
    NYU_INTRINSICS,
    decode_nyu_depth,
    load_nyu_depth_png,
    load_nyu_uvd,
    nyu_uvd_to_xyz,
)


def test_decode_packs_green_high_and_blue_low(tmp_path):
    from PIL import Image

    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 3, 232)   # 3 * 256 + 232 = 1000 mm; red is ignored
    rgb[0, 1] = (0, 255, 255)   # 65535 mm
    rgb[1, 2] = (9, 0, 0)       # 0 = invalid
    depth = decode_nyu_depth(rgb)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth[0, :2], [1.0, 65.535], rtol=1e-6)
    assert np.isnan(depth[1, 2])
    Image.fromarray(rgb).save(tmp_path / 'd.png')
    np.testing.assert_array_equal(load_nyu_depth_png(tmp_path / 'd.png'), depth)
    with pytest.raises(ValueError, match='RGB'):
        decode_nyu_depth(np.zeros((2, 3), np.uint16))


def test_uvd_to_xyz_matches_the_a2j_formula_up_to_the_y_flip():
    uvd = np.array([[[169.2, 199.6, 736.4], [400.0, 300.0, 900.0]]])
    xyz = nyu_uvd_to_xyz(uvd)
    # A2J: x = (u - 320) z / 588.03, y = (v - 240) z / -587.07 in mm, y up
    a2j = np.stack([(uvd[..., 0] - 320) * uvd[..., 2] / 588.03,
                    (uvd[..., 1] - 240) * uvd[..., 2] / -587.07, uvd[..., 2]], -1)
    np.testing.assert_allclose(xyz * 1000 * [1, -1, 1], a2j, rtol=1e-12)
    np.testing.assert_allclose(NYU_INTRINSICS.project(xyz), uvd[..., :2], atol=1e-9)


def test_labels_sit_on_the_hand_in_the_test_frame(shared_data):
    depth = load_nyu_depth_png(shared_data / 'real_depth' / 'nyu_hand_test_000001_depth.png')
    assert depth.shape == (480, 640)
    uvd = load_nyu_uvd(shared_data / 'a2j' / 'nyu_keypointsUVD_test.mat')
    assert uvd.shape == (8252, 14, 3)
    joints = uvd[0]
    cols = np.round(joints[:, 0]).astype(int)
    rows = np.round(joints[:, 1]).astype(int)
    surface = depth[rows, cols]
    assert np.isfinite(surface).all()
    # joint centres lie a little behind the skin: label z vs surface within a few cm
    diff = joints[:, 2] / 1000 - surface
    assert np.mean(np.abs(diff) < 0.04) >= 0.8
    assert 0.5 < np.median(surface) < 1.0
    xyz = nyu_uvd_to_xyz(joints)
    assert np.all(xyz[:, 2] > 0.5) and np.ptp(xyz[:, 0]) < 0.25  # a hand, in metres
    with pytest.raises(KeyError, match='keypoints3D'):
        load_nyu_uvd(shared_data / 'a2j' / 'nyu_keypointsUVD_test.mat', key='joint_uvd')
