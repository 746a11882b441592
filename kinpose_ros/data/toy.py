"""The 2-D toy chains of Deep Kinematic Pose Regression (Zhou et al. 2016, section 4.1).

Binary images of an articulated 2-D chain with their joints and motion parameters as labels.

Conventions:
  * Image plane: x right, y down, in pixels; pixel ``image[v, u]`` has its centre at
    ``(x, y) = (u, v)``, so the image covers ``[-0.5, size - 0.5]`` on both axes.
  * Skeletons: ``config/skeletons/toy_level{1..4}.yaml`` (rotations about z, every bone along
    +y at zero angles, angles relative to the parent bone as in the paper's Eq. 2). Level 1 has
    45 px bones; levels 2-4 carry a YAML ``scale`` of 0.4 (18 px bones) because five, seven and
    nine 45 px bones do not fit a 128 x 128 image (see the YAML header comments and
    ``docs/toy_experiment.md``).
  * Motion parameters: the skeleton's vector ``[root x (px), root y (px), root angle (rad),
    one angle per DoF (rad)]``. The paper normalises the root position to [0, 1]; here it is in
    pixels and callers divide by the image size when they want the paper's units.
  * Sampling: every angle uniform in [-angle_range, angle_range] (default +-90 deg: the first
    bone points downwards from the root, no joint folds back by more than a right angle) and
    within the DoF limits; poses whose joints do not fit the image minus ``margin`` on every
    side are rejected, then the root position is drawn uniformly among the positions that keep
    every joint ``margin`` px inside the image. Full-circle ranges (+-180 deg) make the task
    much harder for the kinematic models: while the root is still unknown, the joint loss is
    lowest for the most compact chain, so the first epochs fold the chain onto itself and the
    bounded angles saturate there (a pilot at level 1: kinematic joint stuck at about 30 px
    after 24 epochs of 4k images, against 7 px after 9 epochs with +-90 deg).
  * Drawing: a pixel is 1 where its centre lies within ``thickness / 2`` px of a bone segment,
    else 0 (exact point-to-segment distance, vectorised over images and bones). The root joint
    is also drawn as a filled disc (radius 4 px by default). Without it the task is ill-posed:
    bones are equally long and joints are invisible, so at level 1 a chain and its reversal
    (root angle + angle + pi, angle -> -angle) give the same image and any regressor can only
    average the two readings (level-1 pilots with full-circle angles, 4k images, 6 epochs:
    direct joint 24 px without the disc, 14 px with it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.kinematics import KinematicTables, forward_kinematics_np
from kinpose_ros.core.skeleton import Skeleton

__all__ = ['TOY_IMAGE_SIZE', 'TOY_LEVELS', 'ToySamples', 'make_toy_samples', 'render_chains',
           'sample_toy_params', 'toy_angles_from_joints', 'toy_metrics', 'toy_skeleton']

TOY_IMAGE_SIZE = 128
TOY_LEVELS = (1, 2, 3, 4)


@dataclass
class ToySamples:
    """A toy data set.

    Attributes:
        images: (N, 1, size, size) binary images, 0/1 in ``dtype`` (float32 by default).
        joints: (N, J, 2) float64 joint positions in pixels (x right, y down), keypoint order.
        params: (N, P) float64 motion parameters (``skeleton.param_names`` order; root x, y in
            pixels, angles in radians).
        skeleton: the chain's ``Skeleton`` (units px).
    """

    images: np.ndarray
    joints: np.ndarray
    params: np.ndarray
    skeleton: Skeleton

    def __len__(self) -> int:
        return len(self.joints)


def toy_skeleton(level: int) -> Skeleton:
    """The skeleton of toy level 1-4 (``config/skeletons/toy_level<level>.yaml``)."""
    if level not in TOY_LEVELS:
        raise ValueError(f'level: expected one of {TOY_LEVELS}, got {level!r}')
    return Skeleton.load(f'toy_level{level}')


def _check_planar(sk: Skeleton) -> None:
    ok = (sk.root_translation_axes == (0, 1) and tuple(sk.root_rotation) == ('z',)
          and np.allclose(np.abs(sk.dof_axis), [0.0, 0.0, 1.0]))
    if not ok:
        raise ValueError(f'skeleton {sk.name!r}: expected a planar chain (root translation '
                         f'[x, y], root rotation [z], DoFs about z); got translation axes '
                         f'{sk.root_translation_axes}, root rotation {sk.root_rotation}')


def sample_toy_params(skeleton: Skeleton, n: int, rng: np.random.Generator,
                      size: int = TOY_IMAGE_SIZE, margin: float = 4.0,
                      angle_range: float = np.pi / 2) -> np.ndarray:
    """Random motion parameters (n, P) whose joints lie within ``[margin, size - 1 - margin]``.

    Every angle is uniform in ``[-angle_range, angle_range]`` (radians), DoF angles also within
    their limits; a pose is rejected when its joint bounding box exceeds ``size - 1 - 2 *
    margin`` px, then the root position is uniform among the positions that keep it inside.
    Raises ``ValueError`` when fewer than 1 % of poses fit (the skeleton is too large for the
    image: lower its ``scale``).
    """
    _check_planar(skeleton)
    if not 0 < angle_range <= np.pi:
        raise ValueError(f'angle_range: expected a value in (0, pi] radians, got {angle_range}')
    lower = np.maximum(skeleton.dof_lower, -angle_range)
    upper = np.minimum(skeleton.dof_upper, angle_range)
    tables = KinematicTables.of(skeleton)
    span = size - 1 - 2 * margin
    out, have, tries = [], 0, 0
    while have < n:
        m = max(256, 2 * (n - have))
        p = np.zeros((m, skeleton.num_params))
        p[:, 2] = rng.uniform(-angle_range, angle_range, m)
        p[:, 3:] = rng.uniform(lower, upper, (m, skeleton.num_dofs))
        xy = forward_kinematics_np(tables, p)[0][:, :, :2]
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        keep = ((hi - lo) <= span).all(axis=1)
        tries += m
        if tries >= 10_000 and (have + keep.sum()) < 0.01 * tries:
            raise ValueError(f'skeleton {skeleton.name!r} (scale {skeleton.scale}): fewer than '
                             f'1 % of sampled poses fit a {size} px image with a {margin} px '
                             'margin; lower the skeleton scale')
        p, lo, hi = p[keep], lo[keep], hi[keep]
        p[:, :2] = rng.uniform(margin - lo, size - 1 - margin - hi)
        out.append(p)
        have += len(p)
    return np.concatenate(out)[:n]


def render_chains(joints: np.ndarray, bones: list[tuple[int, int]], size: int = TOY_IMAGE_SIZE,
                  thickness: float = 3.0, dtype: type = np.float32, chunk: int = 1024,
                  discs: np.ndarray | None = None, disc_radius: float = 0.0) -> np.ndarray:
    """Draw bones as thick lines: joints (N, J, 2) px -> binary images (N, 1, size, size).

    A pixel is set when its centre is within ``thickness / 2`` of a bone segment (exact
    distance). Candidates: for every integer coordinate along the bone's major axis, the few
    pixels across it around the (end-clamped) segment, so the work is about 5 pixels per px of
    bone, vectorised over images and bones. ``discs`` (N, 2) px adds one filled disc of
    ``disc_radius`` px per image (pixels whose centre is within the radius).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 2:
        raise ValueError(f'joints: expected (N, J, 2) pixel positions, got {joints.shape}')
    if not bones or thickness <= 0:
        raise ValueError(f'bones/thickness: expected >= 1 bone and thickness > 0, got '
                         f'{len(bones)} bones, thickness {thickness}')
    par, chi = np.array(bones, dtype=np.int64).T
    r = 0.5 * thickness
    # a pixel within r of the segment is within r * sqrt(2) of it across the major axis
    w = np.arange(-int(np.floor(r * np.sqrt(2.0) + 0.5)), int(np.floor(r * np.sqrt(2.0) + 0.5))
                  + 1)
    lengths = np.linalg.norm(joints[:, chi] - joints[:, par], axis=-1)
    steps = np.arange(int(np.ceil(lengths.max(initial=0.0) + 2 * r)) + 2)
    images = np.zeros((len(joints), size * size), dtype=dtype)
    for s in range(0, len(joints), chunk):
        a, b = joints[s:s + chunk, par], joints[s:s + chunk, chi]  # (n, B, 2)
        d = b - a
        swap = np.abs(d[..., 1]) > np.abs(d[..., 0])  # y is the major axis
        am, an = np.where(swap, a[..., 1], a[..., 0]), np.where(swap, a[..., 0], a[..., 1])
        dm, dn = np.where(swap, d[..., 1], d[..., 0]), np.where(swap, d[..., 0], d[..., 1])
        lo = np.floor(np.minimum(am, am + dm) - r)
        major = lo[..., None] + steps  # (n, B, K)
        t = np.clip((major - am[..., None]) / np.where(dm == 0, 1.0, dm)[..., None], 0.0, 1.0)
        minor = np.rint(an[..., None] + t * dn[..., None])[..., None] + w  # (n, B, K, W)
        major = np.broadcast_to(major[..., None], minor.shape)
        sw = swap[..., None, None]
        px, py = np.where(sw, minor, major), np.where(sw, major, minor)
        ax, ay = a[..., 0, None, None], a[..., 1, None, None]
        dx, dy = d[..., 0, None, None], d[..., 1, None, None]
        den = np.maximum(dx * dx + dy * dy, 1e-12)
        u = np.clip(((px - ax) * dx + (py - ay) * dy) / den, 0.0, 1.0)
        ex, ey = px - ax - u * dx, py - ay - u * dy
        inside = ((ex * ex + ey * ey <= r * r) & (px >= 0) & (py >= 0) & (px <= size - 1)
                  & (py <= size - 1))
        n_idx = np.broadcast_to(np.arange(len(a))[:, None, None, None], inside.shape)[inside]
        flat = (py[inside] * size + px[inside]).astype(np.int64)
        images[s:s + chunk][n_idx, flat] = 1
    if discs is not None and disc_radius > 0:
        _draw_discs(images, np.asarray(discs, dtype=np.float64), disc_radius, size)
    return images.reshape(len(joints), 1, size, size)


