"""Synthetic depth frames of people with labels: :class:`SynthGenerator`.

``SynthGenerator(config, seed).frame(index)`` is deterministic for ``(seed, index)`` (all
randomness comes from ``numpy.random.default_rng([seed, index])``), so frames can be generated
in any order and in parallel.

Conventions
-----------
* Depth and labels are in the camera optical frame of REP-103 (x right, y down, z forward,
  metres); pixels and boxes as in :mod:`kinpose_ros.core.camera` / :mod:`kinpose_ros.core.depth`.
* ``Frame.depth_raw`` is encoded with :func:`kinpose_ros.core.depth.encode_depth` (16UC1: uint16
  millimetres, 0 invalid; 32FC1: float32 metres, NaN invalid) and ``Frame.depth_m`` is its
  decoding (:func:`~kinpose_ros.core.depth.decode_depth`), exactly what a consumer would see.
* ``PersonLabel.params`` is the skeleton's motion-parameter vector with the root pose in the
  camera frame: ``forward_kinematics_np(skeleton, params[None], scale=[label.scale])`` gives
  ``joints_xyz``.
* Masks and ``person_ids`` come from the ideal render (before sensor dropouts): a person pixel
  may hold NaN depth. ``visible_fraction`` = mask pixels / pixels the unoccluded body would cover
  in an unbounded image (front-face coverage rasterised at <= 120 cells on the long side, so
  about +-3 % at the silhouette's edge cells).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinpose_ros.core.camera import Intrinsics, project
from kinpose_ros.core.depth import encode_depth
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.data.synth import render, scene
from kinpose_ros.data.synth.body import BodyModel
from kinpose_ros.data.synth.labels import joint_radii, joint_visibility, person_mask
from kinpose_ros.data.synth.poses import PosePrior, sample_heading
from kinpose_ros.data.synth.sensor import apply_sensor, encode_mm, sample_sensor_params

_NEAR_M = 0.05
_MIN_SEPARATION_M = 0.75
_SILHOUETTE_CELLS = 120  # long side of the coverage canvas of visible_fraction


@dataclass
class SynthConfig:
    """What the generator draws.

    Attributes:
        sensors: sensor names of :data:`scene.SENSOR_TECH` ('random' = a random pinhole camera),
            one drawn uniformly per frame.
        people: (min, max) number of people per frame, inclusive.
        clutter: walls, furniture and partial occluders (else floor only).
        noise: the sensor model (else ideal depth, quantised only by the encoding).
        rgb: also render a registered RGB image.
        encoding: '16UC1' (uint16 mm) or '32FC1' (float32 m) for ``Frame.depth_raw``.
        image_size: (width, height) to resize every sensor to, or None for native sizes.
        skeleton: skeleton name (needs a body asset built for it).
        distance_m: (min, max) camera-to-person ground distance.
        occluder_prob: probability per person of an object between it and the camera.
        out_of_frame_prob: probability per person of standing across the image border.
    """

    sensors: tuple = scene.DEFAULT_SENSORS
    people: tuple = (1, 1)
    clutter: bool = True
    noise: bool = True
    rgb: bool = False
    encoding: str = '16UC1'
    image_size: tuple | None = None
    skeleton: str = 'body15'
    distance_m: tuple = (0.7, 6.0)
    occluder_prob: float = 0.25
    out_of_frame_prob: float = 0.1

    def __post_init__(self) -> None:
        if isinstance(self.sensors, str):
            self.sensors = (self.sensors,)
        self.sensors = tuple(self.sensors)
        unknown = [s for s in self.sensors if s not in scene.SENSOR_TECH]
        if not self.sensors or unknown:
            raise ValueError(f'SynthConfig.sensors must name known sensors '
                             f'{sorted(scene.SENSOR_TECH)}; got {self.sensors}')
        lo, hi = (int(n) for n in self.people)
        if not 0 <= lo <= hi:
            raise ValueError(f'SynthConfig.people must be (min, max) with 0 <= min <= max, got '
                             f'{self.people}')
        self.people = (lo, hi)
        if self.encoding.upper() not in ('16UC1', '32FC1'):
            raise ValueError(f"SynthConfig.encoding must be '16UC1' or '32FC1', got "
                             f'{self.encoding!r}')
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))


@dataclass
class PersonLabel:
    """Ground truth of one person (camera optical frame; see the module conventions).

    Attributes:
        joints_xyz: (J, 3) float32 metres. joints_uv: (J, 2) float32 pixels.
        visible: (J,) bool, in the image and not hidden (by objects or the person's own body).
        params: (P,) float32 motion parameters, root pose in the camera frame.
        scale: skeleton global scale of this person.
        mask: (H, W) bool pixels showing this person. box_xyxy: (4,) float32 edge box of the mask
            (zeros when nothing is visible). visible_fraction: mask pixels / unoccluded
            unbounded silhouette pixels.
        template: the pose template drawn. height_m: standing body height (rest mesh).
    """

    joints_xyz: np.ndarray
    joints_uv: np.ndarray
    visible: np.ndarray
    params: np.ndarray
    scale: float
    mask: np.ndarray
    box_xyxy: np.ndarray
    visible_fraction: float
    template: str = ''
    height_m: float = 0.0


@dataclass
class Frame:
    """One synthetic frame.

    Attributes:
        depth_m: (H, W) float32 metres, NaN invalid. depth_raw: encoded per ``encoding``.
        intrinsics: the camera. rgb: (H, W, 3) uint8 registered colour image or None.
        people: labels sorted by distance (root depth). person_ids: (H, W) int16, -1 background,
            else the index into ``people``.
        sensor: the sensor name drawn. floor_plane: (4,) ``[nx, ny, nz, c]`` of the floor in the
            camera frame (``n . X + c = 0``, n up). camera_height_m, camera_pitch_rad: the pose.
    """

    depth_m: np.ndarray
    depth_raw: np.ndarray
    encoding: str
    intrinsics: Intrinsics
    rgb: np.ndarray | None
    people: list
    person_ids: np.ndarray
    sensor: str = ''
    floor_plane: np.ndarray = field(default_factory=lambda: np.zeros(4))
    camera_height_m: float = 0.0
    camera_pitch_rad: float = 0.0


@dataclass
class _Person:
    """A posed body in the world, before labelling."""

    verts_w: np.ndarray
    joints_w: np.ndarray
    R_wb: np.ndarray
    t_wb: np.ndarray
    angles: np.ndarray
    scale: float
    region: np.ndarray
    template: str
    xy: np.ndarray
    height: float
    seat: list


class SynthGenerator:
    """Deterministic synthetic frames (see the module docstring).

    Args:
        config: what to draw (default :class:`SynthConfig`).
        seed: base seed; frame ``i`` uses ``default_rng([seed, i])``.
        body: a :class:`BodyModel` to share between generators (loaded once otherwise).
    """

    def __init__(self, config: SynthConfig | None = None, seed: int = 0,
                 body: BodyModel | None = None) -> None:
        self.config = config or SynthConfig()
        self.seed = int(seed)
        self.skeleton = Skeleton.load(self.config.skeleton)
        self.body = body or BodyModel(self.skeleton)
        self.prior = PosePrior(self.skeleton)
        self.radii = joint_radii(self.skeleton.joint_names)
        self.faces = self.body.faces
        self.face_region = self.body.region[self.faces[:, 0]]
        self.kp_frames = self.skeleton.keypoint_frames
        self._frame = {n: i for i, n in enumerate(self.skeleton.frame_names)}
        self._face_tables: dict = {}

    # ------------------------------------------------------------------ sampling
    def _person(self, rng: np.random.Generator, K: Intrinsics, others: list) -> _Person:
        shape = self.body.sample_shape(rng)
        for _ in range(4):  # redraw poses that push an arm through the trunk
            pose = self.prior.sample(rng)
            rot, pos = self.body.frame_transforms(pose.tilt, np.zeros(3), pose.angles,
                                                  shape.scale)
            if not self._arm_in_trunk(rot, pos, shape.scale):
                break
        lo, hi = self.config.distance_m
        for _ in range(8):
            xy = scene.sample_person_position(rng, K, scene.sample_distance(rng, lo, hi),
                                              self.config.out_of_frame_prob)
            if all(np.linalg.norm(xy - o.xy) > _MIN_SEPARATION_M for o in others):
                break
        yaw = sample_heading(rng, float(np.arctan2(-xy[1], -xy[0])))
        R_wb = scene.rotation(2, yaw) @ pose.tilt
        rot, pos = self.body.frame_transforms(R_wb, np.array([xy[0], xy[1], 0.0]), pose.angles,
                                              shape.scale)
        verts = self.body.pose(shape, rot, pos)
        lift = -verts[:, 2].min()
        verts[:, 2] += lift
        pos[:, 2] += lift
        seat = []
        if pose.support == 'seat':
            seat = self._seat(rng, pos, R_wb, shape.scale)
        height = float(np.ptp(shape.vertices[:, 2]))
        return _Person(verts, pos[self.kp_frames], R_wb, np.array([xy[0], xy[1], lift]),
                       pose.angles, shape.scale, shape.region, pose.template, xy, height, seat)

    def _arm_in_trunk(self, rot: np.ndarray, pos: np.ndarray, scale: float) -> bool:
        """Whether an elbow, hand or mid-forearm lies inside the trunk (boxes in the torso and
        spine frames, metres at scale 1): a limb through the body, which real people avoid."""
        f = self._frame
        points = []
        for side in 'lr':
            elbow, hand = pos[f[f'{side}_elbow']], pos[f[f'{side}_hand']]
            points += [elbow, hand, 0.5 * (elbow + hand)]
        p = np.array(points)
        chest = (p - pos[f['spine']]) @ rot[f['spine']] / scale
        pelvis = (p - pos[f['torso']]) @ rot[f['torso']] / scale
        in_chest = (np.abs(chest[:, 1]) < 0.13) & (chest[:, 0] > -0.10) & (chest[:, 0] < 0.09) \
            & (chest[:, 2] > -0.02) & (chest[:, 2] < 0.27)
        in_pelvis = (np.abs(pelvis[:, 1]) < 0.14) & (np.abs(pelvis[:, 0]) < 0.10) & \
            (pelvis[:, 2] > -0.25) & (pelvis[:, 2] <= -0.02)
        return bool(np.any(in_chest | in_pelvis))

    def _seat(self, rng: np.random.Generator, frames_w: np.ndarray, R_wb: np.ndarray,
              scale: float) -> list:
        """A stool under the hips of a sitting body: [(center, half, rotation, material)]."""
        names = self.skeleton.frame_names
        hips = 0.5 * (frames_w[names.index('l_hip')] + frames_w[names.index('r_hip')])
        knees = 0.5 * (frames_w[names.index('l_knee')] + frames_w[names.index('r_knee')])
        top = hips[2] - 0.11 * scale
        if top < 0.15:
            return []
        forward = R_wb[:, 0] * np.array([1.0, 1.0, 0.0])
        forward /= max(np.linalg.norm(forward), 1e-6)
        depth = max(0.3, float(np.dot(knees - hips, forward)) + 0.12)
        center = hips + forward * (depth / 2 - 0.15)
        center[2] = top / 2
        yaw = np.arctan2(forward[1], forward[0])
        R = scene.rotation(2, yaw)
        half = np.array([depth / 2, rng.uniform(0.2, 0.3), top / 2])
        return [(center, half, R, scene.MAT_FURNITURE)]

    def _objects(self, rng: np.random.Generator, people: list) -> list:
        """Furniture and occluders (world boxes) that avoid the people's footprints."""
        boxes = [b for p in people for b in p.seat]
        if not self.config.clutter:
            return boxes
        for p in people:  # partial occluders between the camera and a person
            if rng.uniform() < self.config.occluder_prob:
                d = np.linalg.norm(p.xy)
                at = p.xy * rng.uniform(max(0.35, 1 - 1.2 / d), 0.8)
                side = np.array([-p.xy[1], p.xy[0]]) / max(d, 1e-6)
                at = at + side * rng.uniform(-0.4, 0.4)
                if np.linalg.norm(at) > 1.0:  # whole box in front of the camera
                    kind = ('pillar', 'low_wall', 'table', 'chair')[rng.integers(4)]
                    boxes += scene.furniture(kind, rng, at, rng.uniform(-np.pi, np.pi))
        for _ in range(int(rng.integers(0, 4))):
            far = max([np.linalg.norm(p.xy) for p in people] + [3.0])
            xy = np.array([rng.uniform(0.8, far + 1.5), rng.uniform(-2.5, 2.5)])
            if all(np.linalg.norm(xy - p.xy) > 0.9 for p in people):
                kind = scene.random_furniture(rng)
                boxes += scene.furniture(kind, rng, xy, rng.uniform(-np.pi, np.pi))
        return boxes

    # ------------------------------------------------------------------ rendering
    def frame(self, index: int) -> Frame:
        """Frame ``index`` of this generator's sequence (deterministic)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, int(index)])
        sensor = cfg.sensors[int(rng.integers(len(cfg.sensors)))]
        K, tech = scene.sample_intrinsics(rng, sensor, cfg.image_size)
        count = int(rng.integers(cfg.people[0], cfg.people[1] + 1))
        people: list = []
        for _ in range(count):
            people.append(self._person(rng, K, people))
        target = min([np.linalg.norm(p.xy) for p in people], default=3.0)
        cam = scene.sample_camera(rng, target)
        room = scene.sample_room(rng, np.array([p.xy for p in people]), cam.height, cfg.clutter)
        boxes = self._objects(rng, people)
        # sort people by depth in the camera (their root's z)
        depth = [cam.to_camera(p.t_wb)[2] for p in people]
        people = [people[i] for i in np.argsort(depth, kind='stable')]
        zbuf, idbuf, matbuf, cosbuf, verts_c = self._render(K, cam, room, boxes, people)
        if cfg.noise:
            measured = apply_sensor(zbuf, cosbuf, sample_sensor_params(rng, tech), K.fx,
                                    int(rng.integers(2**31 - 1)), rng)
        else:
            measured = np.where(np.isfinite(zbuf), zbuf, np.nan).astype(np.float32)
        if cfg.encoding.upper() == '16UC1':
            raw, depth_m = encode_mm(measured)
        else:
            raw = encode_depth(measured, '32FC1')
            depth_m = raw.copy()
        labels = [self._label(i, p, v, K, cam, zbuf, idbuf)
                  for i, (p, v) in enumerate(zip(people, verts_c))]
        rgb = None
        if cfg.rgb:
            from kinpose_ros.data.synth.appearance import render_rgb  # noqa: PLC0415

            rgb = render_rgb(matbuf, cosbuf, idbuf, zbuf, rng, len(people))
        person_ids = np.maximum(idbuf, -1).astype(np.int16)
        floor_n = cam.R_cw @ np.array([0.0, 0.0, 1.0])
        floor = np.append(floor_n, cam.height)
        return Frame(depth_m, raw, cfg.encoding.upper(), K, rgb, labels, person_ids, sensor,
                     floor, cam.height, cam.pitch)

    def _render(self, K: Intrinsics, cam: scene.CameraPose, room: scene.Scene, boxes: list,
                people: list) -> tuple:
        H, W = K.height, K.width
        zbuf = np.full((H, W), np.inf, np.float32)
        idbuf = np.full((H, W), -1, np.int16)
        matbuf = np.zeros((H, W), np.uint8)
        cosbuf = np.zeros((H, W), np.float32)
        p_cam = np.array([0.0, 0.0, cam.height])
        planes = np.array([np.append(cam.R_cw @ n, n @ p_cam + c) for n, c, _ in room.planes])
        render.render_planes(planes, np.array([m for *_, m in room.planes], np.uint8), K.fx, K.fy,
                             K.cx, K.cy, zbuf, idbuf, matbuf, cosbuf)
        if boxes:
            verts, faces = render.boxes_mesh(boxes)
            n = len(faces)
            mats = np.repeat(np.array([m for *_, m in boxes], np.uint8), n // len(boxes))
            render.rasterise(cam.to_camera(verts), faces, np.full(n, -2, np.int16), mats, K.fx,
                             K.fy, K.cx, K.cy, _NEAR_M, zbuf, idbuf, matbuf, cosbuf)
        verts_c = []
        for i, p in enumerate(people):
            v = cam.to_camera(p.verts_w)
            verts_c.append(v)
            ids, mats = self._person_faces(i)
            render.rasterise(v, self.faces, ids, mats, K.fx, K.fy, K.cx, K.cy, _NEAR_M, zbuf,
                             idbuf, matbuf, cosbuf)
        return zbuf, idbuf, matbuf, cosbuf, verts_c

    def _person_faces(self, i: int) -> tuple:
        """Per-face object ids and materials of person ``i`` (cached)."""
        if i not in self._face_tables:
            self._face_tables[i] = (np.full(len(self.faces), i, np.int16),
                                    (scene.MAT_PERSON + 8 * i + self.face_region).astype(np.uint8))
        return self._face_tables[i]

    def _label(self, i: int, p: _Person, verts_c: np.ndarray, K: Intrinsics,
               cam: scene.CameraPose, zbuf: np.ndarray, idbuf: np.ndarray) -> PersonLabel:
        joints = cam.to_camera(p.joints_w)
        uv = project(joints, K)
        visible = joint_visibility(zbuf, idbuf, np.nan_to_num(uv, nan=-1e9), joints[:, 2], i,
                                   self.radii * p.scale)
        R_cb = cam.R_cw @ p.R_wb
        params = np.concatenate([cam.to_camera(p.t_wb), scene.axis_angle(R_cb), p.angles])
        mask, count, box = person_mask(idbuf, i)
        area = render.silhouette_area(verts_c, self.faces, K.fx, K.fy, K.cx, K.cy, _NEAR_M,
                                      _SILHOUETTE_CELLS)
        frac = float(min(1.0, count / area)) if area > 0 else 0.0
        return PersonLabel(joints.astype(np.float32), uv.astype(np.float32), visible,
                           params.astype(np.float32), float(p.scale), mask, box, frac,
                           p.template, p.height)
