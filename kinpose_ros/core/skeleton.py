"""Articulated models as data: a :class:`Skeleton` is loaded from YAML and validated.

Schema (see ``config/skeletons/*.yaml``)::

    name: body15
    units: m                      # metres (toy chains use px)
    scale: 1.0                    # global scale applied to every offset
    root:
      joint: torso                # the root frame; it carries no DoFs of its own
      translation: [x, y, z]      # free root translation axes (toy chains: [x, y])
      rotation: free              # 'free' (3-D, axis-angle in the parameter vector),
                                  # 'none', or a list of axes, e.g. [z]
    joints:                       # any order; parents are resolved by name
      - name: neck
        parent: spine
        offset: [0.0, 0.0, 0.26]  # rest offset in the parent frame (after the parent's DoFs)
        keypoint: true            # false: an auxiliary frame (carries DoFs, not an output joint)
        dofs:                     # rotations of THIS joint's frame (they move its children)
          - {name: neck_flexion, axis: y, limits: [-0.8, 0.9]}   # axis: x|y|z|-x|-y|-z
    keypoints: [head, neck, ...]  # output order (default: keypoint joints in file order)
    pairs: [[l_shoulder, r_shoulder], ...]   # left/right pairs (for flips and checks)

Kinematics: the global transform of joint ``j`` with parent ``p`` is
``G_j = G_p @ T(scale * offset_j) @ R(dof_1) @ R(dof_2) @ ...`` (DoFs in listed order) and the
root's is ``G_root = T(root_translation) @ R(root_rotation)``. The motion-parameter vector is
``[root translation (one per axis), root rotation (3 axis-angle if free, else one angle per
axis), one angle per DoF in frame order]`` (radians, units of the skeleton).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

_AXES = {'x': (1.0, 0.0, 0.0), 'y': (0.0, 1.0, 0.0), 'z': (0.0, 0.0, 1.0)}


class SkeletonError(ValueError):
    """A skeleton definition is invalid; the message names the joint and the problem."""


def parse_axis(text: str, where: str) -> np.ndarray:
    """'x', '-y', ... -> unit vector (3,)."""
    s = str(text).strip().lower()
    sign = -1.0 if s.startswith('-') else 1.0
    key = s.lstrip('+-')
    if key not in _AXES:
        raise SkeletonError(f'{where}: axis must be one of x, y, z, -x, -y, -z; got {text!r}')
    return sign * np.array(_AXES[key])


@dataclass(frozen=True)
class Dof:
    name: str
    axis: np.ndarray  # (3,) unit vector in the joint frame
    lower: float      # radians
    upper: float


@dataclass(frozen=True)
class Joint:
    name: str
    parent: int       # index into Skeleton.frames; -1 for the root
    offset: np.ndarray  # (3,) in the parent frame, skeleton units, before global scale
    dofs: tuple = ()
    keypoint: bool = True


@dataclass
class Skeleton:
    """A validated articulated model. ``frames`` are in topological order (parents first).

    Attributes derived once at construction: DoF arrays, parameter names, keypoint indices and
    the keypoint tree (``parents``) used for bones, metrics and drawing.
    """

    name: str
    frames: list
    keypoint_frames: np.ndarray  # (J,) frame index of each output keypoint
    root_translation_axes: tuple  # indices into (x, y, z)
    root_rotation: str | tuple  # 'free' | 'none' | tuple of axis names
    scale: float = 1.0
    units: str = 'm'
    pairs: list = field(default_factory=list)  # [(left_kp_index, right_kp_index)]
    description: str = ''

    def __post_init__(self) -> None:
        dofs = [(fi, d) for fi, f in enumerate(self.frames) for d in f.dofs]
        self.dof_frame = np.array([fi for fi, _ in dofs], dtype=np.int64)
        self.dof_names = [d.name for _, d in dofs]
        self.dof_axis = np.array([d.axis for _, d in dofs], dtype=np.float64).reshape(-1, 3)
        self.dof_lower = np.array([d.lower for _, d in dofs], dtype=np.float64)
        self.dof_upper = np.array([d.upper for _, d in dofs], dtype=np.float64)
        self.frame_names = [f.name for f in self.frames]
        self.frame_parents = np.array([f.parent for f in self.frames], dtype=np.int64)
        self.frame_offsets = np.array([f.offset for f in self.frames], dtype=np.float64)
        kp_of_frame = {int(fi): k for k, fi in enumerate(self.keypoint_frames)}
        parents = []
        for fi in self.keypoint_frames:
            p = self.frame_parents[fi]
            while p >= 0 and int(p) not in kp_of_frame:
                p = self.frame_parents[p]
            parents.append(kp_of_frame[int(p)] if p >= 0 else -1)
        self.parents = np.array(parents, dtype=np.int64)
        self.joint_names = [self.frame_names[i] for i in self.keypoint_frames]

    # ---- sizes and names -------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        """Number of output keypoints J."""
        return len(self.keypoint_frames)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def num_dofs(self) -> int:
        return len(self.dof_names)

    @property
    def root_rotation_size(self) -> int:
        if self.root_rotation == 'free':
            return 3
        if self.root_rotation == 'none':
            return 0
        return len(self.root_rotation)

    @property
    def num_params(self) -> int:
        return len(self.root_translation_axes) + self.root_rotation_size + self.num_dofs

    @property
    def param_names(self) -> list:
        """Names of the motion-parameter vector, in order."""
        names = ['root_t' + 'xyz'[a] for a in self.root_translation_axes]
        if self.root_rotation == 'free':
            names += ['root_rx', 'root_ry', 'root_rz']
        elif self.root_rotation != 'none':
            names += [f'root_r{a.lstrip("+-")}' for a in self.root_rotation]
        return names + list(self.dof_names)

    @property
    def joint_state_names(self) -> list:
        """sensor_msgs/JointState names: one per DoF (the URDF's revolute joints)."""
        return list(self.dof_names)

    @property
    def bones(self) -> list:
        """(parent_kp, child_kp) index pairs of the keypoint tree."""
        return [(int(p), c) for c, p in enumerate(self.parents) if p >= 0]

    @property
    def flip_permutation(self) -> np.ndarray:
        """Keypoint permutation that swaps left and right."""
        perm = np.arange(self.num_joints)
        for a, b in self.pairs:
            perm[a], perm[b] = b, a
        return perm

    def rest_bone_lengths(self) -> np.ndarray:
        """(num_bones,) bone lengths of the keypoint tree at the global scale."""
        from kinpose_ros.core.kinematics import forward_kinematics_np  # noqa: PLC0415

        joints, _ = forward_kinematics_np(self, np.zeros((1, self.num_params)))
        return np.array([np.linalg.norm(joints[0, c] - joints[0, p]) for p, c in self.bones])

    def clip_angles(self, angles: np.ndarray) -> np.ndarray:
        """Clamp DoF angles (..., D) to the limits."""
        return np.clip(angles, self.dof_lower, self.dof_upper)

    # ---- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str | Path) -> Skeleton:
        """Load a shipped skeleton by name (``body15``) or any YAML file by path."""
        path = Path(name_or_path)
        if not path.suffix:
            from kinpose_ros.resources import find  # noqa: PLC0415

            path = find(f'config/skeletons/{name_or_path}.yaml')
        if not path.is_file():
            raise FileNotFoundError(f'skeleton file {path} does not exist')
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = '<dict>') -> Skeleton:
        return _build(data, source)

    def to_dict(self) -> dict:
        """The YAML-schema dictionary (round-trips through :meth:`from_dict`)."""
        joints = []
        for f in self.frames:
            entry = {'name': f.name,
                     'parent': None if f.parent < 0 else self.frame_names[f.parent],
                     'offset': [float(v) for v in f.offset]}
            if not f.keypoint:
                entry['keypoint'] = False
            if f.dofs:
                entry['dofs'] = [{'name': d.name, 'axis': _axis_name(d.axis),
                                  'limits': [d.lower, d.upper]} for d in f.dofs]
            joints.append(entry)
        rot = self.root_rotation if isinstance(self.root_rotation, str) else list(
            self.root_rotation)
        return {'name': self.name, 'description': self.description, 'units': self.units,
                'scale': self.scale,
                'root': {'joint': self.frame_names[0],
                         'translation': ['xyz'[a] for a in self.root_translation_axes],
                         'rotation': rot},
                'joints': joints, 'keypoints': list(self.joint_names),
                'pairs': [[self.joint_names[a], self.joint_names[b]] for a, b in self.pairs]}


