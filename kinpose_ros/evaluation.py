"""Pose accuracy measures: mAP@10cm, MPJPE, 2-D PCK, bone-length spread, joint-angle error.

ROS-free and numpy-only (matplotlib is imported lazily by :meth:`EvaluationResult.plot`).

Conventions
-----------
* Shapes: ``N`` frames, ``J`` joints, ``D`` degrees of freedom. 3-D joints are ``(N, J, 3)`` in
  metres in any common frame (prediction and ground truth in the same one); 2-D joints are
  ``(N, J, 2)`` in pixels.
* ``valid``: optional ``(N, J)`` boolean mask of the frame-joints that count (e.g. labelled or
  visible joints). Every counted ground-truth value must be finite.
* Thresholds are strict, following ITOP / A2J: a joint is correct when its error is **strictly
  below** the threshold (an error of exactly 0.10 m is wrong at 10 cm).
* Non-finite predictions (NaN / inf, e.g. a failed detection) count as **wrong** for mAP and PCK,
  are **left out** of mean errors (MPJPE, angle error) and are reported by count
  (:func:`count_nonfinite`, ``EvaluationResult.n_nonfinite``), so one failed joint neither
  hides nor poisons the figures.
* Overall rates average over all counted frame-joints (not a mean of per-joint rates); per-joint
  values are NaN for a joint with nothing counted.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    'EvaluationResult', 'angle_error_deg', 'bone_length_spread', 'count_nonfinite',
    'evaluate_joints', 'map_at', 'mpjpe_mm', 'pck_2d',
]


def _check_pair(pred: np.ndarray, gt: np.ndarray, dims: int, valid: np.ndarray | None,
                what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``(N, J, dims)`` pred/gt and the mask; return float64 arrays and a bool mask."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    for name, arr in (('pred', pred), ('gt', gt)):
        if arr.ndim != 3 or arr.shape[-1] != dims:
            raise ValueError(f'{what}: {name} must have shape (N, J, {dims}); got {arr.shape}')
    if pred.shape != gt.shape:
        raise ValueError(f'{what}: pred and gt shapes differ: {pred.shape} vs {gt.shape}')
    mask = _check_mask(valid, pred.shape[:2], what)
    if not np.isfinite(gt[mask]).all():
        raise ValueError(f'{what}: gt has non-finite values at counted frame-joints; pass '
                         f'valid=(N, J) bool to leave unlabelled joints out')
    return pred, gt, mask


def _check_mask(valid: np.ndarray | None, shape: tuple[int, int], what: str) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(valid)
    if mask.shape != shape or mask.dtype != bool:
        raise ValueError(f'{what}: valid must be a bool array of shape {shape}; got '
                         f'{mask.dtype} {mask.shape}')
    return mask


def _rates(correct: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Fraction of counted entries that are correct: overall and per column (NaN if none)."""
    counted = mask.sum(axis=0)
    hits = (correct & mask).sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        per = np.where(counted > 0, hits / np.maximum(counted, 1), np.nan)
    total = counted.sum()
    return (float(hits.sum() / total) if total else float('nan')), per


