"""A pose prior for the synthetic generator: parameterised templates of everyday poses + noise.

Each template draws the joint angles of one activity (standing, walking, reaching, pointing,
waving, arms raised / crossed, T-pose, bending, squatting, sitting, kneeling, kicking, partial
turns) with random amplitudes; Gaussian noise is added to every DoF and the result is clipped to
the skeleton's limits. Angles follow the skeleton's conventions (``config/skeletons/body15.yaml``:
positive = flexion forward, abduction away from the body, internal rotation; zero = standing,
arms down). Left/right are mirrored at random. The root orientation is a yaw (body heading, drawn
by the generator) times the template's tilt (forward lean for bending and squatting).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.data.synth.scene import rotation

# template name -> relative frequency
TEMPLATE_WEIGHTS = {
    'stand': 3.0, 'walk': 3.0, 'reach': 1.5, 'point': 1.0, 'wave': 1.0, 'arms_raised': 1.0,
    'arms_crossed': 1.0, 't_pose': 0.7, 'bend': 1.2, 'squat': 0.7, 'sit': 1.5, 'kneel': 0.8,
    'kick': 0.8, 'turn': 1.5,
}
SUPPORT = {'sit': 'seat'}  # templates that need an object under them; others stand on the floor


@dataclass(frozen=True)
class PoseSample:
    """One sampled pose in the body frame.

    Attributes:
        template: the activity name.
        angles: (D,) joint angles (radians) within the skeleton limits.
        tilt: (3, 3) root rotation before the heading yaw (forward lean of the pelvis).
        support: 'floor' (lowest point on the floor) or 'seat' (needs a seat under the hips).
    """

    template: str
    angles: np.ndarray
    tilt: np.ndarray
    support: str


class PosePrior:
    """Samples :class:`PoseSample` for a body skeleton (``body15`` DoF names; other skeletons
    with the same DoF names, e.g. ``body17_h36m``, work for the DoFs they share)."""

    def __init__(self, skeleton: Skeleton, noise: float = 0.07) -> None:
        self.skeleton = skeleton
        self.noise = noise
        self.index = {n: i for i, n in enumerate(skeleton.dof_names)}
        names = list(TEMPLATE_WEIGHTS)
        w = np.array([TEMPLATE_WEIGHTS[n] for n in names])
        self.templates, self.probs = names, w / w.sum()

    def sample(self, rng: np.random.Generator, template: str | None = None) -> PoseSample:
        """Draw one pose (a random template unless ``template`` is given)."""
        name = template or self.templates[rng.choice(len(self.templates), p=self.probs)]
        if name not in TEMPLATE_WEIGHTS:
            raise ValueError(f'unknown pose template {name!r}; known: {list(TEMPLATE_WEIGHTS)}')
        a: dict = {}
        pitch = getattr(self, f'_{name}')(rng, a)
        sides = ('l', 'r') if rng.uniform() < 0.5 else ('r', 'l')
        angles = np.zeros(self.skeleton.num_dofs)
        for key, value in a.items():
            key = key.replace('A_', sides[0] + '_').replace('B_', sides[1] + '_')
            if key in self.index:
                angles[self.index[key]] = value
        angles += rng.normal(0.0, self.noise, angles.shape)
        for k in ('neck_rotation', 'neck_flexion', 'neck_lateral'):
            if k in self.index:
                angles[self.index[k]] += rng.normal(0.0, 0.25 if k == 'neck_rotation' else 0.12)
        angles = self.skeleton.clip_angles(angles)
        tilt = rotation(1, pitch + rng.normal(0, 0.03)) @ rotation(0, rng.normal(0, 0.03))
        return PoseSample(name, angles, tilt, SUPPORT.get(name, 'floor'))

    # ---- templates: fill a (A_ = one side, B_ = the other) and return the root pitch ----
    @staticmethod
    def _relaxed_arms(rng: np.random.Generator, a: dict, sides: str = 'AB') -> None:
        for s in sides:
            a[f'{s}_shoulder_flexion'] = rng.uniform(-0.2, 0.35)
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.0, 0.3)
            a[f'{s}_shoulder_rotation'] = rng.uniform(-0.3, 0.5)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.0, 0.6)

    def _stand(self, rng, a) -> float:
        self._relaxed_arms(rng, a)
        for s in 'AB':
            a[f'{s}_hip_abduction'] = rng.uniform(-0.05, 0.15)
            a[f'{s}_hip_rotation'] = rng.uniform(-0.2, 0.3)
        a['A_knee_flexion'] = rng.uniform(0.0, 0.25)
        return 0.0

    def _walk(self, rng, a) -> float:
        amp, phase = rng.uniform(0.2, 0.55), rng.uniform(0, 2 * np.pi)
        swing = np.sin(phase)
        a['A_hip_flexion'], a['B_hip_flexion'] = amp * swing, -amp * swing
        a['A_knee_flexion'] = rng.uniform(0.05, 0.4) + max(0.0, np.cos(phase)) * rng.uniform(
            0.3, 1.0)
        a['B_knee_flexion'] = rng.uniform(0.05, 0.4) + max(0.0, -np.cos(phase)) * rng.uniform(
            0.3, 1.0)
        a['A_shoulder_flexion'], a['B_shoulder_flexion'] = -0.8 * amp * swing, 0.8 * amp * swing
        for s in 'AB':
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.05, 0.25)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.1, 0.7)
        a['spine_rotation'] = -0.2 * amp * swing
        return rng.uniform(0.0, 0.1)

    def _reach(self, rng, a) -> float:
        self._relaxed_arms(rng, a, 'B')
        a['A_shoulder_flexion'] = rng.uniform(1.0, 2.8)
        a['A_shoulder_abduction'] = rng.uniform(-0.2, 0.9)
        a['A_elbow_flexion'] = rng.uniform(0.0, 0.7)
        a['spine_flexion'] = rng.uniform(-0.1, 0.5)
        a['spine_rotation'] = rng.uniform(-0.4, 0.4)
        a['spine_lateral'] = rng.uniform(-0.2, 0.2)
        return 0.0

    def _point(self, rng, a) -> float:
        self._relaxed_arms(rng, a, 'B')
        a['A_shoulder_flexion'] = rng.uniform(1.2, 1.8)
        a['A_shoulder_abduction'] = rng.uniform(0.0, 1.2)
        a['A_elbow_flexion'] = rng.uniform(0.0, 0.25)
        a['neck_rotation'] = rng.uniform(-0.5, 0.5)
        return 0.0

    def _wave(self, rng, a) -> float:
        self._relaxed_arms(rng, a, 'B')
        a['A_shoulder_abduction'] = rng.uniform(1.4, 2.4)
        a['A_shoulder_flexion'] = rng.uniform(0.0, 0.6)
        a['A_shoulder_rotation'] = rng.uniform(-1.3, -0.6)
        a['A_elbow_flexion'] = rng.uniform(0.6, 1.6)
        return 0.0

    def _arms_raised(self, rng, a) -> float:
        sideways = rng.uniform() < 0.5
        for s in 'AB':
            if sideways:
                a[f'{s}_shoulder_abduction'] = rng.uniform(2.2, 2.8)
            else:
                a[f'{s}_shoulder_flexion'] = rng.uniform(2.3, 3.0)
                a[f'{s}_shoulder_abduction'] = rng.uniform(0.0, 0.5)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.0, 0.8)
        a['spine_flexion'] = rng.uniform(-0.3, 0.0)
        return 0.0

    def _arms_crossed(self, rng, a) -> float:
        for s in 'AB':
            a[f'{s}_shoulder_flexion'] = rng.uniform(0.3, 0.7)
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.0, 0.25)
            a[f'{s}_shoulder_rotation'] = rng.uniform(0.9, 1.3)
            a[f'{s}_elbow_flexion'] = rng.uniform(1.7, 2.2)
        return 0.0

    def _t_pose(self, rng, a) -> float:
        for s in 'AB':
            a[f'{s}_shoulder_abduction'] = rng.uniform(1.35, 1.75)
            a[f'{s}_shoulder_flexion'] = rng.uniform(-0.1, 0.25)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.0, 0.25)
            a[f'{s}_hip_abduction'] = rng.uniform(0.0, 0.2)
        return 0.0

    def _bend(self, rng, a) -> float:
        pitch = rng.uniform(0.2, 0.8)
        spine = rng.uniform(0.3, 1.1)
        for s in 'AB':
            a[f'{s}_hip_flexion'] = pitch + rng.uniform(-0.05, 0.05)
            a[f'{s}_knee_flexion'] = rng.uniform(0.0, 0.4)
            a[f'{s}_shoulder_flexion'] = pitch + spine + rng.uniform(-0.4, 0.4)
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.0, 0.4)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.0, 0.8)
        a['spine_flexion'] = spine
        a['neck_flexion'] = rng.uniform(-0.6, 0.2)
        return pitch

    def _squat(self, rng, a) -> float:
        depth = rng.uniform(0.5, 1.0)
        pitch = 0.4 * depth
        for s in 'AB':
            a[f'{s}_hip_flexion'] = 2.0 * depth + pitch
            a[f'{s}_knee_flexion'] = 2.3 * depth
            a[f'{s}_hip_abduction'] = rng.uniform(0.1, 0.4)
            a[f'{s}_shoulder_flexion'] = rng.uniform(0.6, 1.6)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.0, 1.2)
        a['spine_flexion'] = rng.uniform(0.0, 0.4)
        return pitch

    def _sit(self, rng, a) -> float:
        lean = rng.uniform(-0.2, 0.3)
        for s in 'AB':
            a[f'{s}_hip_flexion'] = rng.uniform(1.3, 1.7) + lean
            a[f'{s}_knee_flexion'] = rng.uniform(1.2, 1.8)
            a[f'{s}_hip_abduction'] = rng.uniform(-0.05, 0.35)
            a[f'{s}_shoulder_flexion'] = rng.uniform(0.2, 0.8)
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.0, 0.3)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.6, 1.5)
        a['spine_flexion'] = rng.uniform(0.0, 0.4)
        return -lean

    def _kneel(self, rng, a) -> float:
        if rng.uniform() < 0.5:  # both knees down, upright
            for s in 'AB':
                a[f'{s}_hip_flexion'] = rng.uniform(0.0, 0.3)
                a[f'{s}_knee_flexion'] = rng.uniform(1.45, 1.7)
        else:  # one knee down, the other foot forward
            a['A_hip_flexion'], a['A_knee_flexion'] = rng.uniform(1.3, 1.6), rng.uniform(1.3, 1.7)
            a['B_hip_flexion'], a['B_knee_flexion'] = rng.uniform(-0.1, 0.2), rng.uniform(1.5, 1.7)
        self._relaxed_arms(rng, a)
        return 0.0

    def _kick(self, rng, a) -> float:
        a['A_hip_flexion'] = rng.uniform(0.7, 1.7)
        a['A_knee_flexion'] = rng.uniform(0.0, 0.9)
        a['A_hip_abduction'] = rng.uniform(-0.1, 0.4)
        for s in 'AB':
            a[f'{s}_shoulder_abduction'] = rng.uniform(0.2, 0.8)
            a[f'{s}_shoulder_flexion'] = rng.uniform(-0.3, 0.6)
            a[f'{s}_elbow_flexion'] = rng.uniform(0.2, 1.2)
        a['spine_flexion'] = rng.uniform(-0.3, 0.1)
        return 0.0

    def _turn(self, rng, a) -> float:
        self._stand(rng, a)
        a['spine_rotation'] = rng.choice([-1, 1]) * rng.uniform(0.3, 0.7)
        a['neck_rotation'] = a['spine_rotation'] * rng.uniform(0.5, 1.5)
        a['A_hip_rotation'] = a['B_hip_rotation'] = a['spine_rotation'] * 0.4
        return 0.0


def sample_heading(rng: np.random.Generator, facing_yaw: float, frontal: float = 0.65) -> float:
    """Body yaw (radians, world z): mostly facing the camera (``facing_yaw``, von Mises spread of
    about 35 deg) with probability ``frontal``, otherwise uniform over the full circle."""
    if rng.uniform() < frontal:
        return float(facing_yaw + rng.vonmises(0.0, 2.7))
    return float(rng.uniform(-np.pi, np.pi))
