"""Cameras and scenes of the synthetic generator.

Conventions
-----------
* World: z up, the floor is ``z = 0``, metres. The camera sits at ``(0, 0, height)`` looking
  along world +x (yaw 0), pitched down by ``pitch`` and rolled by ``roll`` about its axis.
* Camera: REP-103 optical frame (x right, y down, z forward). :class:`CameraPose` holds
  ``R_cw, t_cw`` with ``X_cam = R_cw @ X_world + t_cw``.
* Scene objects are boxes (furniture, pillars, occluders, seats) as triangle meshes, and the room
  as planes (floor, walls, ceiling) rendered analytically; walls may be absent (no return).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics

# Sensors of the generator: preset name -> technology ('sl' structured light / active stereo
# with a shadow band, 'tof' time of flight). 'random' draws a random pinhole camera.
SENSOR_TECH = {
    'itop': 'sl', 'kinect_v1_320x240': 'sl', 'kinect_v2': 'tof',
    'azure_kinect_nfov_unbinned': 'tof', 'realsense_d435_640x480': 'sl',
    'realsense_d435_848x480': 'sl', 'realsense_sr305': 'sl', 'random': 'random',
}
DEFAULT_SENSORS = tuple(k for k in SENSOR_TECH if k != 'kinect_v1_320x240')
_RANDOM_SIZES = ((320, 240), (424, 240), (512, 424), (640, 480), (640, 576), (848, 480))
# camera optical axes in the world at zero pitch: cam x -> -y_w, cam y -> -z_w, cam z -> +x_w
_CAM_BASE = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

MAT_FLOOR, MAT_WALL, MAT_FURNITURE, MAT_OCCLUDER, MAT_PERSON = 0, 1, 6, 7, 8


def rotation(axis: int, angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    c, s = math.cos(angle), math.sin(angle)
    if axis == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == 1:
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def axis_angle(R: np.ndarray) -> np.ndarray:
    """(3, 3) rotation -> (3,) axis-angle, angle in [0, pi] (the result of
    ``core.rotations.matrix_to_axis_angle``, without its batching overhead)."""
    m = R.tolist()
    tr = m[0][0] + m[1][1] + m[2][2]
    # Shepperd's method: the quaternion from the largest of w, x, y, z (stable everywhere)
    if tr > max(m[0][0], m[1][1], m[2][2]):
        w = 0.5 * math.sqrt(max(1.0 + tr, 0.0))
        x, y, z = (m[2][1] - m[1][2]) / (4 * w), (m[0][2] - m[2][0]) / (4 * w), \
            (m[1][0] - m[0][1]) / (4 * w)
    elif m[0][0] >= m[1][1] and m[0][0] >= m[2][2]:
        x = 0.5 * math.sqrt(max(1.0 + m[0][0] - m[1][1] - m[2][2], 0.0))
        w, y, z = (m[2][1] - m[1][2]) / (4 * x), (m[0][1] + m[1][0]) / (4 * x), \
            (m[0][2] + m[2][0]) / (4 * x)
    elif m[1][1] >= m[2][2]:
        y = 0.5 * math.sqrt(max(1.0 - m[0][0] + m[1][1] - m[2][2], 0.0))
        w, x, z = (m[0][2] - m[2][0]) / (4 * y), (m[0][1] + m[1][0]) / (4 * y), \
            (m[1][2] + m[2][1]) / (4 * y)
    else:
        z = 0.5 * math.sqrt(max(1.0 - m[0][0] - m[1][1] + m[2][2], 0.0))
        w, x, y = (m[1][0] - m[0][1]) / (4 * z), (m[0][2] + m[2][0]) / (4 * z), \
            (m[1][2] + m[2][1]) / (4 * z)
    if w < 0:
        w, x, y, z = -w, -x, -y, -z
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return np.array([2 * x, 2 * y, 2 * z])
    angle = 2.0 * math.atan2(s, w)
    return np.array([x, y, z]) * (angle / s)


@dataclass(frozen=True)
class CameraPose:
    """World -> camera transform and how it was drawn (height m, pitch/roll radians)."""

    R_cw: np.ndarray
    t_cw: np.ndarray
    height: float
    pitch: float
    roll: float

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera optical frame."""
        return points_world @ self.R_cw.T + self.t_cw


