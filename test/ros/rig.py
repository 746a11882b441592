"""A test rig: a private rclpy context, a camera publisher node and a listener node recording
everything the pose node publishes, driven by ``spin_once`` with deadlines."""
from __future__ import annotations

import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from scene import CAMERA_FRAME, INTRINSICS
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header, String
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from kinpose_ros.core.depth import encode_depth
from kinpose_ros.ros.conversions import numpy_to_image, tf_qos
from kinpose_ros.ros.messages import camera_info_message
from kinpose_ros.ros.pose_outputs import latched_qos


class Rig:
    """Camera publisher + recorder around one pose node (all in one private context)."""

    def __init__(self, context, namespace: str = '') -> None:
        self.context = context
        self.executor = SingleThreadedExecutor(context=context)
        self.camera = rclpy.create_node('test_camera', namespace=namespace, context=context)
        self.listener = rclpy.create_node('test_listener', namespace=namespace, context=context)
        self.depth_pub = self.camera.create_publisher(Image, 'depth/image_raw',
                                                      qos_profile_sensor_data)
        self.info_pub = self.camera.create_publisher(CameraInfo, 'depth/camera_info',
                                                     qos_profile_sensor_data)
        self.rgb_pub = self.camera.create_publisher(Image, 'rgb/image_raw',
                                                    qos_profile_sensor_data)
        self.received = {'tf': [], 'joint_states': [], 'markers': [], 'urdf': [],
                         'diagnostics': [], 'overlay': []}
        sub = self.listener.create_subscription
        sub(TFMessage, '/tf', self.received['tf'].append, tf_qos())
        sub(JointState, 'joint_states', self.received['joint_states'].append, 10)
        sub(MarkerArray, 'markers', self.received['markers'].append, 10)
        sub(String, 'robot_description', self.received['urdf'].append, latched_qos())
        sub(DiagnosticArray, '/diagnostics', self.received['diagnostics'].append, 10)
        sub(Image, 'overlay/image_raw', self.received['overlay'].append,
            qos_profile_sensor_data)
        self.executor.add_node(self.camera)
        self.executor.add_node(self.listener)
        self.node = None

    def add(self, node) -> None:
        self.node = node
        self.executor.add_node(node)

    def spin_until(self, condition, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return condition()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def connected(self, timeout_s: float = 10.0) -> bool:
        """Wait until the node subscribes to the camera and the listener to the node."""
        return self.spin_until(lambda: self.depth_pub.get_subscription_count() > 0
                               and self.info_pub.get_subscription_count() > 0
                               and self.listener.count_publishers('/tf') > 0, timeout_s)

    def publish(self, depth=None, stamp: Time | None = None, info: CameraInfo | None = None,
                encoding: str = '16UC1', frame_id: str = CAMERA_FRAME, image: Image | None = None,
                intrinsics=INTRINSICS) -> Header:
        """Publish one depth image (array in metres, or a ready ``image``) and its CameraInfo."""
        header = Header(stamp=stamp or self.camera.get_clock().now().to_msg(), frame_id=frame_id)
        if image is None:
            raw = encode_depth(depth, encoding)
            image = numpy_to_image(raw, encoding, header)
        image.header = header
        if info is None:
            info = camera_info_message(intrinsics, header)
        info.header = header
        self.info_pub.publish(info)
        self.depth_pub.publish(image)
        return header

    def destroy(self) -> None:
        self.executor.shutdown()
        if self.node is not None:
            self.node.destroy_node()
        self.camera.destroy_node()
        self.listener.destroy_node()


def stamp_time(sec: int, nanosec: int = 0) -> Time:
    return Time(sec=sec, nanosec=nanosec)


def translations(tf_msgs, child: str) -> list:
    return [np.array([t.transform.translation.x, t.transform.translation.y,
                      t.transform.translation.z])
            for m in tf_msgs for t in m.transforms if t.child_frame_id == child]