def _means(values: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of the counted, finite entries: overall and per column (NaN if none)."""
    use = mask & np.isfinite(values)
    filled = np.where(use, values, 0.0)
    n = use.sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        per = np.where(n > 0, filled.sum(axis=0) / np.maximum(n, 1), np.nan)
    total = n.sum()
    return (float(filled.sum() / total) if total else float('nan')), per


def count_nonfinite(pred: np.ndarray, valid: np.ndarray | None = None) -> int:
    """Number of counted frame-joints whose prediction ``(N, J, K)`` has a NaN or inf."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3:
        raise ValueError(f'count_nonfinite: pred must have shape (N, J, K); got {pred.shape}')
    mask = _check_mask(valid, pred.shape[:2], 'count_nonfinite')
    return int((~np.isfinite(pred).all(axis=-1) & mask).sum())


def map_at(pred_xyz: np.ndarray, gt_xyz: np.ndarray, threshold_m: float = 0.10,
           valid: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean average precision at a 3-D distance threshold (ITOP's mAP@10cm).

    Args:
        pred_xyz, gt_xyz: (N, J, 3) joints in metres, same frame.
        threshold_m: a joint is correct when its Euclidean error is strictly below this.
        valid: optional (N, J) bool mask of frame-joints to count.

    Returns:
        (overall, per_joint): fractions in [0, 1]; per_joint has shape (J,). NaN predictions
        count as wrong.
    """
    pred, gt, mask = _check_pair(pred_xyz, gt_xyz, 3, valid, 'map_at')
    if not threshold_m > 0:
        raise ValueError(f'map_at: threshold_m must be > 0; got {threshold_m}')
    err = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(invalid='ignore'):
        correct = err < threshold_m  # NaN compares False: wrong
    return _rates(correct, mask)


def mpjpe_mm(pred_xyz: np.ndarray, gt_xyz: np.ndarray,
             valid: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean per-joint position error in millimetres.

    Args:
        pred_xyz, gt_xyz: (N, J, 3) joints in metres, same frame (no alignment is applied).
        valid: optional (N, J) bool mask of frame-joints to count.

    Returns:
        (mean_mm, per_joint_mm (J,)), averaged over counted frame-joints whose prediction is
        finite (non-finite predictions are left out; see :func:`count_nonfinite`).
    """
    pred, gt, mask = _check_pair(pred_xyz, gt_xyz, 3, valid, 'mpjpe_mm')
    err_mm = np.linalg.norm(pred - gt, axis=-1) * 1000.0
    return _means(err_mm, mask)


def pck_2d(pred_uv: np.ndarray, gt_uv: np.ndarray, threshold: float,
           scale: np.ndarray | None = None,
           valid: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Percentage of correct 2-D keypoints.

    Args:
        pred_uv, gt_uv: (N, J, 2) image points in pixels.
        threshold: in pixels when ``scale`` is None; otherwise a fraction of the per-frame scale
            (e.g. 0.5 with head sizes for PCKh@0.5, 0.2 with torso sizes).
        scale: optional (N,) per-frame reference length in pixels, > 0.
        valid: optional (N, J) bool mask of frame-joints to count.

    Returns:
        (overall, per_joint (J,)) fractions in [0, 1]; correct means distance strictly below the
        threshold; non-finite predictions count as wrong.
    """
    pred, gt, mask = _check_pair(pred_uv, gt_uv, 2, valid, 'pck_2d')
    if not threshold > 0:
        raise ValueError(f'pck_2d: threshold must be > 0; got {threshold}')
    limit = np.full(pred.shape[0], float(threshold))
    if scale is not None:
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != (pred.shape[0],) or not (np.isfinite(scale) & (scale > 0)).all():
            raise ValueError(f'pck_2d: scale must be (N,)=({pred.shape[0]},) finite and > 0; '
                             f'got shape {scale.shape}')
        limit = limit * scale
    dist = np.linalg.norm(pred - gt, axis=-1)
    with np.errstate(invalid='ignore'):
        correct = dist < limit[:, None]
    return _rates(correct, mask)


def bone_length_spread(joints: np.ndarray,
                       parents: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over frames of each bone's length (Sun et al.'s measure).

    A bone joins joint ``j`` to ``parents[j]``; a rigid skeleton has zero spread, so the spread
    shows how far a joint-regressing model drifts from a consistent body.

    Args:
        joints: (N, J, 3) or (N, J, 2) positions in any unit (the results share it).
        parents: (J,) parent index per joint, -1 for a root.

    Returns:
        (mean, std), each (J,) indexed by the child joint, NaN for roots. Frames where either end
        is non-finite are left out of that bone. ``std`` is the population standard deviation.
    """
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.asarray(parents, dtype=np.int64)
    if joints.ndim != 3 or joints.shape[-1] not in (2, 3):
        raise ValueError(f'bone_length_spread: joints must be (N, J, 3) or (N, J, 2); '
                         f'got {joints.shape}')
    n_joints = joints.shape[1]
    if parents.shape != (n_joints,) or ((parents < -1) | (parents >= n_joints)).any():
        raise ValueError(f'bone_length_spread: parents must be ({n_joints},) with values in '
                         f'[-1, {n_joints - 1}]; got {parents.tolist()}')
    mean = np.full(n_joints, np.nan)
    std = np.full(n_joints, np.nan)
    for j in np.flatnonzero(parents >= 0):
        length = np.linalg.norm(joints[:, j] - joints[:, parents[j]], axis=-1)
        length = length[np.isfinite(length)]
        if length.size:
            mean[j], std[j] = length.mean(), length.std()
    return mean, std


def angle_error_deg(pred_angles: np.ndarray,
                    gt_angles: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean absolute joint-angle error in degrees, with wrap-around.

    Args:
        pred_angles, gt_angles: (N, D) angles in radians.

    Returns:
        (mean_deg, per_dof_deg (D,)): differences are wrapped to [-pi, pi) before the absolute
        value, so 179 deg vs -179 deg is a 2 deg error. Non-finite predictions are left out.
    """
    pred = np.asarray(pred_angles, dtype=np.float64)
    gt = np.asarray(gt_angles, dtype=np.float64)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'angle_error_deg: pred and gt must both be (N, D); got {pred.shape} '
                         f'and {gt.shape}')
    if not np.isfinite(gt).all():
        raise ValueError('angle_error_deg: gt_angles has non-finite values')
    diff = np.remainder(pred - gt + np.pi, 2.0 * np.pi) - np.pi
    return _means(np.degrees(np.abs(diff)), np.ones(pred.shape, dtype=bool))


@dataclass
class EvaluationResult:
    """Accuracy of 3-D joint predictions on a test set.

    ``map_percent`` / ``per_joint_map_percent`` are None when no mAP threshold was used (e.g.
    hands, reported in millimetres only).
    """

    name: str
    joint_names: tuple[str, ...]
    n_frames: int
    mean_error_mm: float
    per_joint_error_mm: np.ndarray
    threshold_m: float | None = 0.10
    map_percent: float | None = None
    per_joint_map_percent: np.ndarray | None = None
    n_counted: int = 0
    n_nonfinite: int = 0
    notes: dict = field(default_factory=dict)

    @property
    def map_key(self) -> str:
        """JSON key for the mAP figure, e.g. ``map_10cm``."""
        return f'map_{self.threshold_m * 100:g}cm' if self.threshold_m is not None else 'map'

    def to_dict(self) -> dict:
        """JSON-safe summary (floats and lists; NaN becomes None); mAP values in percent."""
        def clean(values) -> list:
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(values)]

        out = {
            'name': self.name, 'joint_names': list(self.joint_names),
            'n_frames': int(self.n_frames), 'n_counted': int(self.n_counted),
            'n_nonfinite': int(self.n_nonfinite),
            'mean_error_mm': clean([self.mean_error_mm])[0],
            'per_joint_error_mm': clean(self.per_joint_error_mm),
        }
        if self.map_percent is not None:
            out[self.map_key] = clean([self.map_percent])[0]
            out[f'per_joint_{self.map_key}'] = clean(self.per_joint_map_percent)
            out['threshold_m'] = float(self.threshold_m)
        out.update(self.notes)
        return out

    def format_table(self) -> str:
        """Aligned text table: one row per joint, then the overall row."""
        width = max(len('overall'), *(len(n) for n in self.joint_names))
        has_map = self.map_percent is not None
        head = f'{"joint":<{width}}'
        if has_map:
            head += f'  {self.map_key.replace("map_", "mAP@") + " %":>12}'
        head += f'  {"error mm":>9}'
        lines = [f'{self.name}: {self.n_frames} frames, {len(self.joint_names)} joints', head,
                 '-' * len(head)]

        def row(label: str, m: float | None, e: float) -> str:
            text = f'{label:<{width}}'
            if has_map:
                text += f'  {m:>12.2f}'
            return text + f'  {e:>9.2f}'

        for j, joint in enumerate(self.joint_names):
            m = self.per_joint_map_percent[j] if has_map else None
            lines.append(row(joint, m, self.per_joint_error_mm[j]))
        lines.append('-' * len(head))
        lines.append(row('overall', self.map_percent, self.mean_error_mm))
        lines.append(f'non-finite predictions: {self.n_nonfinite} of {self.n_counted} '
                     f'counted joints')
        return '\n'.join(lines)

    def plot(self, path: str | Path) -> Path:
        """Write a per-joint bar chart (mAP when available, and the mean error) as a PNG."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:  # optional dependency
            raise RuntimeError('EvaluationResult.plot needs matplotlib: pip install '
                               '"kinpose_ros[torch]" or pip install matplotlib') from exc
        panels = [('mean error (mm)', self.per_joint_error_mm, self.mean_error_mm)]
        if self.map_percent is not None:
            label = self.map_key.replace('map_', 'mAP@') + ' (%)'
            panels.insert(0, (label, self.per_joint_map_percent, self.map_percent))
        fig = Figure(figsize=(max(6.0, 0.5 * len(self.joint_names) + 2), 3.2 * len(panels)))
        FigureCanvasAgg(fig)
        x = np.arange(len(self.joint_names))
        for i, (label, values, overall) in enumerate(panels):
            ax = fig.add_subplot(len(panels), 1, i + 1)
            ax.bar(x, np.nan_to_num(np.asarray(values, dtype=float)), color='tab:blue')
            ax.axhline(overall, color='tab:red', linestyle='--', label=f'overall {overall:.2f}')
            ax.set_ylabel(label)
            ax.set_xticks(x)
            ax.set_xticklabels(self.joint_names, rotation=45, ha='right')
            ax.legend(loc='lower right')
            ax.grid(axis='y', alpha=0.3)
        fig.suptitle(f'{self.name} ({self.n_frames} frames)')
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        return path


def evaluate_joints(pred_xyz: np.ndarray, gt_xyz: np.ndarray,
                    joint_names: Sequence[str] | None = None,
                    threshold_m: float | None = 0.10, valid: np.ndarray | None = None,
                    name: str = 'evaluation') -> EvaluationResult:
    """mAP (when ``threshold_m`` is not None) and MPJPE of (N, J, 3) metre predictions."""
    pred, gt, mask = _check_pair(pred_xyz, gt_xyz, 3, valid, 'evaluate_joints')
    n_joints = pred.shape[1]
    names = tuple(joint_names) if joint_names is not None else tuple(
        f'joint_{j}' for j in range(n_joints))
    if len(names) != n_joints:
        raise ValueError(f'evaluate_joints: {len(names)} joint_names for {n_joints} joints')
    mean_mm, per_mm = mpjpe_mm(pred, gt, mask)
    result = EvaluationResult(
        name=name, joint_names=names, n_frames=pred.shape[0], mean_error_mm=mean_mm,
        per_joint_error_mm=per_mm, threshold_m=threshold_m, n_counted=int(mask.sum()),
        n_nonfinite=count_nonfinite(pred, mask))
    if threshold_m is not None:
        overall, per = map_at(pred, gt, threshold_m, mask)
        result.map_percent, result.per_joint_map_percent = overall * 100.0, per * 100.0
    return result