def _axis_name(axis: np.ndarray) -> str:
    i = int(np.argmax(np.abs(axis)))
    return ('-' if axis[i] < 0 else '') + 'xyz'[i]


def load_skeleton(name_or_path: str | Path) -> Skeleton:
    """Shorthand for :meth:`Skeleton.load`."""
    return Skeleton.load(name_or_path)


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise SkeletonError(msg)


def _parse_joint(entry: dict, where: str) -> tuple:
    _require(isinstance(entry, dict) and 'name' in entry, f'{where}: each joint needs a name')
    name = str(entry['name'])
    offset = np.asarray(entry.get('offset', [0, 0, 0]), dtype=np.float64)
    _require(offset.shape == (3,) and np.all(np.isfinite(offset)),
             f'{where}: joint {name!r}: offset must be 3 finite numbers, '
             f'got {entry.get("offset")}')
    dofs = []
    for k, d in enumerate(entry.get('dofs') or []):
        dname = str(d.get('name', f'{name}_dof{k}'))
        lim = d.get('limits', [-np.pi, np.pi])
        _require(len(lim) == 2, f'{where}: DoF {dname!r}: limits must be [lower, upper]')
        lo, hi = float(lim[0]), float(lim[1])
        _require(lo <= hi, f'{where}: DoF {dname!r} of joint {name!r}: limits out of order '
                 f'({lo} > {hi})')
        dofs.append(Dof(dname, parse_axis(d.get('axis', ''), f'{where}: DoF {dname!r}'), lo, hi))
    return name, entry.get('parent'), offset, tuple(dofs), bool(entry.get('keypoint', True))


