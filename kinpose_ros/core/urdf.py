"""URDF of a skeleton, so ``robot_state_publisher`` + RViz RobotModel draw a body from the
``sensor_msgs/JointState`` that the pose node publishes.

Mapping: one link per skeleton frame (named ``<prefix><frame>``). A frame with DoFs becomes a
chain of revolute joints (one per DoF, named like the DoF = the JointState names), with
intermediate links ``<prefix><frame>__<dof>``; a frame without DoFs is a fixed joint. Every
link draws a sphere at its origin (keypoints only) and a cylinder for each bone to a child.
The root link has no parent: the pose node publishes ``<camera frame> -> <prefix><root>`` on
TF, robot_state_publisher (with ``frame_prefix``) does the rest.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from kinpose_ros.core.skeleton import Skeleton


def _fmt(values) -> str:
    return ' '.join(f'{float(v):.6g}' for v in values)


def _bone_rpy(vec: np.ndarray) -> tuple:
    """Roll-pitch-yaw turning a cylinder's z axis onto ``vec``."""
    x, y, z = vec / max(np.linalg.norm(vec), 1e-12)
    pitch = math.atan2(math.hypot(x, y), z)
    yaw = math.atan2(y, x)
    return 0.0, pitch, yaw


def skeleton_to_urdf(sk: Skeleton, prefix: str = '', bone_radius: float | None = None) -> str:
    """URDF XML text for ``sk``; ``prefix`` is prepended to link names (not joint names)."""
    unit = 1.0 if sk.units == 'm' else 0.01
    radius = bone_radius if bone_radius is not None else 0.015 * unit
    robot = ET.Element('robot', name=sk.name)
    children: dict = {}
    for f, frame in enumerate(sk.frames):
        if frame.parent >= 0:
            children.setdefault(frame.parent, []).append(f)
    keypoint_frames = set(int(i) for i in sk.keypoint_frames)
    for f, frame in enumerate(sk.frames):
        link = ET.SubElement(robot, 'link', name=prefix + frame.name)
        if f in keypoint_frames:
            _visual(link, 'sphere', radius=f'{2 * radius:.4g}')
        for c in children.get(f, []):
            vec = sk.frames[c].offset * sk.scale
            length = float(np.linalg.norm(vec))
            if length > 1e-9:
                _visual(link, 'cylinder', origin=(vec / 2, _bone_rpy(vec)),
                        radius=f'{radius:.4g}', length=f'{length:.6g}')
        if frame.parent < 0:
            continue
        parent_link = prefix + sk.frames[frame.parent].name
        offset = frame.offset * sk.scale
        if not frame.dofs:
            joint = ET.SubElement(robot, 'joint', name=f'{frame.name}_fixed', type='fixed')
            ET.SubElement(joint, 'parent', link=parent_link)
            ET.SubElement(joint, 'child', link=prefix + frame.name)
            ET.SubElement(joint, 'origin', xyz=_fmt(offset), rpy='0 0 0')
            continue
        for k, dof in enumerate(frame.dofs):
            last = k == len(frame.dofs) - 1
            child = prefix + frame.name if last else f'{prefix}{frame.name}__{dof.name}'
            if not last:
                ET.SubElement(robot, 'link', name=child)
            joint = ET.SubElement(robot, 'joint', name=dof.name, type='revolute')
            ET.SubElement(joint, 'parent', link=parent_link)
            ET.SubElement(joint, 'child', link=child)
            ET.SubElement(joint, 'origin', xyz=_fmt(offset if k == 0 else (0, 0, 0)),
                          rpy='0 0 0')
            ET.SubElement(joint, 'axis', xyz=_fmt(dof.axis))
            ET.SubElement(joint, 'limit', lower=f'{dof.lower:.6g}', upper=f'{dof.upper:.6g}',
                          effort='0', velocity='10')
            parent_link = child
    ET.indent(robot)
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding='unicode') + '\n'


def _visual(link: ET.Element, shape: str, origin: tuple | None = None, **attrs) -> None:
    visual = ET.SubElement(link, 'visual')
    if origin is not None:
        ET.SubElement(visual, 'origin', xyz=_fmt(origin[0]), rpy=_fmt(origin[1]))
    geometry = ET.SubElement(visual, 'geometry')
    ET.SubElement(geometry, shape, **attrs)
