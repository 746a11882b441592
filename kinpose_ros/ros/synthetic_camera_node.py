"""``synthetic_camera_node``: a depth camera without a camera, with ground truth.

Publishes, at ``rate_hz``, depth (``16UC1`` mm or ``32FC1`` m) + ``CameraInfo`` (+ RGB) from the
synthetic generator or from depth files (:mod:`~kinpose_ros.ros.camera_sources`), stamped with the
current time (each frame is repeated ``hold_frames`` times with new stamps, so the pose node's
tracking sees still people), and the ground-truth joints on ``ground_truth/joints`` as a
``visualization_msgs/MarkerArray``: a DELETEALL, then one SPHERE_LIST per person (``ns``
``ground_truth``, ``id`` = person index, ``points`` = joints in the skeleton's keypoint order in
the depth image's frame and stamp, ``text`` = the comma-separated joint names). It draws the
truth in RViz and is what ``kinpose demo`` scores against. Depth, CameraInfo and RGB use the
sensor-data QoS (like camera drivers); the ground truth is reliable.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from kinpose_ros.core.depth import encode_depth
from kinpose_ros.ros.camera_sources import FileSource, SourceFrame, SynthSource
from kinpose_ros.ros.conversions import make_transform_stamped, numpy_to_image, tf_static_qos
from kinpose_ros.ros.messages import camera_info_message
from kinpose_ros.ros.params import declare_and_read, param

# (x, y, z, w) rotation base (x forward, y left, z up) <- optical (x right, y down, z forward)
OPTICAL_IN_BASE = (-0.5, 0.5, -0.5, 0.5)


@dataclass(frozen=True)
class SynthParams:
    count: int = param(16, 'scenes generated at start, then looped', range=(1, 10000))
    seed: int = param(0, 'generator seed (scenes are deterministic for it)', range=(0, 2**31 - 1))
    sensor: str = param('itop', 'sensor model of the generator (kinpose_ros.data.synth.scene.'
                        'SENSOR_TECH)')
    people_min: int = param(1, 'fewest people per scene', range=(0, 8))
    people_max: int = param(1, 'most people per scene', range=(0, 8))
    noise: bool = param(True, 'simulate sensor noise, holes and flying pixels')
    clutter: bool = param(True, 'walls, furniture and occluders')


@dataclass(frozen=True)
class CameraTopics:
    depth: str = param('depth/image_raw', 'depth image topic')
    camera_info: str = param('depth/camera_info', 'CameraInfo topic')
    rgb: str = param('rgb/image_raw', 'RGB topic (when publish_rgb)')
    ground_truth: str = param('ground_truth/joints', 'ground-truth joints (MarkerArray)')


@dataclass(frozen=True)
class CameraParams:
    """Parameters of ``synthetic_camera_node``."""

    source: str = param('synth', 'synth: generated people; files: depth files at path',
                        choices=('synth', 'files'))
    path: str = param('', 'files source: a folder of depth files or one file (16-bit PNG, '
                      '.npy)')
    preset: str = param('itop', 'files source: sensor preset for the intrinsics (ignored when '
                        'fx > 0)')
    fx: float = param(0.0, 'files source: focal length x in pixels (0 = use the preset)',
                      range=(0.0, 1e5))
    fy: float = param(0.0, 'files source: focal length y (0 = fx)', range=(0.0, 1e5))
    cx: float = param(0.0, 'files source: principal point x', range=(-1e5, 1e5))
    cy: float = param(0.0, 'files source: principal point y', range=(-1e5, 1e5))
    depth_unit_m: float = param(0.001, 'files source: metres per raw integer unit (SR305: '
                                '0.000125)', range=(1e-6, 1.0))
    rate_hz: float = param(30.0, 'frames per second', range=(0.1, 1000.0))
    hold_frames: int = param(1, 'publish each frame this many times (new stamps each time)',
                             range=(1, 100000))
    max_frames: int = param(0, 'stop after publishing this many (0 = never)',
                            range=(0, 2**31 - 1))
    frame_id: str = param('camera_depth_optical_frame', 'frame_id of every message')
    base_frame: str = param('camera_link', 'publish the static transform base_frame -> frame_id '
                            '(REP-103: optical z forward = base x forward) on /tf_static, as '
                            'camera drivers do; empty = none')
    encoding: str = param('16UC1', 'depth encoding', choices=('16UC1', '32FC1'))
    publish_rgb: bool = param(False, 'also publish RGB (synth source with rgb)')
    topics: CameraTopics = CameraTopics()
    synth: SynthParams = SynthParams()


def source_from_params(p: CameraParams):
    """The frame source the parameters describe."""
    if p.source == 'files':
        if not p.path:
            raise ValueError("parameter 'path' is required for source 'files'")
        return FileSource(p.path, preset=p.preset, depth_unit_m=p.depth_unit_m, fx=p.fx,
                          fy=p.fy, cx=p.cx, cy=p.cy)
    s = p.synth
    return SynthSource(count=s.count, seed=s.seed, sensor=s.sensor,
                       people=(s.people_min, max(s.people_min, s.people_max)), noise=s.noise,
                       clutter=s.clutter, rgb=p.publish_rgb)


def ground_truth_markers(frame: SourceFrame, header: Header, joint_names: list) -> MarkerArray:
    """DELETEALL + one SPHERE_LIST of the ground-truth joints per person."""
    out = MarkerArray(markers=[Marker(header=header, ns='ground_truth',
                                      action=Marker.DELETEALL)])
    for i, joints in enumerate(frame.joints_xyz):
        m = Marker(header=header, ns='ground_truth', id=i, type=Marker.SPHERE_LIST,
                   action=Marker.ADD, text=','.join(joint_names))
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = m.scale.z = 0.04
        m.color = ColorRGBA(r=0.8, g=0.8, b=0.8, a=0.8)
        for x, y, z in joints:
            m.points.append(Point(x=float(x), y=float(y), z=float(z)))
        out.markers.append(m)
    return out


class SyntheticCameraNode(Node):
    """Publishes ``source`` frames at the parameter rate; ``source`` overrides the parameters'."""

    def __init__(self, source=None, node_name: str = 'synthetic_camera', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = p = declare_and_read(self, CameraParams)
        self.source = source if source is not None else source_from_params(p)
        self.joint_names = list(getattr(self.source, 'joint_names', []))
        self._depth = self.create_publisher(Image, p.topics.depth, qos_profile_sensor_data)
        self._info = self.create_publisher(CameraInfo, p.topics.camera_info,
                                           qos_profile_sensor_data)
        self._rgb = self.create_publisher(Image, p.topics.rgb, qos_profile_sensor_data) \
            if p.publish_rgb else None
        self._truth = self.create_publisher(MarkerArray, p.topics.ground_truth, 10)
        self._static = None
        if p.base_frame:
            self._static = self.create_publisher(TFMessage, '/tf_static', tf_static_qos())
            self._static.publish(TFMessage(transforms=[make_transform_stamped(
                self.get_clock().now().to_msg(), p.base_frame, p.frame_id, [0.0, 0.0, 0.0],
                OPTICAL_IN_BASE)]))
        self._cache: dict[int, tuple] = {}
        self.published = 0
        self.done = False
        self._timer = self.create_timer(1.0 / p.rate_hz, self._tick)
        self.get_logger().info(
            f'synthetic camera: {len(self.source)} frames from {p.source} at {p.rate_hz} Hz on '
            f'{self.resolve_topic_name(p.topics.depth)}, frame {p.frame_id}')

    def _messages(self, index: int) -> tuple:
        """Encoded messages of source frame ``index`` (built once; headers set per publish)."""
        if index not in self._cache:
            f, header = self.source[index], Header(frame_id=self.params.frame_id)
            enc = self.params.encoding
            depth = numpy_to_image(encode_depth(f.depth_m, enc), enc, header)
            info = camera_info_message(f.intrinsics, header)
            rgb = numpy_to_image(f.rgb, 'rgb8', header) if f.rgb is not None else None
            self._cache[index] = (depth, info, rgb, f)
        return self._cache[index]

    def _tick(self) -> None:
        p = self.params
        if p.max_frames and self.published >= p.max_frames:
            if not self.done:
                self.done = True
                self._timer.cancel()
                self.get_logger().info(f'published {self.published} frames; done')
            return
        index = (self.published // p.hold_frames) % len(self.source)
        depth, info, rgb, frame = self._messages(index)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=p.frame_id)
        depth.header = info.header = header
        self._info.publish(info)
        self._depth.publish(depth)
        if self._rgb is not None and rgb is not None:
            rgb.header = header
            self._rgb.publish(rgb)
        self._truth.publish(ground_truth_markers(frame, header, self.joint_names))
        self.published += 1


def main(args: list[str] | None = None) -> int:
    """Console script ``synthetic_camera_node``; exits after ``max_frames`` when set."""
    from kinpose_ros.ros.node_main import run_node  # noqa: PLC0415

    def spin_until_done(node: SyntheticCameraNode) -> None:
        import rclpy  # noqa: PLC0415

        while rclpy.ok() and not node.done:
            rclpy.spin_once(node, timeout_sec=0.1)

    return run_node(SyntheticCameraNode, 'synthetic_camera_node', spin=spin_until_done,
                    args=args)


if __name__ == '__main__':
    sys.exit(main())