def _draw_discs(images: np.ndarray, centres: np.ndarray, radius: float, size: int) -> None:
    """Set the pixels within ``radius`` of centres (N, 2) in flat images (N, size * size)."""
    if centres.shape != (len(images), 2):
        raise ValueError(f'discs: expected ({len(images)}, 2) centres in px, got '
                         f'{centres.shape}')
    d = np.arange(-int(np.floor(radius + 0.5)), int(np.floor(radius + 0.5)) + 1)
    offs = np.stack(np.meshgrid(d, d, indexing='ij'), -1).reshape(-1, 2)
    pix = np.rint(centres)[:, None] + offs  # (N, O, 2)
    inside = ((((pix - centres[:, None]) ** 2).sum(-1) <= radius * radius)
              & (pix >= 0).all(-1) & (pix <= size - 1).all(-1))
    n_idx = np.broadcast_to(np.arange(len(pix))[:, None], inside.shape)[inside]
    images[n_idx, (pix[..., 1] * size + pix[..., 0])[inside].astype(np.int64)] = 1


def make_toy_samples(level: int, n: int, seed: int, size: int = TOY_IMAGE_SIZE,
                     thickness: float = 3.0, margin: float = 4.0, root_radius: float = 4.0,
                     angle_range: float = np.pi / 2, dtype: type = np.float32) -> ToySamples:
    """``n`` samples of toy level 1-4, deterministic in ``seed``. See the module conventions.

    ``root_radius`` > 0 marks the root joint with a filled disc of that radius (px); 0 draws
    bones only, and then a chain and its reversal can give the same image (see the module
    docstring).
    """
    if n < 1:
        raise ValueError(f'n: expected >= 1 samples, got {n}')
    sk = toy_skeleton(level)
    params = sample_toy_params(sk, n, np.random.default_rng(seed), size, margin, angle_range)
    joints = forward_kinematics_np(sk, params)[0][:, :, :2]
    root = int(np.flatnonzero(sk.parents < 0)[0])
    images = render_chains(joints, sk.bones, size, thickness, dtype, discs=joints[:, root],
                           disc_radius=root_radius)
    return ToySamples(images, joints, params, sk)


