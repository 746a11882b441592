"""Output frames of a person: their names and their tree of transforms (numpy, no ROS types).

Frames
------
Every skeleton frame (the keypoints and the auxiliary frames such as ``spine`` or
``head_base``, i.e. every URDF link that draws something) becomes one TF frame; the tree is the
skeleton's frame tree, its root parented on the input image's ``frame_id``:

* default naming: ``<prefix>person_<id>/<frame>``; the skeleton root (``torso`` for body15)
  hangs directly below the camera frame;
* REP-155 (ROS4HRI) naming: ``<prefix>body_<id>`` (the estimator's ``root_transform``) below the
  camera frame, then ``<prefix><frame>_<id>`` frames, the root one at identity below ``body_<id>``.
  ``<id>`` is the REP-155 body id ``b<person id>`` (``b3``): ROS4HRI ids also name topics
  (``/humans/bodies/<id>/...``) and a topic name token must not start with a digit.
  (REP-155 puts ``body_<id>`` at the hip mid-point; the body15 root is the torso joint, same axes:
  x forward out of the chest, y left, z up.)

Poses: keypoint frames take the estimator's ``joint_transforms`` as they are (position AND
orientation); auxiliary frames come from forward kinematics of ``root_transform``,
``joint_angles`` and ``scale``. Each published transform is ``inv(G_parent) @ G_child`` of these
absolute poses, so the tree reproduces every absolute pose exactly, consistent or not. When the
angles are unusable (wrong length, non-finite) only the keypoints are published, each parented on
its nearest keypoint ancestor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.kinematics import KinematicTables, forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton


@dataclass(frozen=True)
class FrameNaming:
    """How output frames (and per-person topics) are named; see the module docstring."""

    prefix: str = ''
    rep155: bool = False

    @staticmethod
    def body_id(person_id: int) -> str:
        """REP-155 body id of a tracked person: ``b<person id>``."""
        return f'b{int(person_id)}'

    def person(self, person_id: int) -> str:
        """Person name (marker namespace): ``person_<id>`` or ``body_b<id>`` (REP-155)."""
        if self.rep155:
            return f'body_{self.body_id(person_id)}'
        return f'person_{person_id}'

    def frame(self, person_id: int, name: str) -> str:
        """TF frame id of skeleton frame ``name`` of person ``person_id``."""
        if self.rep155:
            return f'{self.prefix}{name}_{self.body_id(person_id)}'
        return f'{self.prefix}person_{person_id}/{name}'

    def body(self, person_id: int) -> str | None:
        """The extra body frame between camera and skeleton root (REP-155 only), else None."""
        return f'{self.prefix}body_{self.body_id(person_id)}' if self.rep155 else None

    def topic_namespace(self, person_id: int) -> str:
        """Per-body topic namespace (REP-155): ``humans/bodies/b<id>``."""
        return f'humans/bodies/{self.body_id(person_id)}'

    def tf_prefix(self, person_id: int) -> str:
        """RViz RobotModel "TF Prefix" that maps URDF link ``x`` to ``frame(id, x)`` (default
        naming only; REP-155 names need the per-body URDF instead)."""
        return f'{self.prefix}person_{person_id}'


@dataclass
class PersonTree:
    """One person's frames: ``names[i]`` has parent ``parents[i]`` (-1: the camera or body
    frame), absolute pose ``poses[i]`` = camera <- frame (4, 4)."""

    names: list            # skeleton frame names, parents first
    parents: np.ndarray    # (K,) int
    poses: np.ndarray      # (K, 4, 4) camera optical frame, metres
    complete: bool         # False: keypoints only (angles unusable)


class SkeletonFrames:
    """Computes :class:`PersonTree` for results of one skeleton (tables built once)."""

    def __init__(self, skeleton: Skeleton) -> None:
        self.skeleton = skeleton
        self._tables = KinematicTables.of(skeleton)
        self._kp_of_frame = {int(f): k for k, f in enumerate(skeleton.keypoint_frames)}

    def tree(self, joint_transforms: np.ndarray, root_transform: np.ndarray,
             joint_angles: np.ndarray, scale: float = 1.0) -> PersonTree:
        """Absolute poses of every frame of one person.

        Args:
            joint_transforms: (J, 4, 4) camera <- keypoint frame.
            root_transform: (4, 4) camera <- skeleton root frame.
            joint_angles: (D,) radians in ``skeleton.joint_state_names`` order.
            scale: person size relative to the skeleton.

        Raises:
            ValueError: ``joint_transforms`` is not (J, 4, 4).
        """
        sk = self.skeleton
        kp = np.asarray(joint_transforms, dtype=np.float64)
        if kp.shape != (sk.num_joints, 4, 4):
            raise ValueError(f'joint_transforms must be ({sk.num_joints}, 4, 4) for skeleton '
                             f'{sk.name!r}, got {kp.shape}')
        angles = np.asarray(joint_angles, dtype=np.float64).reshape(-1)
        root = np.asarray(root_transform, dtype=np.float64)
        usable = (angles.shape == (sk.num_dofs,) and root.shape == (4, 4)
                  and np.isfinite(angles).all() and np.isfinite(root).all()
                  and np.isfinite(scale) and scale > 0)
        if not usable:
            return PersonTree(list(sk.joint_names), sk.parents.copy(), kp, complete=False)
        params = np.zeros((1, sk.num_params))
        params[0, sk.num_params - sk.num_dofs:] = angles
        _, local = forward_kinematics_np(self._tables, params, scale=np.array([scale]),
                                         all_frames=True)
        poses = root @ local[0]  # zero root parameters = identity root: G = root @ local
        for f, k in self._kp_of_frame.items():
            poses[f] = kp[k]
        return PersonTree(list(sk.frame_names), sk.frame_parents.copy(), poses, complete=True)


def relative_transforms(tree: PersonTree, parent_pose: np.ndarray | None = None) -> np.ndarray:
    """(K, 4, 4) transform of each frame in its parent; roots relative to ``parent_pose``
    (default identity = the camera frame)."""
    inv = np.linalg.inv(tree.poses)
    out = np.empty_like(tree.poses)
    root_inv = np.eye(4) if parent_pose is None else np.linalg.inv(parent_pose)
    for i, p in enumerate(tree.parents):
        out[i] = (root_inv if p < 0 else inv[p]) @ tree.poses[i]
    return out
