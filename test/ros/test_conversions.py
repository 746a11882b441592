"""Image / CameraInfo / transform conversions: exact round trips and clear errors on bad input."""
import sys

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from kinpose_ros.ros.conversions import (
    ENCODINGS,
    MAX_IMAGE_SIDE,
    camera_info_to_intrinsics,
    depth_image_to_metres,
    image_to_numpy,
    make_transform_stamped,
    numpy_to_image,
    tf_message,
    tf_qos,
    tf_static_qos,
)

pytestmark = pytest.mark.ros

HEADER = Header(stamp=Time(sec=12, nanosec=345), frame_id='camera_depth_optical_frame')


def _sample(encoding: str, height: int = 5, width: int = 7) -> np.ndarray:
    """A deterministic image whose every byte differs from its neighbours (catches swaps)."""
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    n = int(np.prod(shape))
    if dtype.kind == 'f':
        values = np.linspace(0.25, 9.75, n) * np.where(np.arange(n) % 3, 1.0, -1.0)
        values[1] = np.nan
    else:
        values = (np.arange(n) * 2654435761) % (np.iinfo(dtype).max + 1)
    return values.astype(dtype.newbyteorder('=')).reshape(shape)


def _raw_image(rows: np.ndarray, encoding: str, step: int, bigendian: bool) -> Image:
    """Hand-built wire message: rows serialised in the given byte order, padded to ``step``."""
    height, width = rows.shape[:2]
    wire = rows.astype(rows.dtype.newbyteorder('>' if bigendian else '<'))
    packed = wire.reshape(height, -1).view(np.uint8)
    padded = np.full((height, step), 0xAB, np.uint8)
    padded[:, :packed.shape[1]] = packed
    return Image(header=HEADER, height=height, width=width, encoding=encoding,
                 is_bigendian=int(bigendian), step=step, data=padded.tobytes())


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_round_trip_every_encoding(encoding):
    array = _sample(encoding)
    msg = numpy_to_image(array, encoding, HEADER)
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * array.itemsize * (array.shape[2] if array.ndim == 3 else 1)
    assert msg.is_bigendian == int(sys.byteorder == 'big')
    assert msg.header.stamp == HEADER.stamp and msg.header.frame_id == HEADER.frame_id
    back = image_to_numpy(msg)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)  # NaN positions compare equal here


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('bigendian', [False, True])
def test_padded_step_and_byte_order(encoding, bigendian):
    array = _sample(encoding, height=4, width=3)
    row_bytes = array[0].nbytes
    msg = _raw_image(array, encoding, step=row_bytes + 5, bigendian=bigendian)  # odd padding
    back = image_to_numpy(msg)
    assert back.dtype.isnative and back.flags.c_contiguous and back.flags.owndata
    np.testing.assert_array_equal(back, array)


def test_big_endian_16uc1_known_bytes():
    # 1000 mm = 0x03E8: big-endian bytes 03 E8, little-endian E8 03
    msg = Image(height=1, width=2, encoding='16UC1', is_bigendian=1, step=4,
                data=bytes([0x03, 0xE8, 0x00, 0x01]))
    np.testing.assert_array_equal(image_to_numpy(msg), [[1000, 1]])
    np.testing.assert_allclose(depth_image_to_metres(msg), [[1.0, 0.001]], rtol=1e-6)


def test_big_endian_32fc1_known_bytes():
    msg = Image(height=1, width=2, encoding='32FC1', is_bigendian=1, step=8,
                data=np.array([1.5, -2.0], '>f4').tobytes())
    np.testing.assert_array_equal(image_to_numpy(msg), np.array([[1.5, -2.0]], np.float32))


def test_depth_image_to_metres_units_and_invalid():
    mm = np.array([[0, 1000, 2500], [65535, 1, 40]], np.uint16)
    depth = depth_image_to_metres(numpy_to_image(mm, '16UC1', HEADER), invalid_value=65535)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    np.testing.assert_allclose(depth, [[np.nan, 1.0, 2.5], [np.nan, 0.001, 0.04]], rtol=1e-6)
    metres = np.array([[np.nan, 1.25, -1.0, 0.0, np.inf]], np.float32)
    depth = depth_image_to_metres(numpy_to_image(metres, '32FC1', HEADER))
    np.testing.assert_array_equal(np.isnan(depth), [[True, False, True, True, True]])
    assert depth[0, 1] == np.float32(1.25)
    sr305 = depth_image_to_metres(numpy_to_image(mm, 'mono16', HEADER), depth_unit_m=0.000125)
    np.testing.assert_allclose(sr305[0, 1], 0.125, rtol=1e-6)


def test_depth_image_to_metres_rejects_colour():
    msg = numpy_to_image(np.zeros((2, 2, 3), np.uint8), 'rgb8', HEADER)
    with pytest.raises(ValueError, match="'rgb8' is not a depth encoding"):
        depth_image_to_metres(msg)


def _good_16uc1() -> Image:
    return numpy_to_image(np.arange(12, dtype=np.uint16).reshape(3, 4), '16UC1', HEADER)


