"""Bad input never crashes the pose node: one test per problem.

Each test sends the bad input, checks that the node names the problem (counted per kind, warned
at most once per period) and publishes no TF for it, then sends a good frame and checks that the
node still works.
"""
import time

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from rig import Rig, stamp_time, translations
from scene import INTRINSICS, CentroidEstimator, box_depth_m, centroid
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.depth import encode_depth
from kinpose_ros.ros.conversions import numpy_to_image
from kinpose_ros.ros.messages import camera_info_message
from kinpose_ros.ros.pose_node import PoseNode

pytestmark = pytest.mark.ros
DEPTH = box_depth_m()


@pytest.fixture
def rig():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    r = Rig(ctx)
    try:
        yield r
    finally:
        r.destroy()
        rclpy.shutdown(context=ctx)


def start(rig, **overrides):
    node = PoseNode(CentroidEstimator(), context=rig.context, parameter_overrides=[
        Parameter(k, value=v) for k, v in overrides.items()])
    node.logged = []
    warn = node.problems._warn  # noqa: SLF001 - record what is logged, and still log it
    node.problems._warn = lambda text: (node.logged.append(text), warn(text))  # noqa: SLF001
    rig.add(node)
    assert rig.connected()
    return node


def expect_problem(rig, node, kind, words=(), sec=10):
    """Wait for ``kind`` to be counted and logged with ``words``, check nothing was published
    for it, then send a good frame and check the node recovered."""
    assert rig.spin_until(lambda: node.problems.counts.get(kind, 0) >= 1, 10), \
        f'{kind} not reported; got {node.problems.counts}'
    text = ' '.join(node.logged)
    for word in words:
        assert word in text, f'{word!r} not in the warning {text!r}'
    rig.spin_for(0.2)
    assert rig.received['tf'] == [], 'TF published for bad input'
    header = rig.publish(DEPTH, stamp=stamp_time(sec + 1))
    assert rig.spin_until(lambda: rig.received['tf'], 10), 'node did not recover'
    assert rig.received['tf'][-1].transforms[0].header.stamp == header.stamp
    root = translations(rig.received['tf'], 'person_0/torso')[-1]
    np.testing.assert_allclose(root, centroid(DEPTH), atol=2e-3)
    assert node.figures()['worker_errors'] == 0


def raw_image(encoding='16UC1', width=INTRINSICS.width, height=INTRINSICS.height,
              step=None, data=None, bigendian=0):
    step = width * 2 if step is None else step
    data = bytes(height * step) if data is None else data
    return Image(height=height, width=width, encoding=encoding, is_bigendian=bigendian,
                 step=step, data=data)


@pytest.mark.parametrize('encoding', ['rgb8', 'yuv422', ''])
def test_wrong_or_unknown_encoding(rig, encoding):
    node = start(rig)
    img = raw_image(encoding, step=INTRINSICS.width * 3)
    img.data = bytes(img.height * img.step)
    rig.publish(image=img, stamp=stamp_time(10))
    expect_problem(rig, node, 'encoding', (repr(encoding), '16UC1'))


def test_size_mismatch_with_camera_info(rig):
    node = start(rig)
    small = Intrinsics(40, 30, 35.0, 35.0, 19.5, 14.5)
    rig.publish(DEPTH, stamp=stamp_time(10), info=camera_info_message(small, Header()))
    expect_problem(rig, node, 'size_mismatch', ('80x60', '40x30'))


def test_all_invalid_depth(rig):
    node = start(rig)
    rig.publish(np.full_like(DEPTH, np.nan), stamp=stamp_time(10))
    expect_problem(rig, node, 'no_valid_depth', ('no valid pixel',))


def test_zero_focal_length(rig):
    node = start(rig)
    info = camera_info_message(INTRINSICS, Header())
    info.k = [0.0] * 9
    rig.publish(DEPTH, stamp=stamp_time(10), info=info)
    expect_problem(rig, node, 'camera_info', ('focal lengths must be non-zero',))


def test_missing_camera_info(rig):
    node = start(rig, camera_info_timeout_s=0.3)
    t_end = time.monotonic() + 2.5
    k = 0
    while time.monotonic() < t_end and not node.problems.counts.get('camera_info_missing'):
        img = numpy_to_image(encode_depth(DEPTH, '16UC1'), '16UC1', Header())
        img.header.stamp = stamp_time(10, k * 1000)
        rig.depth_pub.publish(img)  # depth only
        k += 1
        rig.spin_for(0.1)
    expect_problem(rig, node, 'camera_info_missing', ('no CameraInfo on /depth/camera_info',))


def test_empty_image(rig):
    node = start(rig)
    rig.publish(image=raw_image(width=0, height=0, data=b''), stamp=stamp_time(10))
    expect_problem(rig, node, 'empty', ('0x0',))


def test_huge_image_header(rig):
    node = start(rig)  # a corrupt header claiming 100000 x 100000 pixels, with no data
    rig.publish(image=raw_image(width=100_000, height=100_000, data=b''), stamp=stamp_time(10))
    expect_problem(rig, node, 'too_large', ('100000x100000',))


def test_image_over_the_configured_limit(rig):
    node = start(rig, **{'depth.max_pixels': 1000})
    rig.publish(DEPTH, stamp=stamp_time(10))
    assert rig.spin_until(lambda: node.problems.counts.get('too_large', 0) >= 1)
    rig.spin_for(0.2)
    assert rig.received['tf'] == []


def test_data_shorter_than_header_says(rig):
    node = start(rig)
    rig.publish(image=raw_image(data=bytes(100)), stamp=stamp_time(10))
    expect_problem(rig, node, 'malformed', ('holds 100 bytes',))


def test_big_endian_is_decoded_exactly(rig):
    node = start(rig)
    raw = np.rint(np.nan_to_num(DEPTH) * 1000).astype('>u2')
    img = raw_image(data=raw.tobytes(), bigendian=1)
    header = rig.publish(image=img, stamp=stamp_time(10))
    assert rig.spin_until(lambda: rig.received['tf'])
    assert rig.received['tf'][-1].transforms[0].header.stamp == header.stamp
    root = translations(rig.received['tf'], 'person_0/torso')[-1]
    np.testing.assert_allclose(root, centroid(DEPTH), atol=2e-3)
    assert node.problems.counts == {}


def test_big_endian_with_odd_step_is_refused(rig):
    node = start(rig)
    raw = np.rint(np.nan_to_num(DEPTH) * 1000).astype('>u2')
    img = raw_image(data=raw.tobytes()[:-60], bigendian=1, step=INTRINSICS.width * 2 - 1)
    rig.publish(image=img, stamp=stamp_time(10))
    expect_problem(rig, node, 'malformed', ('step 159 is smaller',))


def test_warnings_are_throttled_per_kind(rig):
    node = start(rig, warn_throttle_s=60.0)
    logged = []
    node.problems._warn = logged.append  # noqa: SLF001 - capture what would be logged
    for k in range(5):
        rig.publish(np.full_like(DEPTH, np.nan), stamp=stamp_time(10, k * 1000))
        rig.spin_until(lambda k=k: node.problems.counts.get('no_valid_depth', 0) > k, 5)
    assert node.problems.counts['no_valid_depth'] == 5
    assert len(logged) == 1 and 'no valid pixel' in logged[0]