@dataclass
class Scene:
    """Room planes (world, ``n . X + c = 0``, n into the room) and box meshes (world)."""

    planes: list = field(default_factory=list)  # [(normal (3,), c, material)]
    boxes: list = field(default_factory=list)  # [(verts (8, 3), material)]


def sample_intrinsics(rng: np.random.Generator, sensor: str,
                      size: tuple | None = None) -> tuple:
    """``(Intrinsics, technology)`` of a named sensor preset or a random camera.

    ``size`` = ``(width, height)`` resizes the image (intrinsics scaled accordingly).
    """
    if sensor not in SENSOR_TECH:
        raise ValueError(f'unknown sensor {sensor!r}; known: {sorted(SENSOR_TECH)}')
    if sensor == 'random':
        w, h = _RANDOM_SIZES[rng.integers(len(_RANDOM_SIZES))]
        f = w / 2 / np.tan(np.radians(rng.uniform(55.0, 90.0)) / 2)
        K = Intrinsics(w, h, f, f * rng.uniform(0.99, 1.01), (w - 1) / 2 + rng.normal(0, 0.02 * w),
                       (h - 1) / 2 + rng.normal(0, 0.02 * h))
        tech = 'sl' if rng.uniform() < 0.6 else 'tof'
    else:
        K, tech = SENSOR_PRESETS[sensor], SENSOR_TECH[sensor]
    if size is not None:
        K = K.with_size(int(size[0]), int(size[1]))
    return K, tech


def camera_pose(height: float, pitch: float, roll: float = 0.0) -> CameraPose:
    """The camera at ``(0, 0, height)``, looking along world +x, pitched down by ``pitch``."""
    R_wc = rotation(1, pitch) @ _CAM_BASE @ rotation(2, roll)
    R_cw = R_wc.T
    return CameraPose(R_cw, -R_cw @ np.array([0.0, 0.0, height]), height, pitch, roll)


def sample_camera(rng: np.random.Generator, target_distance: float) -> CameraPose:
    """Camera height 0.4-2.6 m, pitched to look near a point 0.5-1.4 m high at the person's
    distance (+- 8 deg), roll +- 2 deg."""
    height = float(np.clip(rng.normal(1.3, 0.45), 0.4, 2.6))
    aim = rng.uniform(0.5, 1.4)
    pitch = np.arctan2(height - aim, target_distance) + rng.normal(0.0, np.radians(8.0))
    pitch = float(np.clip(pitch, np.radians(-15.0), np.radians(60.0)))
    return camera_pose(height, pitch, float(rng.normal(0.0, np.radians(2.0))))


def sample_person_position(rng: np.random.Generator, K: Intrinsics, distance: float,
                           out_of_frame: float = 0.1) -> np.ndarray:
    """World (x, y) of a person at ground ``distance`` from the camera, inside the horizontal
    field of view (or, with probability ``out_of_frame``, straddling its edge)."""
    half_fov = np.arctan2(K.width / 2, K.fx)
    limit = half_fov * (1.15 if rng.uniform() < out_of_frame else 0.75)
    bearing = rng.uniform(-limit, limit)
    return np.array([distance * np.cos(bearing), -distance * np.sin(bearing)])


def sample_distance(rng: np.random.Generator, lo: float = 0.7, hi: float = 6.0) -> float:
    """Camera-to-person ground distance: 70 % within 1.5-4.5 m, the rest over [lo, hi]
    (all of it over [lo, hi] when that range does not overlap 1.5-4.5 m)."""
    core_lo, core_hi = max(lo, 1.5), min(hi, 4.5)
    if rng.uniform() < 0.7 and core_lo < core_hi:
        return float(rng.uniform(core_lo, core_hi))
    return float(rng.uniform(lo, hi))


