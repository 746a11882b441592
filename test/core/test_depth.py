"""Tests for kinpose_ros.core.depth: encodings, CropInfo and network crops."""
import numpy as np
import pytest

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics
from kinpose_ros.core.depth import (
    CropInfo,
    crop_depth,
    crop_depth_batch,
    decode_depth,
    encode_depth,
    fit_box_aspect,
)


# ----------------------------------------------------------------------------- encodings
@pytest.mark.parametrize('encoding', ['16UC1', 'mono16'])
def test_decode_millimetres(encoding):
    raw = np.array([[0, 1, 1000], [2500, 65534, 65535]], dtype=np.uint16)
    depth = decode_depth(raw, encoding)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    assert np.isnan(depth[0, 0])
    np.testing.assert_allclose(depth[0, 1:], [0.001, 1.0], rtol=1e-6)
    np.testing.assert_allclose(depth[1], [2.5, 65.534, 65.535], rtol=1e-6)  # big values stay
    masked = decode_depth(raw, encoding, invalid_value=65535)
    assert np.isnan(masked[1, 2]) and np.isfinite(masked[1, 1])


def test_decode_custom_unit_sr305():
    raw = np.array([8000, 5600], dtype=np.uint16)  # 0.125 mm units
    np.testing.assert_allclose(decode_depth(raw, '16UC1', depth_unit_m=0.000125), [1.0, 0.7])
    with pytest.raises(ValueError, match='depth_unit_m'):
        decode_depth(raw, '16UC1', depth_unit_m=0.0)


def test_decode_float_metres_invalids():
    raw = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 2.5, 1e4], dtype=np.float32)
    depth = decode_depth(raw, '32FC1')
    assert np.isnan(depth[:5]).all()
    np.testing.assert_allclose(depth[5:], [2.5, 1e4])
    assert decode_depth(raw.astype(np.float16), '32fc1').dtype == np.float32


def test_decode_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"'8UC3'.*16UC1.*mono16.*32FC1"):
        decode_depth(np.zeros((2, 2), np.uint8), '8UC3')
    with pytest.raises(ValueError, match='integer dtype'):
        decode_depth(np.zeros((2, 2), np.float32), '16UC1')
    with pytest.raises(ValueError, match='float dtype'):
        decode_depth(np.zeros((2, 2), np.uint16), '32FC1')


def test_decode_does_not_modify_input():
    raw = np.array([0.0, 1.0], dtype=np.float32)
    decode_depth(raw, '32FC1')
    np.testing.assert_array_equal(raw, [0.0, 1.0])


def test_encode_round_trip_and_limits():
    depth = np.array([np.nan, -1.0, 0.0, 0.0004, 0.0006, 1.2344, 65.535, 65.6, np.inf])
    raw = encode_depth(depth, '16UC1')
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, [0, 0, 0, 0, 1, 1234, 65535, 0, 0])
    back = decode_depth(raw, '16UC1')
    np.testing.assert_allclose(back[5], 1.234, rtol=1e-6)
    assert np.isnan(back[[0, 1, 2, 3, 7, 8]]).all()
    f32 = encode_depth(depth, '32FC1')
    assert f32.dtype == np.float32
    assert np.isnan(f32[[0, 1, 2, 8]]).all()
    np.testing.assert_allclose(f32[3:8], depth[3:8], rtol=1e-6)
    np.testing.assert_array_equal(encode_depth(np.array([0.7]), '16UC1', 0.000125), [5600])
    with pytest.raises(ValueError, match='unsupported'):
        encode_depth(depth, 'rgb8')


