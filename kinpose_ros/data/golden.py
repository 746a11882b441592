"""Golden reproduction of A2J's published results from its released predictions.

The files (``a2j/`` in the shared reference data, from zhangboshen/A2J) hold A2J's test-set
predictions and the ground truth for ITOP side view and NYU hand. Evaluating them with
:mod:`kinpose_ros.evaluation` must give the paper's figures: ITOP side mAP@10cm 88.02 %, NYU mean
3-D error 8.61 mm. This checks the evaluation code end to end, including the camera conventions.

Frames: ITOP world is metres, x right, y up, z forward; NYU world is millimetres, x right, y up
(fy is negative), z forward.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kinpose_ros.evaluation import EvaluationResult, evaluate_joints

ITOP_JOINT_NAMES = ('Head', 'Neck', 'RShoulder', 'LShoulder', 'RElbow', 'LElbow', 'RHand',
                    'LHand', 'Torso', 'RHip', 'LHip', 'RKnee', 'LKnee', 'RFoot', 'LFoot')
# The 14 NYU evaluation joints (DeepPrior / A2J order): pinky, ring, middle, index (tip, middle),
# thumb (3), wrist (2), palm centre.
NYU_JOINT_NAMES = ('P1', 'P2', 'R1', 'R2', 'M1', 'M2', 'I1', 'I2', 'T1', 'T2', 'T3', 'W1', 'W2',
                   'C')

ITOP_PIXEL_SIZE = 0.0035  # 1 / f for ITOP's 320x240 depth: f = 285.714 px
ITOP_CENTRE_PX = (160.0, 120.0)
NYU_FOCAL_PX = (588.03, -587.07)  # fy < 0: image v grows down, world y up
NYU_CENTRE_PX = (320.0, 240.0)


def itop_uvd_to_world(uvd: np.ndarray) -> np.ndarray:
    """ITOP (u, v px in 320x240, z m) -> world (X, Y, Z) m, y up; shape (..., 3) kept."""
    uvd = np.asarray(uvd, dtype=np.float64)
    u, v, z = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return np.stack([(u - ITOP_CENTRE_PX[0]) * z * ITOP_PIXEL_SIZE,
                     (ITOP_CENTRE_PX[1] - v) * z * ITOP_PIXEL_SIZE, z], axis=-1)


def nyu_uvd_to_world_mm(uvd: np.ndarray) -> np.ndarray:
    """NYU (u, v px in 640x480, z mm) -> world (X, Y, Z) mm, y up; shape (..., 3) kept."""
    uvd = np.asarray(uvd, dtype=np.float64)
    u, v, z = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return np.stack([(u - NYU_CENTRE_PX[0]) * z / NYU_FOCAL_PX[0],
                     (v - NYU_CENTRE_PX[1]) * z / NYU_FOCAL_PX[1], z], axis=-1)


def _a2j_dir(data_dir: str | Path) -> Path:
    """Accept the shared data folder (holding ``a2j/``) or the ``a2j`` folder itself."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / 'a2j', data_dir):
        if (candidate / 'itop_side_88.mat').is_file() or (candidate / 'nyu_pred.txt').is_file():
            return candidate
    raise FileNotFoundError(f'A2J golden files not found under {data_dir} (expected '
                            f'{data_dir / "a2j"}/itop_side_88.mat, nyu_pred.txt, ...); pass the '
                            f'shared reference data folder')


def _load_mat(path: Path, key: str, shape_tail: tuple[int, int]) -> np.ndarray:
    from scipy.io import loadmat  # scipy is a core dependency; imported where used

    if not path.is_file():
        raise FileNotFoundError(f'golden file missing: {path}')
    content = loadmat(path)
    if key not in content:
        raise ValueError(f'{path.name}: key {key!r} not found; keys are '
                         f'{sorted(k for k in content if not k.startswith("__"))}')
    arr = np.asarray(content[key], dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != shape_tail:
        raise ValueError(f'{path.name}[{key!r}]: expected (N, {shape_tail[0]}, '
                         f'{shape_tail[1]}); got {arr.shape}')
    return arr


def _check_frames(pred: np.ndarray, gt: np.ndarray, what: str) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f'{what}: predictions {pred.shape} and ground truth {gt.shape} differ')


def golden_itop(data_dir: str | Path, threshold_m: float = 0.10) -> EvaluationResult:
    """A2J on ITOP side view (4863 frames): mAP@10cm must be 88.02 %, mean error about 58.5 mm."""
    folder = _a2j_dir(data_dir)
    gt = _load_mat(folder / 'itop_side_keypoints3D_test.mat', 'keypoints3D', (15, 3))
    pred_uvd = _load_mat(folder / 'itop_side_88.mat', 'resultUVD', (15, 3))
    _check_frames(pred_uvd, gt, 'golden_itop')
    return evaluate_joints(itop_uvd_to_world(pred_uvd), gt, ITOP_JOINT_NAMES,
                           threshold_m=threshold_m, name='A2J ITOP side (golden)')


def golden_nyu(data_dir: str | Path) -> EvaluationResult:
    """A2J on NYU hand (8252 frames): mean 3-D joint error must be 8.61 mm (no mAP)."""
    folder = _a2j_dir(data_dir)
    gt_uvd = _load_mat(folder / 'nyu_keypointsUVD_test.mat', 'keypoints3D', (14, 3))
    pred_path = folder / 'nyu_pred.txt'
    if not pred_path.is_file():
        raise FileNotFoundError(f'golden file missing: {pred_path}')
    pred_flat = np.loadtxt(pred_path, dtype=np.float64, ndmin=2)
    if pred_flat.shape[1] != 14 * 3:
        raise ValueError(f'{pred_path.name}: expected 42 values per row (14 joints x u, v, z); '
                         f'got {pred_flat.shape[1]}')
    pred_uvd = pred_flat.reshape(-1, 14, 3)
    _check_frames(pred_uvd, gt_uvd, 'golden_nyu')
    pred_m = nyu_uvd_to_world_mm(pred_uvd) / 1000.0
    gt_m = nyu_uvd_to_world_mm(gt_uvd) / 1000.0
    return evaluate_joints(pred_m, gt_m, NYU_JOINT_NAMES, threshold_m=None,
                           name='A2J NYU hand (golden)')
