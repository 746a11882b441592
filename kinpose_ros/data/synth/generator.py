"""Synthetic depth frames of people with labels: :class:`SynthGenerator`.

``SynthGenerator(config, seed).frame(index)`` is deterministic for ``(seed, index)`` (all
randomness comes from ``numpy.random.default_rng([seed, index])``), so frames can be generated
in any order and in parallel. Every frame is a new scene.

``SynthGenerator.sequence(index, length, fps)`` is the temporal mode: the scene of ``frame(index)``
(sensor, camera, room, furniture, sensor effect strengths, body shapes, first poses) filmed for
``length`` frames while its people move, so ``sequence(index, n)[0]`` equals ``frame(index)``.
Each person eases (cosine in time) through a chain of poses drawn from the same prior (holding
each for up to 1 s; joints move at most about 0.4 m/s relative to the feet-on-the-floor body),
and people in an upright pose walk along their heading at 0-1.2 m/s with a yaw drift of at most
0.15 rad/s, stopping where they would come nearer than 0.35 m to a wall, 0.3 m to an object,
0.6 m to another person, or leave the distance range and central field of view they were drawn
in. Seated people stay on their seat (legs and lean fixed) and move their upper body. Sensor
noise and dropouts are drawn anew per frame; labels are per frame as in ``frame()``.

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
* ``PersonLabel.track_id`` is the person's index in the scene's sampling order: the same person
  in every frame of a sequence (``people`` is re-sorted by distance per frame).
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
from kinpose_ros.core.rotations import axis_angle_to_matrix
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.data.synth import render, scene
from kinpose_ros.data.synth.body import BodyModel, BodyShape
from kinpose_ros.data.synth.labels import joint_radii, joint_visibility, person_mask
from kinpose_ros.data.synth.poses import TEMPLATE_WEIGHTS, PosePrior, PoseSample, sample_heading
from kinpose_ros.data.synth.sensor import (
    SensorParams,
    apply_sensor,
    encode_mm,
    sample_sensor_params,
)

_NEAR_M = 0.05
_MIN_SEPARATION_M = 0.75
_SILHOUETTE_CELLS = 120  # long side of the coverage canvas of visible_fraction

# sequence(): rng([seed, index, stream, ...]) beside frame()'s rng([seed, index])
_MOTION_STREAM, _NOISE_STREAM = 1, 2
_LIMB_SPEED = 0.4        # m/s, peak joint speed of a pose transition (feet-on-floor body frame)
_MAX_WALK = 1.2          # m/s
_MAX_TURN = 0.15         # rad/s yaw drift
_WALK_STEP_S = 0.02      # time step of the walk's collision scan
_PATH_SAMPLES = 17       # poses checked along a transition (speed, arms through the trunk)
# clearances (m) a walk keeps: walls, object footprints, other people
_WALL_M, _OBJECT_M, _PEOPLE_M = 0.35, 0.3, 0.6
# templates a person may walk in (the others stay in place)
_UPRIGHT = ('stand', 'walk', 'reach', 'point', 'wave', 'arms_raised', 'arms_crossed', 't_pose',
            'turn')


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
        lo_m, hi_m = (float(d) for d in self.distance_m)
        if not 0 < lo_m <= hi_m:
            raise ValueError(f'SynthConfig.distance_m must be (min, max) metres with 0 < min <= '
                             f'max, got {self.distance_m}')
        self.distance_m = (lo_m, hi_m)


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
        track_id: index of the person in the scene's sampling order, the same in every frame of
            a sequence (-1: unknown).
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
    track_id: int = -1


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
        time_s: seconds since the first frame of its sequence (0 for :meth:`SynthGenerator.frame`).
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
    time_s: float = 0.0


@dataclass
class _Person:
    """A posed body in the world (z up, floor z = 0, metres), before labelling.

    ``frames_w`` (F, 3) are all skeleton frames, ``joints_w`` (J, 3) the keypoints; the root pose
    is ``R_wb = Rz(yaw) @ tilt`` at ``t_wb = (x, y, lift)``, lift putting the lowest vertex on
    the floor.
    """

    shape: BodyShape
    verts_w: np.ndarray
    frames_w: np.ndarray
    joints_w: np.ndarray
    R_wb: np.ndarray
    t_wb: np.ndarray
    angles: np.ndarray
    tilt: np.ndarray
    yaw: float
    xy: np.ndarray
    template: str
    track: int
    height: float
    seat: list = field(default_factory=list)

    @property
    def scale(self) -> float:
        return self.shape.scale


@dataclass
class _World:
    """What a scene draws once: sensor, camera, room, objects (incl. seats), people as first
    drawn (sampling order), and the sensor's effect strengths (None without noise)."""

    sensor: str
    K: Intrinsics
    tech: str
    cam: scene.CameraPose
    room: scene.Scene
    boxes: list
    people: list
    sensor_params: SensorParams | None