def sample_room(rng: np.random.Generator, people_xy: np.ndarray, camera_height: float,
                clutter: bool) -> Scene:
    """Floor always; with clutter, walls behind and beside the people (never in front of them:
    ``people_xy`` (N, 2) world positions) and maybe a ceiling above the camera."""
    scene = Scene(planes=[(np.array([0.0, 0.0, 1.0]), 0.0, MAT_FLOOR)])
    if not clutter:
        return scene
    xy = np.asarray(people_xy, float).reshape(-1, 2)
    far_x = max(2.0, float(xy[:, 0].max(initial=0.0)))
    if rng.uniform() < 0.85:  # back wall facing the camera
        scene.planes.append((np.array([-1.0, 0.0, 0.0]), far_x + rng.uniform(0.3, 3.0),
                             MAT_WALL))
    for k, side in enumerate((1.0, -1.0)):  # y = +-d, beyond every person on that side
        beyond = max(0.0, float((side * xy[:, 1]).max(initial=0.0))) + 0.6
        if rng.uniform() < 0.6:
            scene.planes.append((np.array([0.0, -side, 0.0]),
                                 max(beyond, rng.uniform(1.2, 4.0)), MAT_WALL + 1 + k))
    if rng.uniform() < 0.3:
        top = max(camera_height + 0.3, rng.uniform(2.4, 3.2))
        scene.planes.append((np.array([0.0, 0.0, -1.0]), top, MAT_WALL + 3))
    return scene


_FURNITURE = {  # kind -> (size ranges (x, y, z) metres, material)
    'cabinet': (((0.3, 0.6), (0.4, 1.2), (0.6, 2.0)), MAT_FURNITURE),
    'table': (((0.5, 0.9), (0.6, 1.6), (0.65, 0.8)), MAT_FURNITURE),
    'chair': (((0.4, 0.5), (0.4, 0.5), (0.42, 0.5)), MAT_FURNITURE),
    'pillar': (((0.1, 0.4), (0.1, 0.4), (1.0, 2.5)), MAT_OCCLUDER),
    'low_wall': (((0.1, 0.3), (0.6, 1.5), (0.5, 1.1)), MAT_OCCLUDER),
}


def furniture(kind: str, rng: np.random.Generator, xy: np.ndarray, yaw: float) -> list:
    """Boxes ``[(center (3,), half (3,), rotation (3, 3), material)]`` of one object on the floor.

    Tables and chairs are a slab on four legs (chairs with a back); the others are one box.
    """
    ranges, mat = _FURNITURE[kind]
    size = np.array([rng.uniform(*r) for r in ranges])
    R = rotation(2, yaw)
    base = np.array([xy[0], xy[1], 0.0])
    if kind not in ('table', 'chair'):
        return [(base + [0, 0, size[2] / 2], size / 2, R, mat)]
    top = 0.04
    parts = [(base + [0, 0, size[2] - top / 2], np.array([size[0], size[1], top]) / 2, R, mat)]
    leg = 0.04
    for sx in (-1, 1):
        for sy in (-1, 1):
            off = R @ [sx * (size[0] / 2 - leg), sy * (size[1] / 2 - leg), 0.0]
            parts.append((base + off + [0, 0, (size[2] - top) / 2],
                          np.array([leg, leg, size[2] - top]) / 2, R, mat))
    if kind == 'chair':
        off = R @ [-size[0] / 2 + leg / 2, 0.0, 0.0]
        parts.append((base + off + [0, 0, size[2] + 0.22], np.array([leg, size[1], 0.44]) / 2,
                      R, mat))
    return parts


def random_furniture(rng: np.random.Generator) -> str:
    kinds = list(_FURNITURE)
    return kinds[rng.choice(len(kinds), p=[0.3, 0.25, 0.2, 0.15, 0.1])]
