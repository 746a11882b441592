"""PoseResult -> ROS messages: pure functions of their inputs (no node, no publishing).

Every message copies ``stamp`` and ``frame_id`` from the input image's header (REP-105/118: no
``now()`` stamps, no hard-coded ``map``/``base_link``). Frame names and the transform tree are
described in :mod:`kinpose_ros.ros.person_frames`.

Markers (``visualization_msgs/MarkerArray``), per person in namespace ``person_<id>`` (REP-155:
``body_<id>``): ids ``0..J-1`` one SPHERE per joint (alpha and size grow with the joint's
confidence), id ``J`` a LINE_LIST of the bones, id ``J+1`` a TEXT label ``<id> (<score>)`` above
the highest joint. The colour is a fixed hue per person id. People who left get DELETE actions
for all their ids; a joint that is not finite gets DELETE for its sphere.
"""
from __future__ import annotations

import colorsys
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, TransformStamped
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import ColorRGBA, Header, String
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.rotations import matrix_to_quaternion
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.core.urdf import skeleton_to_urdf
from kinpose_ros.inference.types import PoseResult
from kinpose_ros.ros.person_frames import FrameNaming, SkeletonFrames, relative_transforms

__all__ = [
    'FrameMessages', 'MarkerStyle', 'PoseMessages', 'camera_info_message', 'diagnostics_message',
    'frame_messages', 'person_colour', 'rename_urdf_links', 'stamp_to_seconds', 'urdf_message',
]

_GOLDEN = 0.618033988749895


