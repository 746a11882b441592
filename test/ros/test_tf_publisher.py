"""TfPublisher end to end: one node publishes, another subscribes to /tf as a tf2 listener would.

In-process, two nodes in one private rclpy context, an executor driven with spin_once and a
deadline (the session's conftest keeps discovery on loopback in a private domain).
"""
import time

import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from tf2_msgs.msg import TFMessage

from kinpose_ros.ros.conversions import TfPublisher, make_transform_stamped, tf_qos

pytestmark = pytest.mark.ros

# RIHS01 type hash of the real tf2_msgs/msg/TFMessage: a stand-in with another hash would be
# invisible to tf2 listeners on other machines.
TFMESSAGE_HASH = 'RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087'
TIMEOUT_S = 10.0


@pytest.fixture
def nodes(context):
    talker = rclpy.create_node('kinpose_tf_talker', context=context)
    listener = rclpy.create_node('kinpose_tf_listener', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(talker)
    executor.add_node(listener)
    try:
        yield talker, listener, executor
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()


def tf2_accepts(transform) -> bool:
    """tf2's silent acceptance rules for one TransformStamped."""
    t, q = transform.transform.translation, transform.transform.rotation
    values = np.array([t.x, t.y, t.z, q.x, q.y, q.z, q.w])
    parent, child = transform.header.frame_id, transform.child_frame_id
    return (bool(np.isfinite(values).all()) and abs(float(values[3:] @ values[3:]) - 1.0) < 0.01
            and parent != child and bool(parent) and bool(child))


def spin_until(executor, condition, timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.05)
    return condition()


def test_all_frames_arrive_in_one_message(nodes):
    talker, listener, executor = nodes
    received = []
    listener.create_subscription(TFMessage, '/tf', received.append, tf_qos())
    tf = TfPublisher(talker)
    assert spin_until(executor, lambda: talker.count_subscribers('/tf') > 0), 'no discovery'

    stamp = Time(sec=42, nanosec=7)
    children = ['pelvis', 'spine', 'head', 'l_hand']
    angle = np.linspace(0.1, 1.2, len(children))
    frames = [make_transform_stamped(stamp, 'camera_depth_optical_frame', child,
                                     [0.1 * i, -0.2, 2.0 + i],
                                     [0.0, np.sin(a / 2), 0.0, np.cos(a / 2)])
              for i, (child, a) in enumerate(zip(children, angle))]
    tf.sendTransform(frames)
    assert spin_until(executor, lambda: len(received) > 0), 'TFMessage not received on /tf'
    executor.spin_once(timeout_sec=0.2)  # a second (split) message would show up here

    assert len(received) == 1, f'expected ONE TFMessage, got {len(received)}'
    got = received[0].transforms
    assert [t.child_frame_id for t in got] == children
    for sent, t in zip(frames, got):
        assert t.header.stamp == stamp
        assert t.header.frame_id == 'camera_depth_optical_frame'
        assert tf2_accepts(t), f'tf2 would drop {t}'
        assert t.transform == sent.transform

    infos = listener.get_publishers_info_by_topic('/tf')
    assert [i.topic_type for i in infos] == ['tf2_msgs/msg/TFMessage']
    assert str(infos[0].topic_type_hash) == TFMESSAGE_HASH
    tf.destroy()
    with pytest.raises(RuntimeError, match='after destroy'):
        tf.sendTransform(frames)


def test_acceptance_rules_catch_bad_frames():
    """The stand-in listener would notice frames tf2 drops (so the test above can fail)."""
    good = make_transform_stamped(Time(), 'a', 'b', [0, 0, 0], [0, 0, 0, 1])
    assert tf2_accepts(good)
    same = make_transform_stamped(Time(), 'a', 'b', [0, 0, 0], [0, 0, 0, 1])
    same.child_frame_id = 'a'
    nan = make_transform_stamped(Time(), 'a', 'b', [0, 0, 0], [0, 0, 0, 1])
    nan.transform.translation.x = float('nan')
    scaled = make_transform_stamped(Time(), 'a', 'b', [0, 0, 0], [0, 0, 0, 1])
    scaled.transform.rotation.w = 1.01
    assert not any(tf2_accepts(t) for t in (same, nan, scaled))
