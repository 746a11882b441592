"""Helper PROCESS for the cross-process tests: records what the pose node publishes.

    python topic_recorder.py OUT.json --frames N --timeout S [--namespace NS]

Subscribes (as a tf2 listener would: /tf reliable volatile depth 100) to /tf, joint_states and
markers; exits when N TF messages arrived or after S seconds, writing every message as JSON.
Runs in its own process with the environment of the test (loopback discovery, private domain).
"""
import argparse
import json
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from sensor_msgs.msg import JointState
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from kinpose_ros.ros.conversions import tf_qos


def transform_dict(t) -> dict:
    tr, q = t.transform.translation, t.transform.rotation
    return {'parent': t.header.frame_id, 'child': t.child_frame_id,
            'stamp': [t.header.stamp.sec, t.header.stamp.nanosec],
            'translation': [tr.x, tr.y, tr.z], 'rotation': [q.x, q.y, q.z, q.w]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--frames', type=int, default=3)
    ap.add_argument('--timeout', type=float, default=30.0)
    args = ap.parse_args()
    rclpy.init()
    node = rclpy.create_node('kinpose_test_recorder')
    got = {'tf': [], 'joint_states': [], 'markers': []}
    node.create_subscription(TFMessage, '/tf', lambda m: got['tf'].append(
        [transform_dict(t) for t in m.transforms]), tf_qos())
    node.create_subscription(JointState, 'joint_states', lambda m: got['joint_states'].append(
        {'frame_id': m.header.frame_id, 'stamp': [m.header.stamp.sec, m.header.stamp.nanosec],
         'name': list(m.name), 'position': list(m.position), 'velocity': list(m.velocity)}), 10)
    node.create_subscription(MarkerArray, 'markers', lambda m: got['markers'].append(
        [{'ns': k.ns, 'id': k.id, 'type': k.type, 'action': k.action,
          'frame_id': k.header.frame_id} for k in m.markers]), 10)
    print('recorder ready', flush=True)
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and len(got['tf']) < args.frames:
            rclpy.spin_once(node, timeout_sec=0.05)
        end = time.monotonic() + 0.3  # let the JointState / markers of the last frame arrive
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        with open(args.out, 'w') as f:
            json.dump(got, f)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