def stamp_to_seconds(stamp) -> float:
    """``builtin_interfaces/Time`` -> float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def person_colour(person_id: int, alpha: float = 1.0) -> ColorRGBA:
    """A fixed, well-separated colour per id (golden-ratio hues)."""
    r, g, b = colorsys.hsv_to_rgb((person_id * _GOLDEN) % 1.0, 0.85, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))


def _duration(seconds: float) -> Duration:
    sec = int(math.floor(seconds))
    return Duration(sec=sec, nanosec=int(round((seconds - sec) * 1e9)))


class MarkerStyle:
    """Marker sizes: ``joint_diameter_m`` at confidence 1; ``lifetime_s`` 0 = forever."""

    def __init__(self, joint_diameter_m: float = 0.06, lifetime_s: float = 0.5) -> None:
        self.joint_diameter_m = float(joint_diameter_m)
        self.lifetime_s = float(lifetime_s)


class PoseMessages:
    """Builds TF, JointState, markers and the URDF for one skeleton and one naming scheme."""

    def __init__(self, skeleton: Skeleton, naming: FrameNaming | None = None,
                 style: MarkerStyle | None = None) -> None:
        self.skeleton = skeleton
        self.naming = naming or FrameNaming()
        self.style = style or MarkerStyle()
        self._frames = SkeletonFrames(skeleton)

    # ------------------------------------------------------------------ TF
    def transforms(self, result: PoseResult, header: Header) -> list[TransformStamped]:
        """All frames of one person, parents first, stamped with ``header.stamp``.

        Raises:
            ValueError: non-finite or malformed transforms (tf2 would drop them).
        """
        tree = self._frames.tree(result.joint_transforms, result.root_transform,
                                 result.joint_angles, result.scale)
        pid, naming = int(result.person_id), self.naming
        body = naming.body(pid)
        parent_pose = None
        pairs, mats = [], []
        if body is not None:
            parent_pose = np.asarray(result.root_transform, dtype=np.float64)
            if parent_pose.shape != (4, 4):
                parent_pose = tree.poses[0]
            pairs.append((header.frame_id, body))
            mats.append(parent_pose[None])
        mats.append(relative_transforms(tree, parent_pose))
        top = body if body is not None else header.frame_id
        for i, name in enumerate(tree.names):
            p = tree.parents[i]
            pairs.append((top if p < 0 else naming.frame(pid, tree.names[p]),
                          naming.frame(pid, name)))
        return self._transforms(header.stamp, pairs, np.concatenate(mats))

    @staticmethod
    def _transforms(stamp, pairs: list, T: np.ndarray) -> list[TransformStamped]:
        """TransformStamped per (parent, child) and (K, 4, 4) transform, checked as tf2 would
        (one vectorised check; ``make_transform_stamped`` per frame costs 10x more)."""
        finite = np.isfinite(T).all(axis=(1, 2))
        if not finite.all():
            bad = [pairs[i] for i in np.nonzero(~finite)[0]]
            raise ValueError(f'transforms {bad[:3]} are not finite')
        for parent, child in pairs:
            if not parent or not child or parent == child:
                raise ValueError(f'transform {parent!r} -> {child!r}: frame ids must be '
                                 'non-empty and different')
        quats = matrix_to_quaternion(T[:, :3, :3])  # unit, w >= 0
        out = []
        for (parent, child), t, q in zip(pairs, T[:, :3, 3].tolist(), quats.tolist()):
            msg = TransformStamped(child_frame_id=child)
            msg.header.stamp, msg.header.frame_id = stamp, parent
            tr, rot = msg.transform.translation, msg.transform.rotation
            tr.x, tr.y, tr.z = t
            rot.x, rot.y, rot.z, rot.w = q
            out.append(msg)
        return out

    def tf_message(self, results: Sequence[PoseResult], header: Header) -> tuple[TFMessage, list]:
        """ONE ``TFMessage`` with every frame of every person, and the ids left out (with the
        reason) because their transforms were not valid."""
        transforms, skipped = [], []
        for r in results:
            try:
                transforms += self.transforms(r, header)
            except ValueError as exc:
                skipped.append((int(r.person_id), str(exc)))
        return TFMessage(transforms=transforms), skipped

    # ------------------------------------------------------------------ JointState
    def joint_state(self, result: PoseResult, header: Header) -> JointState | None:
        """Angles (rad) and velocities (rad/s) named ``skeleton.joint_state_names``.

        ``header.frame_id`` is the person's root frame (it says whose state this is); None when
        the angles are missing or not finite.
        """
        sk = self.skeleton
        pos = np.asarray(result.joint_angles, dtype=np.float64).reshape(-1)
        vel = np.asarray(result.joint_velocities, dtype=np.float64).reshape(-1)
        if pos.shape != (sk.num_dofs,) or not np.isfinite(pos).all():
            return None
        if vel.shape != pos.shape or not np.isfinite(vel).all():
            vel = np.zeros_like(pos)
        root = self.naming.frame(int(result.person_id), sk.frame_names[0])
        msg = JointState()
        msg.header = Header(stamp=header.stamp, frame_id=root)
        msg.name = list(sk.joint_state_names)
        msg.position = pos.tolist()
        msg.velocity = vel.tolist()
        return msg

    # ------------------------------------------------------------------ markers
    def markers(self, results: Sequence[PoseResult], header: Header,
                removed_ids: Iterable[int] = (), delete_all: bool = False) -> MarkerArray:
        """Joint spheres, bone lines and a label per person; DELETE for ``removed_ids``.

        ``delete_all`` puts one DELETEALL first (clears what an earlier run left in RViz).
        """
        out = MarkerArray()
        base = Header(stamp=header.stamp, frame_id=header.frame_id)
        if delete_all:
            out.markers.append(Marker(header=base, action=Marker.DELETEALL))
        for pid in removed_ids:
            ns = self.naming.person(int(pid))
            for i in range(self.skeleton.num_joints + 2):
                out.markers.append(Marker(header=base, ns=ns, id=i, action=Marker.DELETE))
        for r in results:
            out.markers += self._person_markers(r, base)
        return out

    def _person_markers(self, r: PoseResult, header: Header) -> list[Marker]:
        sk, style = self.skeleton, self.style
        pid = int(r.person_id)
        ns = self.naming.person(pid)
        xyz = np.asarray(r.joints_xyz, dtype=np.float64).reshape(-1, 3)
        conf = np.clip(np.nan_to_num(np.asarray(r.confidence, dtype=np.float64).reshape(-1)),
                       0.0, 1.0)
        if xyz.shape[0] != sk.num_joints or conf.shape[0] != sk.num_joints:
            raise ValueError(f'person {pid}: joints_xyz {xyz.shape} / confidence {conf.shape} '
                             f'do not fit skeleton {sk.name!r} with {sk.num_joints} joints')
        finite = np.isfinite(xyz).all(axis=1)
        lifetime = _duration(style.lifetime_s)
        markers = []
        for j in range(sk.num_joints):
            m = Marker(header=header, ns=ns, id=j)
            if not finite[j]:
                m.action = Marker.DELETE
                markers.append(m)
                continue
            m.type, m.action, m.lifetime = Marker.SPHERE, Marker.ADD, lifetime
            m.pose.position = Point(x=xyz[j, 0], y=xyz[j, 1], z=xyz[j, 2])
            m.pose.orientation.w = 1.0
            d = style.joint_diameter_m * (0.4 + 0.6 * conf[j])
            m.scale.x = m.scale.y = m.scale.z = d
            m.color = person_colour(pid, 0.25 + 0.75 * conf[j])
            markers.append(m)
        bones = Marker(header=header, ns=ns, id=sk.num_joints, type=Marker.LINE_LIST,
                       action=Marker.ADD, lifetime=lifetime)
        bones.pose.orientation.w = 1.0
        bones.scale.x = style.joint_diameter_m / 3
        for a, b in sk.bones:
            if finite[a] and finite[b]:
                bones.points += [Point(x=xyz[a, 0], y=xyz[a, 1], z=xyz[a, 2]),
                                 Point(x=xyz[b, 0], y=xyz[b, 1], z=xyz[b, 2])]
                alpha = 0.25 + 0.75 * min(conf[a], conf[b])
                bones.colors += [person_colour(pid, alpha)] * 2
        if not bones.points:
            bones.action = Marker.DELETE
        markers.append(bones)
        label = Marker(header=header, ns=ns, id=sk.num_joints + 1)
        if finite.any():
            top = xyz[finite][np.argmin(xyz[finite, 1])]  # optical frame: y down
            label.type, label.action, label.lifetime = Marker.TEXT_VIEW_FACING, Marker.ADD, \
                lifetime
            label.pose.position = Point(x=top[0], y=top[1] - 0.15, z=top[2])
            label.pose.orientation.w = 1.0
            label.scale.z = 0.1
            label.color = person_colour(pid)
            label.text = f'{pid} ({float(r.score):.2f})'
        else:
            label.action = Marker.DELETE
        markers.append(label)
        return markers

    # ------------------------------------------------------------------ URDF
    def urdf(self, person_id: int | None = None) -> String:
        """The skeleton URDF. Default naming: links are the plain skeleton frame names (RViz
        RobotModel with "TF Prefix" ``person_<id>`` draws person ``<id>``). With REP-155 naming
        and a ``person_id``: the per-body URDF whose links are that body's TF frames."""
        text = skeleton_to_urdf(self.skeleton)
        if person_id is not None and self.naming.rep155:
            text = rename_urdf_links(text, lambda link: self.naming.frame(person_id, link))
        return String(data=text)