# ----------------------------------------------------------------------------- CropInfo
def test_crop_info_known_mapping_and_inverse():
    info = CropInfo((10.0, 20.0, 50.0, 60.0), (80, 80))
    assert info.scale == (2.0, 2.0)
    # image pixel (10, 20) covers edges [10, 11) -> crop edges [0, 2) -> crop centre 0.5
    np.testing.assert_allclose(info.image_to_crop(np.array([10.0, 20.0])), [0.5, 0.5])
    np.testing.assert_allclose(info.crop_to_image(np.array([0.0, 0.0])), [9.75, 19.75])
    rng = np.random.default_rng(1)
    uv = rng.uniform(-50, 300, (4, 7, 2))
    np.testing.assert_allclose(info.crop_to_image(info.image_to_crop(uv)), uv, atol=1e-10)
    A = info.to_image_affine()
    np.testing.assert_allclose(uv[0] @ A[:, :2].T + A[:, 2], info.crop_to_image(uv[0]))
    identity = CropInfo((0, 0, 320, 240), (320, 240))
    np.testing.assert_allclose(identity.crop_to_image(uv), uv)
    with pytest.raises(ValueError, match='x1 > x0'):
        CropInfo((5, 5, 5, 9), (8, 8))


def test_crop_intrinsics_and_crop_to_camera_agree_with_projection():
    cam = SENSOR_PRESETS['itop']
    info = CropInfo((100.0, 30.0, 230.0, 200.0), (96, 128), center_depth_m=3.0, half_range_m=0.5)
    p = np.array([[0.2, -0.4, 2.8], [-0.3, 0.5, 3.4]])
    uv_crop = info.image_to_crop(cam.project(p))
    np.testing.assert_allclose(info.crop_intrinsics(cam).project(p), uv_crop, atol=1e-9)
    uvz = np.concatenate([uv_crop, info.normalise_depth(p[:, 2])[:, None]], axis=1)
    np.testing.assert_allclose(uvz[:, 2], [-0.4, 0.8])
    np.testing.assert_allclose(info.crop_to_camera(uvz, cam), p, atol=1e-9)
    uvz[:, 2] = p[:, 2]
    np.testing.assert_allclose(info.crop_to_camera(uvz, cam, depth_normalised=False), p)


# ----------------------------------------------------------------------------- crops
def _ramp(h=240, w=320):
    r, c = np.mgrid[0:h, 0:w]
    return (2.0 + 0.001 * c + 0.0001 * r).astype(np.float32)


def test_fit_box_aspect():
    np.testing.assert_allclose(fit_box_aspect([0, 0, 100, 50], (64, 64)), [0, -25, 100, 75])
    np.testing.assert_allclose(fit_box_aspect([[0, 0, 10, 40]], (20, 10)), [[-35, 0, 45, 40]])
    with pytest.raises(ValueError, match='x1 > x0'):
        fit_box_aspect([10, 0, 0, 5], (8, 8))


@pytest.mark.parametrize('box, out_size', [
    ((40.0, 30.0, 200.0, 190.0), (64, 64)),     # downsample
    ((100.0, 60.0, 132.0, 92.0), (96, 96)),     # upsample
    ((10.3, 7.9, 170.2, 100.1), (48, 32)),      # fractional box, non-square output
])
def test_crop_samples_the_pixel_under_each_output_centre(box, out_size):
    depth = _ramp()
    crop, info = crop_depth(depth, box, out_size, center_depth_m=2.2, depth_range_m=1.0)
    assert crop.shape == (out_size[1], out_size[0]) and crop.dtype == np.float32
    jj, ii = np.meshgrid(np.arange(out_size[0]), np.arange(out_size[1]))
    uv = info.crop_to_image(np.stack([jj, ii], -1).astype(float))
    src = depth[np.floor(uv[..., 1] + 0.5).astype(int), np.floor(uv[..., 0] + 0.5).astype(int)]
    np.testing.assert_allclose(info.denormalise_depth(crop), src, atol=1e-6)
    w, h = info.box_xyxy[2] - info.box_xyxy[0], info.box_xyxy[3] - info.box_xyxy[1]
    assert abs(w / h - out_size[0] / out_size[1]) < 1e-9


