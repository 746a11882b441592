"""Replay a rosbag2 recording (MCAP or SQLite) through an estimator into a new MCAP bag, with the
``rosbags`` library: no ``ros2 bag``, no rosbag2 install, no running nodes.

Input messages are deserialised by rosbags (its message classes carry the same field names, which
is all :mod:`~kinpose_ros.ros.frame_input` needs); depth and CameraInfo are paired with the
node's :class:`~kinpose_ros.ros.time_sync.ApproximateTimeSync` and decoded by the node's own
functions. Outputs are built by :func:`~kinpose_ros.ros.messages.frame_messages` exactly as the
node builds them, converted to rosbags' message classes (:func:`to_rosbags`) and serialised to
CDR by rosbags (rclpy's serialiser appends alignment padding that strict CDR readers such as
rosbags reject):

* ``/tf`` (tf2_msgs/TFMessage), ``/joint_states``, ``/markers``, and ``/robot_description`` once;
* the input depth and CameraInfo topics, copied unchanged (unless ``copy_inputs`` is off), so
  the output bag alone shows depth and skeletons together.

Output messages are written at the bag time of their depth image; their header stamps are the
image stamps. A rosbag2 bag is a folder: ``out.mcap`` becomes the folder ``out/`` holding
``out.mcap`` and ``metadata.yaml`` (``ros2 bag play out`` / Foxglove open either).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from kinpose_ros.ros.frame_input import (
    CameraModelCache,
    DepthSettings,
    InputError,
    decode_depth_frame,
)
from kinpose_ros.ros.messages import PoseMessages, frame_messages, stamp_to_seconds
from kinpose_ros.ros.person_frames import FrameNaming
from kinpose_ros.ros.time_sync import ApproximateTimeSync

IMAGE = 'sensor_msgs/msg/Image'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
OUTPUT_TYPES = {'/tf': 'tf2_msgs/msg/TFMessage', '/joint_states': 'sensor_msgs/msg/JointState',
                '/markers': 'visualization_msgs/msg/MarkerArray',
                '/robot_description': 'std_msgs/msg/String'}


@dataclass
class ReplaySummary:
    """What a replay did."""

    output: Path                        # the bag folder written
    depth_topic: str
    camera_info_topic: str
    frames_in: int = 0                  # depth images read
    frames_out: int = 0                 # frames the estimator processed
    people: int = 0                     # PoseResults over all frames
    messages_written: int = 0
    problems: dict = field(default_factory=dict)  # InputError kind -> count
    estimator_ms: list = field(default_factory=list)
    seconds: float = 0.0


_NUMERIC = {'boolean': np.bool_, 'byte': np.uint8, 'octet': np.uint8, 'char': np.uint8,
            'uint8': np.uint8, 'int8': np.int8, 'int16': np.int16, 'uint16': np.uint16,
            'int32': np.int32, 'uint32': np.uint32, 'int64': np.int64, 'uint64': np.uint64,
            'float': np.float32, 'double': np.float64}


def _type_name(msg) -> str:
    """'sensor_msgs/msg/JointState' of an rclpy message instance."""
    return f'{type(msg).__module__.split(".")[0]}/msg/{type(msg).__name__}'


def to_rosbags(msg, typestore) -> Any:
    """An rclpy message -> the equal rosbags message (for ``typestore.serialize_cdr``)."""
    cls = typestore.types[_type_name(msg)]
    kwargs = {}
    for name, ftype in msg.get_fields_and_field_types().items():
        value = getattr(msg, name)
        element = ftype.split('<', 1)[1].rsplit('>', 1)[0] if ftype.startswith('sequence<') \
            else ftype.split('[', 1)[0]
        element = element.split(',')[0].strip()
        is_seq = ftype.startswith('sequence<') or '[' in ftype
        if '/' in element:  # nested message(s)
            kwargs[name] = [to_rosbags(v, typestore) for v in value] if is_seq else \
                to_rosbags(value, typestore)
        elif is_seq and element in _NUMERIC:
            kwargs[name] = np.asarray(value, dtype=_NUMERIC[element])
        elif is_seq:
            kwargs[name] = list(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def output_folder(out: str | Path) -> Path:
    """``out.mcap`` -> ``out`` (a rosbag2 bag is a folder); any other name is the folder."""
    out = Path(out)
    return out.with_suffix('') if out.suffix == '.mcap' else out


def _pick(connections: list, msgtype: str, wanted: str, hint: str, what: str):
    found = [c for c in connections if c.msgtype == msgtype]
    if wanted:
        match = [c for c in found if c.topic == wanted]
        if not match:
            raise ValueError(f'{what} topic {wanted!r} is not in the bag; {msgtype} topics: '
                             f'{sorted(c.topic for c in found)}')
        return match[0].topic
    topics = sorted({c.topic for c in found})
    if len(topics) == 1:
        return topics[0]
    hinted = [t for t in topics if hint in t]
    if len(hinted) == 1:
        return hinted[0]
    raise ValueError(f'cannot choose the {what} topic among {topics or "none"}: pass it '
                     'explicitly')


class _FrameWriter:
    """Runs the estimator on synced pairs and writes their messages (state: markers, URDF)."""

    def __init__(self, writer, typestore, estimator, builder: PoseMessages,
                 depth_settings: DepthSettings, summary: ReplaySummary) -> None:
        self.writer, self.typestore, self.estimator = writer, typestore, estimator
        self.builder, self.depth_settings, self.summary = builder, depth_settings, summary
        self.outs = {t: writer.add_connection(t, m, typestore=typestore)
                     for t, m in OUTPUT_TYPES.items()}
        self.cameras = CameraModelCache()
        self.shown: set = set()
        self.first = True
        self.urdf_written = False
        self.bag_ns = 0  # bag time of the newest depth image

    def write(self, topic: str, msg) -> None:
        data = self.typestore.serialize_cdr(to_rosbags(msg, self.typestore), OUTPUT_TYPES[topic])
        self.writer.write(self.outs[topic], self.bag_ns, data)
        self.summary.messages_written += 1

    def _people(self, depth, info, header: Header) -> list | None:
        """The estimate for one pair; None when the frame is unusable."""
        s = self.summary
        try:
            intr = self.cameras.get(info)
            depth_m = decode_depth_frame(depth, intr, self.depth_settings)
        except InputError as exc:
            s.problems[exc.kind] = s.problems.get(exc.kind, 0) + 1
            return [] if exc.kind == 'no_valid_depth' else None
        t0 = time.perf_counter()
        result = self.estimator(depth_m, intr, stamp=stamp_to_seconds(header.stamp))
        s.estimator_ms.append((time.perf_counter() - t0) * 1e3)
        s.frames_out += 1
        s.people += len(result.people)
        return list(result.people)

    def on_pair(self, depth, info) -> None:
        if not self.urdf_written:
            self.write('/robot_description', self.builder.urdf())
            self.urdf_written = True
        header = Header(stamp=Time(sec=int(depth.header.stamp.sec),
                                   nanosec=int(depth.header.stamp.nanosec)),
                        frame_id=str(depth.header.frame_id))
        people = self._people(depth, info, header)
        if people is None:
            return
        out = frame_messages(self.builder, people, header, self.shown, self.first)
        self.shown = out.shown_ids
        self.first = self.first and out.markers is None
        if out.tf is not None and out.tf.transforms:
            self.write('/tf', out.tf)
        for _, msg in out.joint_states:
            self.write('/joint_states', msg)
        if out.markers is not None:
            self.write('/markers', out.markers)


def replay_bag(bag_in: str | Path, bag_out: str | Path, estimator: Any,
               depth_topic: str = '', camera_info_topic: str = '',
               naming: FrameNaming | None = None, copy_inputs: bool = True,
               slop_s: float = 0.02, max_frames: int = 0,
               depth_settings: DepthSettings | None = None,
               progress: Callable[[int, int], None] | None = None) -> ReplaySummary:
    """Run ``estimator`` (``__call__(depth_m, intrinsics, rgb=None, stamp=None) ->
    FrameResult`` with a ``skeleton``) over every depth frame of ``bag_in``.

    ``progress(done, total)`` is called after each depth image. Raises ValueError when topics are
    missing or ambiguous, FileExistsError when the output folder exists.
    """
    from rosbags.highlevel import AnyReader  # noqa: PLC0415
    from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: PLC0415
    from rosbags.typesys import Stores, get_typestore  # noqa: PLC0415

    t_start = time.perf_counter()
    out_dir = output_folder(bag_out)
    if out_dir.exists():
        raise FileExistsError(f'output bag {out_dir} exists; remove it or choose another name')
    typestore = get_typestore(Stores.ROS2_KILTED)
    builder = PoseMessages(estimator.skeleton, naming or FrameNaming())
    with AnyReader([Path(bag_in)], default_typestore=typestore) as reader:
        conns = list(reader.connections)
        depth_topic = _pick(conns, IMAGE, depth_topic, 'depth', 'depth')
        info_topic = _pick(conns, CAMERA_INFO, camera_info_topic,
                           depth_topic.rsplit('/', 1)[0], 'CameraInfo')
        summary = ReplaySummary(out_dir, depth_topic, info_topic)
        inputs = [c for c in conns if c.topic in (depth_topic, info_topic)]
        total = sum(c.msgcount for c in inputs if c.topic == depth_topic)
        with Writer(out_dir, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            frames = _FrameWriter(writer, typestore, estimator, builder,
                                  depth_settings or DepthSettings(), summary)
            copies = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=typestore)
                      for c in inputs} if copy_inputs else {}
            sync = ApproximateTimeSync(2, slop_s, 10, frames.on_pair)
            for conn, t_ns, raw in reader.messages(connections=inputs):
                if conn.topic in copies:
                    writer.write(copies[conn.topic], t_ns, raw)
                msg = reader.deserialize(raw, conn.msgtype)
                stamp = stamp_to_seconds(msg.header.stamp)
                if conn.topic != depth_topic:
                    sync.add(1, stamp, msg)
                    continue
                summary.frames_in += 1
                frames.bag_ns = t_ns
                sync.add(0, stamp, msg)
                if progress is not None:
                    progress(summary.frames_in, total)
                if max_frames and summary.frames_in >= max_frames:
                    break
    summary.seconds = time.perf_counter() - t_start
    return summary
