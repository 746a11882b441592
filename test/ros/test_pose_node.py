"""The pose node end to end in one process: real rclpy, real messages, a simple real estimator.

Publishes depth + CameraInfo of a known scene, receives TF / JointState / markers / URDF in a
listener node and checks them against the ground truth within tolerance and tf2's rules.
"""
import numpy as np
import pytest
from people import all_frame_poses
from rig import Rig, stamp_time
from scene import CAMERA_FRAME, INTRINSICS, CentroidEstimator, box_depth_m, centroid
from tf_rules import compose, tf2_accepts
from visualization_msgs.msg import Marker

from kinpose_ros.ros.pose_node import PoseNode

pytestmark = pytest.mark.ros


@pytest.fixture
def rig(context):
    r = Rig(context)
    try:
        yield r
    finally:
        r.destroy()


def start(rig, context, estimator=None, **overrides):
    from rclpy.parameter import Parameter
    est = estimator or CentroidEstimator()
    node = PoseNode(est, context=context, parameter_overrides=[
        Parameter(k, value=v) for k, v in overrides.items()])
    rig.add(node)
    assert rig.connected(), 'discovery failed'
    return node, est


def test_outputs_match_ground_truth(rig, context):
    node, est = start(rig, context, **{'frames.prefix': 'kp/'})
    depth = box_depth_m(z_m=2.4, tilt=0.01)
    truth_root = centroid(depth)  # 16UC1 rounding is < 1 mm at this depth
    stamps = [stamp_time(50, 1000 * i) for i in range(3)]
    for k, s in enumerate(stamps):
        rig.publish(depth, stamp=s)
        assert rig.spin_until(lambda k=k: len(rig.received['tf']) > k)
    assert rig.spin_until(lambda: len(rig.received['markers']) >= 3
                          and len(rig.received['joint_states']) >= 3
                          and rig.received['urdf'])
    assert est.last_intrinsics == INTRINSICS

    tf = rig.received['tf'][-1]
    sk = est.skeleton
    assert len(tf.transforms) == sk.num_frames  # one TFMessage holds every frame
    for t in tf.transforms:
        assert tf2_accepts(t)
        assert t.header.stamp == stamps[-1]
    poses = compose(tf.transforms, CAMERA_FRAME)
    root = poses['kp/person_0/torso'][:3, 3]
    np.testing.assert_allclose(root, truth_root, atol=2e-3)
    truth = all_frame_poses(sk, est.params_at(truth_root))
    for f, name in enumerate(sk.frame_names):
        np.testing.assert_allclose(poses[f'kp/person_0/{name}'], truth[f], atol=3e-3,
                                   err_msg=name)
    assert [m.transforms[0].header.stamp for m in rig.received['tf']] == stamps

    js = rig.received['joint_states'][-1]
    assert list(js.name) == sk.joint_state_names and js.header.stamp == stamps[-1]
    np.testing.assert_allclose(js.position, est.params_at(truth_root)[-sk.num_dofs:])

    markers = rig.received['markers']
    assert markers[0].markers[0].action == Marker.DELETEALL
    spheres = [m for m in markers[-1].markers if m.type == Marker.SPHERE]
    assert len(spheres) == sk.num_joints
    assert all(m.header.frame_id == CAMERA_FRAME and m.header.stamp == stamps[-1]
               for m in spheres)
    assert '<robot name="body15"' in rig.received['urdf'][0].data

    # the person leaves (all-invalid depth): markers deleted, no TF, a warning counted
    n_tf, n_markers = len(rig.received['tf']), len(markers)
    rig.publish(np.full_like(depth, np.nan), stamp=stamp_time(51))
    assert rig.spin_until(lambda: len(rig.received['markers']) > n_markers and all(
        m.action == Marker.DELETE for m in rig.received['markers'][-1].markers))
    assert rig.received['markers'][-1].markers[0].ns == 'person_0'
    assert len(rig.received['tf']) == n_tf
    assert node.problems.counts.get('no_valid_depth') == 1


def test_diagnostics_and_figures(rig, context):
    node, _ = start(rig, context)
    for i in range(5):
        rig.publish(box_depth_m(), stamp=stamp_time(60, i * 10_000_000))
        rig.spin_until(lambda i=i: node.stats.total('processed') > i, 5)
    assert rig.spin_until(lambda: rig.received['diagnostics'], 5)
    status = rig.received['diagnostics'][-1].status[0]
    values = {k.key: k.value for k in status.values}
    assert values['processed'] == '5' and 'latency_ms_p99' in values
    assert node.figures()['latency_ms_p50'] > 0


def test_rgb_overlay_and_rep155(rig, context):
    from kinpose_ros.ros.conversions import image_to_numpy, numpy_to_image
    node, _ = start(rig, context, **{'topics.use_rgb': True, 'publish.overlay': True,
                                     'frames.rep155': True})
    depth = box_depth_m()
    rgb = np.zeros((INTRINSICS.height, INTRINSICS.width, 3), np.uint8)
    rgb[..., 2] = 200  # blue in rgb8
    stamp = stamp_time(70)
    header = rig.publish(depth, stamp=stamp)
    rig.rgb_pub.publish(numpy_to_image(rgb[..., ::-1].copy(), 'bgr8', header))
    assert rig.spin_until(lambda: rig.received['overlay'] and rig.received['tf'])
    overlay = image_to_numpy(rig.received['overlay'][-1])
    assert overlay.shape == rgb.shape
    assert (overlay == [0, 0, 200]).all(axis=2).mean() > 0.5  # the background is the RGB
    assert (overlay != [0, 0, 200]).any(axis=2).sum() > 20  # a skeleton is drawn over it
    children = {t.child_frame_id: t.header.frame_id for t in rig.received['tf'][-1].transforms}
    assert children['body_b0'] == CAMERA_FRAME and children['torso_b0'] == 'body_b0'
    assert rig.spin_until(lambda: rig.listener.count_publishers(
        '/humans/bodies/b0/joint_states') == 1, 5)