def test_crop_invalid_and_outside_pixels_take_fill_and_no_blur():
    depth = np.full((100, 100), 3.0, np.float32)
    depth[:, 50:] = 1.0
    depth[40:60, 40:60] = np.nan
    depth[0:5, 0:5] = 0.0
    crop, info = crop_depth(depth, (-20, -20, 120, 120), (70, 70), center_depth_m=2.0,
                            depth_range_m=4.0, fill_value=1.0)
    # only the two surface values and the fill: nearest sampling never mixes depths
    np.testing.assert_allclose(np.unique(crop), [-0.5, 0.5, 1.0])
    assert crop[0, 0] == 1.0          # outside the image
    assert crop[35, 35] == 1.0        # NaN hole
    assert crop[35, 55] == -0.5 and crop[35, 15] == 0.5
    crop, _ = crop_depth(depth, (-20, -20, 120, 120), (70, 70), 2.0, 4.0, fill_value=-7.0)
    assert crop[0, 0] == -7.0 and crop[10, 11] == -7.0  # zero depth is invalid too


def test_crop_clips_and_estimates_centre():
    depth = np.full((120, 160), 6.0, np.float32)
    depth[30:90, 60:100] = 2.5                        # person in front of a far wall
    crop, info = crop_depth(depth, (50, 20, 110, 100), (32, 32), depth_range_m=2.0)
    assert info.center_depth_m == pytest.approx(2.5)
    assert crop.min() == 0.0 and crop.max() == 1.0    # wall at +3.5 m clips to 1
    crop, info = crop_depth(np.full((10, 10), np.nan, np.float32), (0, 0, 10, 10), (8, 8))
    assert np.isnan(info.center_depth_m) and (crop == 1.0).all()


def test_batch_matches_single_crops():
    depth = _ramp()
    depth[100:120, :] = np.nan
    boxes = np.array([[0, 0, 100, 80], [200, 150, 330, 250], [50, 90, 150, 140]], float)
    crops, infos = crop_depth_batch(depth, boxes, (40, 40), center_depth_m=[2.1, np.nan, 2.3])
    assert crops.shape == (3, 1, 40, 40) and len(infos) == 3
    for i, box in enumerate(boxes):
        centre = [2.1, None, 2.3][i]
        single, info = crop_depth(depth, box, (40, 40), center_depth_m=centre)
        np.testing.assert_array_equal(crops[i, 0], single)
        assert info == infos[i]
    empty, none = crop_depth_batch(depth, np.zeros((0, 4)), (40, 40))
    assert empty.shape == (0, 1, 40, 40) and none == []
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        crop_depth_batch(depth, boxes[0], (40, 40))


# ----------------------------------------------------------------------------- real frames
def test_real_itop_frame_decodes_to_a_person_at_three_metres(shared_data):
    raw = np.load(shared_data / 'real_depth' / 'itop_side_train_000053.npy')
    depth = decode_depth(raw, '16UC1')
    assert depth.shape == (240, 320)
    valid = depth[np.isfinite(depth)]
    assert valid.size > 0.5 * depth.size
    assert 1.0 < np.median(valid) < 6.0
    assert np.isnan(depth[raw == 0]).all()
    # a crop around the image centre (the person) centres at roughly 3 m
    _, info = crop_depth(depth, (110, 40, 210, 220), (64, 64))
    assert 2.0 < info.center_depth_m < 4.5


def test_real_sr305_frame_decodes_with_eighth_millimetre_unit(shared_data):
    from PIL import Image

    with Image.open(shared_data / 'real_depth' / 'sr305_upperbody_hand_a.png') as image:
        raw = np.asarray(image)
    assert raw.dtype == np.uint16
    depth = decode_depth(raw, '16UC1', depth_unit_m=0.000125)
    assert depth.shape == (480, 640)
    assert 0.3 < np.nanmedian(depth) < 1.5
    cam = Intrinsics(640, 480, 476.007, 476.007, 313.683, 242.755)
    assert cam == SENSOR_PRESETS['realsense_sr305']
