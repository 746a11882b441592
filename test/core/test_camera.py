"""Tests for kinpose_ros.core.camera: intrinsics constructors, projection, presets."""
import numpy as np
import pytest

from kinpose_ros.core.camera import (
    SENSOR_PRESETS,
    Intrinsics,
    depth_to_points,
    project,
    unproject,
)

CAM = Intrinsics(640, 480, 500.0, 510.0, 319.5, 241.25)


def test_project_unproject_round_trip():
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50), rng.uniform(0.3, 5, 50)], 1)
    uv = project(pts, CAM)
    assert uv.shape == (50, 2)
    back = unproject(uv, pts[:, 2], CAM)
    np.testing.assert_allclose(back, pts, atol=1e-12)
    # method forms agree, batch dims are kept
    np.testing.assert_allclose(CAM.project(pts.reshape(5, 10, 3)), uv.reshape(5, 10, 2))


def test_project_known_values_and_behind_camera():
    uv = project(np.array([[0.0, 0.0, 2.0], [1.0, -0.5, 2.0], [0.0, 0.0, 0.0], [0, 0, -1.0]]), CAM)
    np.testing.assert_allclose(uv[0], [319.5, 241.25])
    np.testing.assert_allclose(uv[1], [319.5 + 250.0, 241.25 - 127.5])
    assert np.isnan(uv[2:]).all()


def test_unproject_broadcasts_scalar_depth_and_keeps_nan():
    out = unproject(np.array([[319.5, 241.25], [819.5, 241.25]]), 2.0, CAM)
    np.testing.assert_allclose(out, [[0, 0, 2], [2, 0, 2]])
    assert np.isnan(unproject(np.array([10.0, 10.0]), np.nan, CAM)).all()


def test_from_k_and_k_property():
    K = [[500.0, 0, 319.5], [0, 510.0, 241.25], [0, 0, 1]]
    cam = Intrinsics.from_k(K, 640, 480)
    assert cam == CAM
    np.testing.assert_array_equal(cam.K, np.array(K))
    assert cam.K.dtype == np.float64
    assert Intrinsics.from_k(np.array(K).ravel(), 640, 480) == CAM
    with pytest.raises(ValueError, match='skew'):
        Intrinsics.from_k([[500.0, 1.0, 319.5], [0, 510.0, 241.25], [0, 0, 1]], 640, 480)
    with pytest.raises(ValueError, match='3x3'):
        Intrinsics.from_k(np.eye(2), 640, 480)


@pytest.mark.parametrize('kwargs, match', [
    (dict(width=0), 'width'), (dict(height=-3), 'height'), (dict(width=10.5), 'width'),
    (dict(fx=0.0), 'non-zero'), (dict(fy=np.inf), 'finite'), (dict(cx=np.nan), 'finite'),
])
def test_invalid_intrinsics(kwargs, match):
    args = dict(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0) | kwargs
    with pytest.raises(ValueError, match=match):
        Intrinsics(**args)


def test_camera_info_binning_and_roi():
    k = [600.0, 0, 330.0, 0, 610.0, 250.0, 0, 0, 1]
    cam = Intrinsics.from_camera_info(1280, 960, k, binning_x=2, binning_y=2,
                                      roi=(100, 50, 640, 480))
    # image_geometry: shift by the ROI offset, then divide by binning
    assert (cam.width, cam.height) == (320, 240)
    np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy], [300, 305, 115, 100])
    # anisotropic binning
    cam = Intrinsics.from_camera_info(1280, 960, k, binning_x=4, binning_y=1)
    assert (cam.width, cam.height) == (320, 960)
    np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy], [150, 610, 82.5, 250])


def test_camera_info_defaults_mean_full_image():
    k = [600.0, 0, 330.0, 0, 610.0, 250.0, 0, 0, 1]
    full = Intrinsics.from_camera_info(640, 480, k)
    assert full == Intrinsics(640, 480, 600, 610, 330, 250)
    assert Intrinsics.from_camera_info(640, 480, k, 0, 0, (0, 0, 0, 0), True) == full
    assert Intrinsics.from_camera_info(640, 480, k, 1, 1, None) == full


def test_camera_info_bad_inputs():
    k = [600.0, 0, 330.0, 0, 610.0, 250.0, 0, 0, 1]
    with pytest.raises(ValueError, match='does not fit'):
        Intrinsics.from_camera_info(640, 480, k, roi=(400, 0, 300, 100))
    with pytest.raises(ValueError, match='9 values'):
        Intrinsics.from_camera_info(640, 480, k[:8])
    with pytest.raises(ValueError, match='binning'):
        Intrinsics.from_camera_info(640, 480, k, binning_x=-1)
    with pytest.raises(ValueError, match='non-zero'):
        Intrinsics.from_camera_info(640, 480, [0.0] * 9)


def test_scaled_matches_block_resize_convention():
    # halving: new pixel 0 is the average of old pixels 0 and 1, centred at old 0.5
    half = CAM.scaled(0.5)
    assert (half.width, half.height) == (320, 240)
    p = np.array([0.3, -0.2, 1.7])
    np.testing.assert_allclose(half.project(p), (CAM.project(p) + 0.5) * 0.5 - 0.5)
    np.testing.assert_allclose(project(np.array([0, 0, 1.0]), Intrinsics(2, 2, 1, 1, 0.5, 0.5)
                                       .scaled(0.5)), [0.0, 0.0])
    resized = CAM.with_size(320, 120)
    assert (resized.width, resized.height) == (320, 120)
    np.testing.assert_allclose([resized.fx, resized.fy], [250.0, 127.5])
    with pytest.raises(ValueError, match='positive'):
        CAM.scaled(0.0)


def test_depth_to_points():
    cam = Intrinsics(4, 3, 2.0, 2.0, 1.5, 1.0)
    depth = np.full((3, 4), 2.0, np.float32)
    depth[1, 2] = np.nan
    pts = depth_to_points(depth, cam)
    assert pts.shape == (3, 4, 3) and pts.dtype == np.float32
    assert np.isnan(pts[1, 2]).all()
    np.testing.assert_allclose(pts[2, 0], unproject(np.array([0.0, 2.0]), 2.0, cam), atol=1e-6)
    np.testing.assert_allclose(pts[0, 3], [1.5, -1.0, 2.0])
    with pytest.raises(ValueError, match='does not match'):
        depth_to_points(np.zeros((4, 3)), cam)


def test_presets_are_nominal_and_valid():
    itop = SENSOR_PRESETS['itop']
    assert (itop.width, itop.height, itop.cx, itop.cy) == (320, 240, 160.0, 120.0)
    assert abs(itop.fx - 1 / 0.0035) < 1e-3
    nyu = SENSOR_PRESETS['nyu']
    assert (nyu.fx, nyu.fy) == (588.03, 587.07)
    for name, cam in SENSOR_PRESETS.items():
        assert cam.fx > 0 and cam.fy > 0, name
        assert 0 < cam.cx < cam.width and 0 < cam.cy < cam.height, name