@dataclass
class FrameMessages:
    """Everything one input frame produces (None / empty where disabled or nothing to say)."""

    tf: TFMessage | None
    skipped: list                 # (person_id, reason) left out of TF
    joint_states: list            # (person_id, JointState)
    markers: MarkerArray | None
    shown_ids: set                # ids with markers after this frame
    gone_ids: list                # ids that left with this frame


def frame_messages(builder: PoseMessages, people: Sequence[PoseResult], header: Header,
                   shown_ids: set, first: bool, tf: bool = True, joint_states: bool = True,
                   markers: bool = True) -> FrameMessages:
    """The messages of one frame, given the ids shown so far (markers of people who left are
    deleted; ``first`` adds a DELETEALL). No TF or JointState when nobody is there."""
    tf_msg, skipped, states = None, [], []
    if tf and people:
        tf_msg, skipped = builder.tf_message(people, header)
    if joint_states:
        for person in people:
            msg = builder.joint_state(person, header)
            if msg is not None:
                states.append((int(person.person_id), msg))
    ids = {int(p.person_id) for p in people}
    gone = sorted(set(shown_ids) - ids)
    marker_msg = None
    if markers and (people or gone or first):
        marker_msg = builder.markers(people, header, gone, delete_all=first)
    return FrameMessages(tf_msg, skipped, states, marker_msg, ids, gone)


def rename_urdf_links(urdf: str, rename) -> str:
    """URDF text with every link name (and joint parent/child reference) mapped by ``rename``."""
    robot = ET.fromstring(urdf)
    for link in robot.iter('link'):
        link.set('name', rename(link.get('name')))
    for joint in robot.iter('joint'):
        for tag in ('parent', 'child'):
            el = joint.find(tag)
            if el is not None:
                el.set('link', rename(el.get('link')))
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding='unicode') + '\n'


def urdf_message(skeleton: Skeleton) -> String:
    """``std_msgs/String`` with the skeleton URDF (links = plain skeleton frame names)."""
    return String(data=skeleton_to_urdf(skeleton))


def diagnostics_message(header: Header, name: str, level: int | bytes, message: str,
                        values: Mapping[str, object], hardware_id: str = '') -> DiagnosticArray:
    """One-status ``diagnostic_msgs/DiagnosticArray``; floats printed with 4 significant digits.

    ``level``: ``DiagnosticStatus.OK`` (0), ``WARN`` (1), ``ERROR`` (2) or ``STALE`` (3), as the
    message constant (bytes) or an int.
    """
    if isinstance(level, bytes):
        level = level[0]
    status = DiagnosticStatus(level=bytes([int(level)]), name=name, message=message,
                              hardware_id=hardware_id)
    for key, value in values.items():
        text = f'{value:.4g}' if isinstance(value, float) else str(value)
        status.values.append(KeyValue(key=str(key), value=text))
    return DiagnosticArray(header=header, status=[status])


def camera_info_message(intrinsics: Intrinsics, header: Header) -> CameraInfo:
    """``sensor_msgs/CameraInfo`` of an undistorted pinhole image (no binning, no ROI)."""
    i = intrinsics
    msg = CameraInfo(header=Header(stamp=header.stamp, frame_id=header.frame_id),
                     width=i.width, height=i.height, distortion_model='plumb_bob')
    msg.d = [0.0] * 5
    msg.k = [i.fx, 0.0, i.cx, 0.0, i.fy, i.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [i.fx, 0.0, i.cx, 0.0, 0.0, i.fy, i.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