@dataclass
class _Motion:
    """How one person of a sequence moves (times in seconds from the first frame).

    ``keys``: ``[(t_start, t_end, angles, tilt, template)]`` targets eased to in turn (the pose
    holds between them); the walk: ``speed`` m/s along the heading, which turns at ``turn`` rad/s,
    until ``stop``.
    """

    start: _Person
    keys: list
    speed: float
    turn: float
    stop: float = np.inf

    def pose_at(self, t: float) -> tuple:
        """(angles, tilt, template) at time ``t``, the template being that of the nearer key
        pose (exactly the first pose's objects while it holds)."""
        angles, tilt, template = self.start.angles, self.start.tilt, self.start.template
        for t0, t1, a1, R1, name in self.keys:
            if t <= t0:
                break
            if t >= t1:
                angles, tilt, template = a1, R1, name
                continue
            s = 0.5 - 0.5 * np.cos(np.pi * (t - t0) / (t1 - t0))
            return (angles + (a1 - angles) * s, _slerp(tilt, R1, s),
                    name if s >= 0.5 else template)
        return angles, tilt, template

    def walk_at(self, t: np.ndarray | float, stop: float | None = None) -> tuple:
        """World ``(xy (..., 2), yaw (...))`` at times ``t``; the path ends at ``stop``
        (default ``self.stop``) while the yaw keeps drifting. ``t = 0`` gives the start exactly.
        """
        stop = self.stop if stop is None else stop
        t = np.asarray(t, float)
        yaw0, xy0 = self.start.yaw, self.start.xy
        yaw = yaw0 + self.turn * t
        d = np.minimum(t, stop)
        if abs(self.turn) < 1e-9:
            step = self.speed * d[..., None] * np.array([np.cos(yaw0), np.sin(yaw0)])
        else:
            end = yaw0 + self.turn * d
            r = self.speed / self.turn
            step = r * np.stack([np.sin(end) - np.sin(yaw0), np.cos(yaw0) - np.cos(end)], -1)
        return np.where(d[..., None] > 0, xy0 + step, xy0), yaw


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
    def _world(self, rng: np.random.Generator) -> _World:
        """Draw one scene (the draws of :meth:`frame` before its sensor noise)."""
        cfg = self.config
        sensor = cfg.sensors[int(rng.integers(len(cfg.sensors)))]
        K, tech = scene.sample_intrinsics(rng, sensor, cfg.image_size)
        count = int(rng.integers(cfg.people[0], cfg.people[1] + 1))
        people: list = []
        for track in range(count):
            people.append(self._person(rng, K, people, track))
        target = min([np.linalg.norm(p.xy) for p in people], default=3.0)
        cam = scene.sample_camera(rng, target)
        room = scene.sample_room(rng, np.array([p.xy for p in people]), cam.height, cfg.clutter)
        boxes = self._objects(rng, people)
        params = sample_sensor_params(rng, tech) if cfg.noise else None
        return _World(sensor, K, tech, cam, room, boxes, people, params)

    def _person(self, rng: np.random.Generator, K: Intrinsics, others: list,
                track: int) -> _Person:
        shape = self.body.sample_shape(rng)
        pose = self._pose(rng, shape.scale)
        lo, hi = self.config.distance_m
        for _ in range(8):
            xy = scene.sample_person_position(rng, K, scene.sample_distance(rng, lo, hi),
                                              self.config.out_of_frame_prob)
            if all(np.linalg.norm(xy - o.xy) > _MIN_SEPARATION_M for o in others):
                break
        yaw = sample_heading(rng, float(np.arctan2(-xy[1], -xy[0])))
        person = self._posed(shape, pose.angles, pose.tilt, xy, yaw, pose.template, track)
        if pose.support == 'seat':
            person.seat = self._seat(rng, person.frames_w, person.R_wb, shape.scale)
        return person

    def _pose(self, rng: np.random.Generator, scale: float,
              template: str | None = None) -> PoseSample:
        """A pose of the prior, redrawn (up to 4 draws) while an arm goes through the trunk."""
        for _ in range(4):
            pose = self.prior.sample(rng, template)
            rot, pos = self.body.frame_transforms(pose.tilt, np.zeros(3), pose.angles, scale)
            if not self._arm_in_trunk(rot, pos, scale):
                break
        return pose

    def _posed(self, shape: BodyShape, angles: np.ndarray, tilt: np.ndarray, xy: np.ndarray,
               yaw: float, template: str, track: int) -> _Person:
        """Skin a body at ground position ``xy`` (m) and heading ``yaw`` (rad), lifted so its
        lowest vertex touches the floor."""
        R_wb = scene.rotation(2, yaw) @ tilt
        rot, pos = self.body.frame_transforms(R_wb, np.array([xy[0], xy[1], 0.0]), angles,
                                              shape.scale)
        verts = self.body.pose(shape, rot, pos)
        lift = -verts[:, 2].min()
        verts[:, 2] += lift
        pos[:, 2] += lift
        height = float(np.ptp(shape.vertices[:, 2]))
        return _Person(shape, verts, pos, pos[self.kp_frames], R_wb,
                       np.array([xy[0], xy[1], lift]), angles, tilt, yaw, xy, template, track,
                       height)

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

    # ------------------------------------------------------------------ motion
    def _motion(self, rng: np.random.Generator, start: _Person, horizon: float) -> _Motion:
        """The motion of one person over ``[0, horizon]`` seconds (walk not yet stopped)."""
        seated = bool(start.seat)
        if seated:
            templates: tuple = ('sit',)
        elif start.template in _UPRIGHT:
            templates = _UPRIGHT
        else:
            templates = tuple(t for t in TEMPLATE_WEIGHTS if t != 'sit')
        speed = rng.uniform(0.0, _MAX_WALK)
        turn = float(np.clip(rng.normal(0.0, _MAX_TURN / 2), -_MAX_TURN, _MAX_TURN))
        if seated or templates is not _UPRIGHT:
            speed = 0.0
        if seated:
            turn = 0.0
        keys: list = []
        t, angles, tilt = 0.0, start.angles, start.tilt
        while t < horizon:
            name, target, target_tilt, path_speed = self._next_pose(rng, start, angles, tilt,
                                                                    templates, seated)
            t0 = t + rng.uniform(0.0, 1.0)
            # cosine ease: peak rate (pi / 2) / duration of the path parameter
            t = t0 + max(rng.uniform(0.8, 2.5), path_speed * np.pi / 2 / _LIMB_SPEED)
            keys.append((t0, t, target, target_tilt, name))
            angles, tilt = target, target_tilt
        return _Motion(start, keys, speed, turn)

    def _next_pose(self, rng: np.random.Generator, start: _Person, angles: np.ndarray,
                   tilt: np.ndarray, templates: tuple, seated: bool) -> tuple:
        """Next pose target ``(template, angles, tilt, peak joint speed per unit path (m))``: a
        prior pose (from ``templates``) redrawn (up to 4 draws) while an arm goes through the
        trunk at the target or along the way; seated bodies keep their legs and lean."""
        weights = np.array([TEMPLATE_WEIGHTS[n] for n in templates])
        scale = start.scale
        legs = np.array(['hip' in n or 'knee' in n or 'ankle' in n
                         for n in self.skeleton.dof_names])
        for _ in range(4):
            name = templates[int(rng.choice(len(templates), p=weights / weights.sum()))]
            pose = self.prior.sample(rng, name)
            target, target_tilt = pose.angles, pose.tilt
            if seated:
                target, target_tilt = np.where(legs, start.angles, target), start.tilt
            crossed, joints = False, []
            for s in np.linspace(0.0, 1.0, _PATH_SAMPLES):
                rot, pos = self.body.frame_transforms(
                    _slerp(tilt, target_tilt, s), np.zeros(3), angles + (target - angles) * s,
                    scale)
                crossed = crossed or self._arm_in_trunk(rot, pos, scale)
                j = pos[self.kp_frames]
                joints.append(j - [0.0, 0.0, j[:, 2].min()])  # feet-on-the-floor body frame
            if not crossed:
                break
        step = np.linalg.norm(np.diff(np.array(joints), axis=0), axis=-1).max()
        return name, target, target_tilt, float(step * (_PATH_SAMPLES - 1))

    def _clearances(self, world: _World, xy: np.ndarray) -> np.ndarray:
        """(T, C) clearances (m, >= 0 where a walker may stand) of ground points ``xy``
        (T, 2): the distance range and central field of view of the config, walls and object
        footprints."""
        lo, hi = self.config.distance_m
        d = np.linalg.norm(xy, axis=-1)
        half_fov = 0.75 * np.arctan2(world.K.width / 2, world.K.fx)
        cols = [d - lo, hi - d, (half_fov - np.abs(np.arctan2(xy[:, 1], xy[:, 0]))) * d]
        for n, c, _ in world.room.planes:
            if abs(n[2]) < 0.5:  # walls
                cols.append(xy @ n[:2] + c - _WALL_M)
        for center, half, R, _ in world.boxes:
            local = np.abs((xy - center[:2]) @ R[:2, :2]) - half[:2]
            cols.append(np.linalg.norm(np.maximum(local, 0.0), axis=-1) - _OBJECT_M)
        return np.stack(cols, -1)

    def _plan(self, index: int, world: _World, horizon: float) -> list:
        """Motions of the scene's people over ``[0, horizon]`` seconds.

        The walks are stepped forward together (``_WALK_STEP_S``); a walker stops for good
        before a step that would break a clearance of :meth:`_clearances` or come nearer than
        ``_PEOPLE_M`` to another person (a clearance already broken at the start must not get
        worse). Stepping forward in time keeps a shorter sequence a prefix of a longer one.
        """
        motions = [self._motion(np.random.default_rng([self.seed, int(index), _MOTION_STREAM, i]),
                                p, horizon) for i, p in enumerate(world.people)]
        walking = np.array([m.speed > 0.0 for m in motions])
        if not walking.any():
            return motions
        times = np.arange(1, int(horizon / _WALK_STEP_S) + 2) * _WALK_STEP_S
        free = np.array([m.walk_at(times, stop=np.inf)[0] for m in motions])  # (N, T, 2)
        pos = np.array([p.xy for p in world.people])
        blocked = np.array([(self._clearances(world, path) < np.minimum(
            self._clearances(world, xy[None])[0], 0.0) - 1e-9).any(-1)
            for xy, path in zip(pos, free)])  # (N, T)
        gap = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        allowed = np.minimum(gap, _PEOPLE_M) - 1e-9
        np.fill_diagonal(allowed, -np.inf)
        for k, t in enumerate(times):
            stopping = walking & blocked[:, k]
            while True:
                walking &= ~stopping
                for i in np.flatnonzero(stopping):
                    motions[i].stop = t - _WALK_STEP_S
                nxt = np.where(walking[:, None], free[:, k], pos)
                close = np.linalg.norm(nxt[:, None] - nxt[None], axis=-1) < allowed
                stopping = walking & close.any(1)
                if not stopping.any():
                    break
            pos = nxt
        return motions

    # ------------------------------------------------------------------ rendering
    def frame(self, index: int) -> Frame:
        """Frame ``index`` of this generator (deterministic): a new scene."""
        rng = np.random.default_rng([self.seed, int(index)])
        world = self._world(rng)
        return self._shoot(world, world.people, self._background(world), rng)

    def sequence(self, index: int, length: int, fps: float = 30.0) -> list:
        """``length`` frames of scene ``index`` at ``fps`` frames per second while its people
        move (see the module docstring); frame 0 equals :meth:`frame` ``(index)``.

        Deterministic for ``(seed, index, fps)``; a shorter sequence is a prefix of a longer
        one. Frame ``k`` has ``time_s = k / fps``; its sensor noise comes from
        ``default_rng([seed, index, 2, k])`` (frame 0: that of :meth:`frame`).

        Returns:
            list of :class:`Frame`; ``PersonLabel.track_id`` follows each person.
        """
        if length < 1 or fps <= 0:
            raise ValueError(f'sequence needs length >= 1 and fps > 0, got {length}, {fps}')
        rng = np.random.default_rng([self.seed, int(index)])
        world = self._world(rng)
        background = self._background(world)
        motions = self._plan(index, world, (length - 1) / fps)
        look: dict = {}
        frames = []
        for k in range(length):
            t = k / fps
            people = []
            for m in motions:
                angles, tilt, template = m.pose_at(t)
                xy, yaw = m.walk_at(t)
                people.append(self._posed(m.start.shape, angles, tilt, xy, float(yaw), template,
                                          m.start.track))
            noise = rng if k == 0 else np.random.default_rng(
                [self.seed, int(index), _NOISE_STREAM, k])
            frame = self._shoot(world, people, background, noise, look)
            frame.time_s = t
            frames.append(frame)
        return frames

    def _shoot(self, world: _World, people: list, background: tuple, rng: np.random.Generator,
               look: dict | None = None) -> Frame:
        """Render, measure and label ``people`` in ``world``: one :class:`Frame`.

        ``rng`` draws the sensor noise (and the RGB image). ``look``, for the frames of one
        sequence, keeps its RGB colours and texture: empty, it records the RGB draws and the
        people's colour slots; filled, it repeats them (pixel noise from ``rng``).
        """
        cfg, K, cam = self.config, world.K, world.cam
        # sort people by depth in the camera (their root's z)
        depth = [cam.to_camera(p.t_wb)[2] for p in people]
        people = [people[i] for i in np.argsort(depth, kind='stable')]
        zbuf, idbuf, matbuf, cosbuf = (b.copy() for b in background)
        verts_c = self._render_people(K, cam, people, zbuf, idbuf, matbuf, cosbuf)
        if world.sensor_params is not None:
            measured = apply_sensor(zbuf, cosbuf, world.sensor_params, K.fx,
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

            if look is None or not look:
                if look is not None:
                    look['state'] = rng.bit_generator.state
                    look['slot'] = {p.track: i for i, p in enumerate(people)}
                rgb = render_rgb(matbuf, cosbuf, idbuf, zbuf, rng, len(people))
            else:
                colours = np.random.default_rng()
                colours.bit_generator.state = look['state']
                rgb = render_rgb(matbuf, cosbuf, idbuf, zbuf, colours, len(people),
                                 order=[look['slot'][p.track] for p in people], noise_rng=rng)
        person_ids = np.maximum(idbuf, -1).astype(np.int16)
        floor_n = cam.R_cw @ np.array([0.0, 0.0, 1.0])
        floor = np.append(floor_n, cam.height)
        return Frame(depth_m, raw, cfg.encoding.upper(), K, rgb, labels, person_ids,
                     world.sensor, floor, cam.height, cam.pitch)

    def _background(self, world: _World) -> tuple:
        """The room and objects rendered: (zbuf, idbuf, matbuf, cosbuf) of :mod:`.render`."""
        K, cam, room, boxes = world.K, world.cam, world.room, world.boxes
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
        return zbuf, idbuf, matbuf, cosbuf

    def _render_people(self, K: Intrinsics, cam: scene.CameraPose, people: list,
                       zbuf: np.ndarray, idbuf: np.ndarray, matbuf: np.ndarray,
                       cosbuf: np.ndarray) -> list:
        """Rasterise ``people`` (ids = list index) into the buffers; their camera vertices."""
        verts_c = []
        for i, p in enumerate(people):
            v = cam.to_camera(p.verts_w)
            verts_c.append(v)
            ids, mats = self._person_faces(i)
            render.rasterise(v, self.faces, ids, mats, K.fx, K.fy, K.cx, K.cy, _NEAR_M, zbuf,
                             idbuf, matbuf, cosbuf)
        return verts_c

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
                           p.template, p.height, p.track)


def _slerp(R0: np.ndarray, R1: np.ndarray, s: float) -> np.ndarray:
    """Rotation a fraction ``s`` in [0, 1] of the way from ``R0`` to ``R1`` (both (3, 3)); exactly
    ``R0`` at ``s = 0``."""
    if s <= 0.0:
        return R0
    return R0 @ axis_angle_to_matrix(s * scene.axis_angle(R0.T @ R1))