def toy_angles_from_joints(skeleton: Skeleton, joints: np.ndarray) -> np.ndarray:
    """Motion angles recovered from 2-D joints ("from the triangle", as the paper does).

    joints: (N, J, 2) (or (N, J, 3), z ignored) in the skeleton's keypoint order.
    Returns (N, 1 + D) radians in [-pi, pi): the root angle (first bone relative to its rest
    direction, +y) then each DoF angle: the bone leaving that joint relative to the bone
    entering it. For a kinematic chain's own joints these equal its parameters (wrapped).
    """
    _check_planar(skeleton)
    joints = np.asarray(joints, dtype=np.float64)[..., :2]
    if joints.ndim != 3 or joints.shape[1] != skeleton.num_joints:
        raise ValueError(f'joints: expected (N, {skeleton.num_joints}, 2), got {joints.shape}')
    kp_of_frame = {int(f): k for k, f in enumerate(skeleton.keypoint_frames)}
    frames = [int(skeleton.keypoint_frames[0])] + [int(f) for f in skeleton.dof_frame]
    rest = skeleton.frame_offsets[:, :2]
    angles = []
    for i, f in enumerate(frames):
        k = kp_of_frame.get(f)
        kids = [c for c in range(skeleton.num_joints) if skeleton.parents[c] == k]
        if k is None or not kids:
            raise ValueError(f'skeleton {skeleton.name!r}: angle {i} sits on frame '
                             f'{skeleton.frame_names[f]!r}, which needs to be a keypoint with a '
                             'child keypoint')
        c = kids[0]
        out_angle = _angle(rest[skeleton.keypoint_frames[c]], joints[:, c] - joints[:, k])
        if i == 0:  # the root: relative to the rest direction of its first bone
            angles.append(out_angle)
            continue
        p = int(skeleton.parents[k])
        in_angle = _angle(rest[f], joints[:, k] - joints[:, p])
        angles.append(out_angle - in_angle)
    a = np.stack(angles, axis=1)
    return np.remainder(a + np.pi, 2.0 * np.pi) - np.pi