def _topological(names: list, parents: dict, root: str, where: str) -> list:
    children: dict = {}
    for n in names:
        p = parents[n]
        if p is not None:
            _require(p in parents, f'{where}: joint {n!r} has unknown parent {p!r}')
            children.setdefault(p, []).append(n)
    order, stack = [], [root]
    while stack:
        n = stack.pop(0)
        order.append(n)
        stack.extend(children.get(n, []))
    missing = [n for n in names if n not in order]
    _require(not missing, f'{where}: joints {missing} are not connected to the root {root!r} '
             '(a cycle in the parent links, or a second root)')
    return order


def _build(data: dict, source: str) -> Skeleton:
    _require(isinstance(data, dict), f'{source}: expected a mapping at the top level')
    for key in ('name', 'root', 'joints'):
        _require(key in data, f'{source}: missing required key {key!r}')
    parsed = [_parse_joint(e, source) for e in data['joints']]
    names = [p[0] for p in parsed]
    dup = sorted({n for n in names if names.count(n) > 1})
    _require(not dup, f'{source}: duplicate joint names {dup}')
    by_name = {p[0]: p for p in parsed}
    root_spec = data['root']
    root = str(root_spec.get('joint', ''))
    _require(root in by_name, f'{source}: root joint {root!r} is not among the joints')
    _require(by_name[root][1] is None, f'{source}: the root joint {root!r} must have no parent')
    _require(not by_name[root][3], f'{source}: the root joint {root!r} cannot carry DoFs; use '
             'root.rotation')
    others = [n for n in names if by_name[n][1] is None and n != root]
    _require(not others, f'{source}: joints {others} have no parent (only the root may)')
    order = _topological(names, {n: by_name[n][1] for n in names}, root, source)
    index = {n: i for i, n in enumerate(order)}
    frames = [Joint(n, -1 if by_name[n][1] is None else index[by_name[n][1]], by_name[n][2],
                    by_name[n][3], by_name[n][4]) for n in order]
    dof_names = [d.name for f in frames for d in f.dofs]
    dup = sorted({n for n in dof_names if dof_names.count(n) > 1})
    _require(not dup, f'{source}: duplicate DoF names {dup}')
    kp_names = data.get('keypoints') or [n for n in names if by_name[n][4]]
    for n in kp_names:
        _require(n in index, f'{source}: keypoint {n!r} is not a joint')
        _require(by_name[n][4], f'{source}: keypoint {n!r} is marked keypoint: false')
    _require(len(set(kp_names)) == len(kp_names), f'{source}: duplicate keypoints')
    kp_index = {n: k for k, n in enumerate(kp_names)}
    pairs = []
    for pair in data.get('pairs') or []:
        _require(len(pair) == 2 and all(p in kp_index for p in pair),
                 f'{source}: pair {pair} must name two keypoints')
        pairs.append((kp_index[pair[0]], kp_index[pair[1]]))
    trans = root_spec.get('translation', ['x', 'y', 'z'])
    _require(all(a in ('x', 'y', 'z') for a in trans), f'{source}: root.translation axes must '
             f'be among x, y, z; got {trans}')
    rot = root_spec.get('rotation', 'free')
    if not isinstance(rot, str):
        for a in rot:
            parse_axis(a, f'{source}: root.rotation')
        rot = tuple(str(a) for a in rot)
    else:
        _require(rot in ('free', 'none'), f'{source}: root.rotation must be free, none or a list '
                 f'of axes; got {rot!r}')
    scale = float(data.get('scale', 1.0))
    _require(scale > 0 and np.isfinite(scale), f'{source}: scale must be positive, got {scale}')
    return Skeleton(name=str(data['name']), frames=frames,
                    keypoint_frames=np.array([index[n] for n in kp_names], dtype=np.int64),
                    root_translation_axes=tuple('xyz'.index(a) for a in trans),
                    root_rotation=rot, scale=scale, units=str(data.get('units', 'm')),
                    pairs=pairs, description=str(data.get('description', '')))
