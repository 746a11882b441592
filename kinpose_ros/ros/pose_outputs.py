"""Everything the pose node publishes, behind one object that takes the node (as tf2_ros'
TransformBroadcaster does) instead of living in the node class.

Topics (relative names resolve in the node's namespace):

========================================  =====================================  ==============
topic                                      type                                   QoS
========================================  =====================================  ==============
``/tf``                                    tf2_msgs/TFMessage (all frames, one    reliable, 100
                                           message per input frame)
``joint_states``                           sensor_msgs/JointState, one per person reliable, 10
``humans/bodies/b<id>/joint_states``       the same, per body (REP-155 only)      reliable, 10
``markers``                                visualization_msgs/MarkerArray         reliable, 10
``robot_description``                      std_msgs/String, URDF, once            transient local
``humans/bodies/b<id>/urdf``               per-body URDF (REP-155 only), once     transient local
``overlay/image_raw``                      sensor_msgs/Image rgb8 (optional)      sensor data
``/diagnostics``                           diagnostic_msgs/DiagnosticArray        reliable, 10
========================================  =====================================  ==============
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.types import FrameResult
from kinpose_ros.ros.conversions import TfPublisher, numpy_to_image
from kinpose_ros.ros.messages import MarkerStyle, PoseMessages, frame_messages
from kinpose_ros.ros.overlay import colourise_depth, draw_people
from kinpose_ros.ros.params import PoseParams
from kinpose_ros.ros.person_frames import FrameNaming


def latched_qos() -> QoSProfile:
    """Reliable, transient local, depth 1: late subscribers get the last message (URDF)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class PoseOutputs:
    """Publishers of one pose node; :meth:`publish` sends one frame's results."""

    def __init__(self, node, skeleton: Skeleton, params: PoseParams) -> None:
        self._node, self._params = node, params
        pub = params.publish
        self.naming = FrameNaming(params.frames.prefix, params.frames.rep155)
        self.builder = PoseMessages(skeleton, self.naming, MarkerStyle(
            params.markers.joint_diameter_m, params.markers.lifetime_s))
        self._tf = TfPublisher(node) if pub.tf else None
        self._joint_states = node.create_publisher(JointState, 'joint_states', 10) \
            if pub.joint_states else None
        self._markers = node.create_publisher(MarkerArray, 'markers', 10) \
            if pub.markers else None
        self._overlay = node.create_publisher(Image, 'overlay/image_raw',
                                              qos_profile_sensor_data) if pub.overlay else None
        self._diagnostics = node.create_publisher(DiagnosticArray, '/diagnostics', 10) \
            if pub.diagnostics else None
        self._urdf = None
        if pub.urdf:
            self._urdf = node.create_publisher(String, 'robot_description', latched_qos())
            self._urdf.publish(self.builder.urdf())
        self._per_body: dict[int, list] = {}   # REP-155: id -> [joint_states pub, urdf pub]
        self._shown: set[int] = set()          # ids with markers in RViz
        self._first_markers = True

    def publish(self, result: FrameResult, header: Header, depth_m: np.ndarray | None = None,
                intrinsics: Intrinsics | None = None, rgb: np.ndarray | None = None) -> list:
        """Publish one frame (``header`` = the input image's stamp and frame_id).

        Returns the ``(person_id, reason)`` pairs left out of TF because their transforms were
        invalid (tf2 would have dropped them).
        """
        people = list(result.people)
        out = frame_messages(self.builder, people, header, self._shown, self._first_markers,
                             tf=self._tf is not None,
                             joint_states=self._joint_states is not None or self.naming.rep155,
                             markers=self._markers is not None)
        if out.tf is not None and out.tf.transforms:
            self._tf.sendTransform(out.tf.transforms)
        for pid, msg in out.joint_states:
            if self._joint_states is not None:
                self._joint_states.publish(msg)
            if self.naming.rep155:
                self._body_publishers(pid)[0].publish(msg)
        if out.markers is not None:
            self._markers.publish(out.markers)
            self._first_markers = False
        for pid in out.gone_ids:
            self._drop_body(pid)
        self._shown = out.shown_ids
        if self._overlay is not None and depth_m is not None and intrinsics is not None:
            background = rgb if rgb is not None else colourise_depth(depth_m)
            img = draw_people(background, people, self.builder.skeleton.bones, intrinsics)
            self._overlay.publish(numpy_to_image(img, 'rgb8', header))
        return out.skipped

    def publish_diagnostics(self, msg: DiagnosticArray) -> None:
        if self._diagnostics is not None:
            self._diagnostics.publish(msg)

    def _body_publishers(self, pid: int) -> list:
        pubs = self._per_body.get(pid)
        if pubs is None:
            base = self.naming.topic_namespace(pid)
            pubs = [self._node.create_publisher(JointState, f'{base}/joint_states', 10),
                    self._node.create_publisher(String, f'{base}/urdf', latched_qos())]
            pubs[1].publish(self.builder.urdf(person_id=pid))
            self._per_body[pid] = pubs
        return pubs

    def _drop_body(self, pid: int) -> None:
        for pub in self._per_body.pop(pid, []):
            self._node.destroy_publisher(pub)

    def destroy(self) -> None:
        """Release every publisher (the node stays alive)."""
        for pid in list(self._per_body):
            self._drop_body(pid)
        if self._tf is not None:
            self._tf.destroy()
            self._tf = None
        for name in ('_joint_states', '_markers', '_overlay', '_diagnostics', '_urdf'):
            pub = getattr(self, name)
            if pub is not None:
                self._node.destroy_publisher(pub)
                setattr(self, name, None)