def _angle(rest: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed angle (N,) of a rotation about z (x right, y down) taking ``rest`` (2,) to v."""
    cross = rest[0] * v[:, 1] - rest[1] * v[:, 0]
    return np.arctan2(cross, v @ rest)


def toy_metrics(skeleton: Skeleton, pred_joints: np.ndarray, gt_joints: np.ndarray,
                gt_params: np.ndarray) -> dict[str, float]:
    """The toy experiment's three measures on a test set, all from predicted joints.

    Args:
        pred_joints, gt_joints: (N, J, 2) (or (N, J, 3), z ignored) pixels.
        gt_params: (N, P) the ground-truth motion parameters.

    Returns a dict: ``joint_error_px`` (mean Euclidean distance over joints and samples),
    ``angle_error_deg`` (mean absolute wrapped error over the root angle and every DoF angle,
    the predicted ones recovered from the joints by :func:`toy_angles_from_joints`; for the
    kinematic models these equal the predicted parameters), ``bone_std_px`` (standard deviation
    over the test set of each bone's length, averaged over bones), ``bone_length_px`` (the
    skeleton's bone length) and ``angle_error_deg_per_angle`` (list, root first).
    """
    from kinpose_ros.evaluation import angle_error_deg, bone_length_spread  # noqa: PLC0415

    pred = np.asarray(pred_joints, dtype=np.float64)[..., :2]
    gt = np.asarray(gt_joints, dtype=np.float64)[..., :2]
    if pred.shape != gt.shape or pred.shape[1:] != (skeleton.num_joints, 2):
        raise ValueError(f'pred_joints/gt_joints: expected equal (N, {skeleton.num_joints}, 2) '
                         f'shapes, got {pred.shape} and {gt.shape}')
    gt_angles = np.asarray(gt_params, dtype=np.float64)[:, 2:]
    mean_angle, per_angle = angle_error_deg(toy_angles_from_joints(skeleton, pred), gt_angles)
    _, std = bone_length_spread(pred, skeleton.parents)
    return {'joint_error_px': float(np.linalg.norm(pred - gt, axis=-1).mean()),
            'angle_error_deg': float(mean_angle),
            'bone_std_px': float(np.nanmean(std)),
            'bone_length_px': float(skeleton.rest_bone_lengths().mean()),
            'angle_error_deg_per_angle': [float(v) for v in per_angle]}