@pytest.mark.parametrize('field, value, message', [
    ('encoding', 'yuv422', "unsupported image encoding 'yuv422'"),
    ('data', bytes(23), 'data holds 23 bytes but height 3 x step 8 = 24'),
    ('step', 6, 'step 6 is smaller than width 4 x 2 bytes per 16UC1 pixel = 8'),
    ('height', 0, 'image size 4x0'),
    ('width', 0, 'image size 0x3'),
    ('height', MAX_IMAGE_SIDE + 1, f'must be within 1..{MAX_IMAGE_SIDE}'),
    ('step', 10, 'data holds 24 bytes but height 3 x step 10 = 30'),
])
def test_image_to_numpy_rejects_bad_messages(field, value, message):
    msg = _good_16uc1()
    setattr(msg, field, value)
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace('.', r'\.')):
        image_to_numpy(msg)


def test_empty_data_is_rejected():
    msg = _good_16uc1()
    msg.data = b''
    with pytest.raises(ValueError, match='data holds 0 bytes'):
        image_to_numpy(msg)


def test_encoding_names_are_case_insensitive():
    msg = _good_16uc1()
    msg.encoding = '16uc1'
    np.testing.assert_array_equal(image_to_numpy(msg), np.arange(12).reshape(3, 4))


@pytest.mark.parametrize('array, encoding, message', [
    (np.zeros((2, 2), np.float32), '16UC1', '16UC1 needs dtype uint16, got float32'),
    (np.zeros((2, 2, 3), np.uint8), 'mono8', r'needs shape \(H, W\), got \(2, 2, 3\)'),
    (np.zeros((2, 2, 4), np.uint8), 'bgr8', r'needs shape \(H, W, 3\), got \(2, 2, 4\)'),
    (np.zeros((0, 2), np.uint16), '16UC1', 'image size 2x0'),
    (np.zeros((2, 2), np.uint16), '16SC1', "unsupported image encoding '16SC1'"),
])
def test_numpy_to_image_rejects_bad_arrays(array, encoding, message):
    with pytest.raises(ValueError, match=message):
        numpy_to_image(array, encoding, HEADER)


def test_numpy_to_image_accepts_big_endian_and_trailing_channel():
    array = np.array([[1, 2], [3, 258]], '>u2')
    back = image_to_numpy(numpy_to_image(array[:, :, None], '16UC1', HEADER))
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, [[1, 2], [3, 258]])


def test_camera_info_to_intrinsics_binning_and_roi():
    msg = CameraInfo(width=640, height=480, binning_x=2, binning_y=2,
                     k=[500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0])
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 100, 40, 400, 300
    intr = camera_info_to_intrinsics(msg)
    assert (intr.width, intr.height) == (200, 150)
    np.testing.assert_allclose([intr.fx, intr.fy, intr.cx, intr.cy], [250, 255, 110, 100])
    full = camera_info_to_intrinsics(CameraInfo(width=640, height=480, k=msg.k))
    assert (full.width, full.height, full.cx) == (640, 480, 320.0)


def test_camera_info_uncalibrated_is_rejected():
    with pytest.raises(ValueError, match='focal lengths must be non-zero'):
        camera_info_to_intrinsics(CameraInfo(width=640, height=480))


def test_make_transform_stamped_fields_and_normalisation():
    q = np.array([0.0, 0.0, np.sin(0.3), np.cos(0.3)]) * 1.004  # |q|^2 = 1.008: accepted
    msg = make_transform_stamped(HEADER.stamp, 'camera', 'pelvis', [0.1, -0.2, 2.5], q)
    assert msg.header.stamp == HEADER.stamp
    assert (msg.header.frame_id, msg.child_frame_id) == ('camera', 'pelvis')
    t, r = msg.transform.translation, msg.transform.rotation
    np.testing.assert_allclose([t.x, t.y, t.z], [0.1, -0.2, 2.5])
    np.testing.assert_allclose([r.x, r.y, r.z, r.w], [0, 0, np.sin(0.3), np.cos(0.3)], atol=1e-12)
    assert len(tf_message([msg, msg]).transforms) == 2


@pytest.mark.parametrize('parent, child, t, q, message', [
    ('camera', 'camera', [0, 0, 0], [0, 0, 0, 1], "both 'camera'"),
    ('', 'pelvis', [0, 0, 0], [0, 0, 0, 1], 'must be non-empty'),
    ('camera', '', [0, 0, 0], [0, 0, 0, 1], 'must be non-empty'),
    ('camera', 'pelvis', [0, np.nan, 0], [0, 0, 0, 1], 'non-finite'),
    ('camera', 'pelvis', [0, 0, 0], [0, 0, 0, 1.01], r'\|q\|\^2 = 1\.0201'),
    ('camera', 'pelvis', [0, 0, 0], [0, 0, 0, 0], r'\|q\|\^2 = 0\.0000'),
    ('camera', 'pelvis', [0, 0], [0, 0, 0, 1], r'translation must be \(3,\)'),
])
def test_make_transform_stamped_rejects_what_tf2_drops(parent, child, t, q, message):
    with pytest.raises(ValueError, match=message):
        make_transform_stamped(HEADER.stamp, parent, child, t, q)


def test_tf_qos_profiles():
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
    dynamic, static = tf_qos(), tf_static_qos()
    assert (dynamic.depth, dynamic.reliability, dynamic.durability) == (
        100, ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE)
    assert (static.depth, static.reliability, static.durability) == (
        1, ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL)
