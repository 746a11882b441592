"""A trained model on one real depth frame: the skeleton drawn over the depth, plus pose checks.

For the default models' acceptance on ``../shared/data/real_depth/itop_side_train_000053.npy``
(a person facing the camera, arms spread ~40 degrees below horizontal, legs straight): the full
runtime path runs (``inference.PoseEstimator``: depth segmentation -> crop -> network -> decode ->
angles) and ``pose_checks`` tests what the picture should show: both hands out to the sides and
below the shoulders, feet near the bottom of the person's silhouette, left and right not swapped
(facing the camera, the person's left side appears on the image's right).

    python -m kinpose_ros.training.real_frame --model models/a2j_body15.onnx \\
        --depth ../shared/data/real_depth/itop_side_train_000053.npy --sensor itop \\
        --out docs/images/a2j_body15_itop_000053.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

__all__ = ['draw_pose', 'pose_checks', 'run_on_frame']

_LEFT, _RIGHT, _MID = '#3b8bff', '#ff4b3b', '#f0f0f0'


def pose_checks(joints_uv: np.ndarray, names: list[str], mask: np.ndarray | None) -> dict:
    """Image-space checks of a frontal 'arms spread down, legs straight' pose (v grows down).

    Args:
        joints_uv: (J, 2) image pixels; names: joint names (body15); mask: (H, W) bool person
            pixels of the proposal, or None.
    """
    j = {n: joints_uv[i] for i, n in enumerate(names)}
    out = {
        'left_right_not_swapped': bool(j['l_shoulder'][0] > j['r_shoulder'][0]
                                       and j['l_hand'][0] > j['r_hand'][0]),
        'hands_below_shoulders': bool(j['l_hand'][1] > j['l_shoulder'][1]
                                      and j['r_hand'][1] > j['r_shoulder'][1]),
        'hands_out_to_the_sides': bool(j['l_hand'][0] > j['l_elbow'][0] > j['l_shoulder'][0]
                                       and j['r_hand'][0] < j['r_elbow'][0] < j['r_shoulder'][0]),
    }
    if mask is not None and mask.any():
        rows = np.flatnonzero(mask.any(axis=1))
        top, bottom = rows[0], rows[-1]
        height = bottom - top + 1
        feet = max(j['l_foot'][1], j['r_foot'][1])
        out['feet_at_bottom_of_silhouette'] = bool(abs(feet - bottom) < 0.1 * height)
        out['feet_error_px'] = float(feet - bottom)
    return out


def run_on_frame(model: str | Path, depth_m: np.ndarray, intrinsics) -> tuple:
    """(FrameResult, proposals, estimator) for one frame, smoothing off: the estimator runs on
    the largest person proposal of its segmenter (the person of a single-person test frame;
    other proposals are furniture the segmenter could not rule out)."""
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator

    est = PoseEstimator(model, EstimatorConfig(smoothing=False, backend='onnxruntime-cpu',
                                               threads=1))
    if est.segmenter is None:
        from kinpose_ros.core.segmentation import PersonSegmenter

        est.segmenter = PersonSegmenter()
    proposals = est.segmenter.segment(depth_m, intrinsics)
    largest = sorted(proposals, key=lambda p: -int(np.count_nonzero(p.mask)))[:1]
    return est(depth_m, intrinsics, stamp=0.0, proposals=largest), largest, est


def draw_pose(path: str | Path, depth_m: np.ndarray, people: list, skeleton, intrinsics,
              title: str = '') -> Path:
    """PNG of the depth (grey, near = bright) with each person's skeleton: person's left blue,
    right red, centre line white; joint names beside the points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = depth_m.shape
    fig = Figure(figsize=(w / 40, h / 40 + 0.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, h / (h + 16)])
    valid = np.isfinite(depth_m) & (depth_m > 0)
    lo, hi = (np.percentile(depth_m[valid], [1, 99]) if valid.any() else (0.0, 1.0))
    ax.imshow(np.where(valid, depth_m, hi), cmap='gray_r', vmin=lo, vmax=hi)
    names = skeleton.joint_names
    for p in people:
        uv = intrinsics.project(p.joints_xyz)
        for a, b in skeleton.bones:
            side = names[b][:2]
            colour = _LEFT if side == 'l_' else _RIGHT if side == 'r_' else _MID
            ax.plot(uv[[a, b], 0], uv[[a, b], 1], '-', color=colour, lw=2.5)
        ax.scatter(uv[:, 0], uv[:, 1], s=14, c='yellow', zorder=3)
        for i, n in enumerate(names):
            ax.annotate(n, uv[i], xytext=(3, -3), textcoords='offset points', fontsize=5,
                        color='yellow')
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=8, y=0.995)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, help='exported model (.onnx with card)')
    parser.add_argument('--depth', required=True, type=Path,
                        help='depth .npy (uint16 mm or float m) or 16-bit PNG (mm)')
    parser.add_argument('--sensor', default='itop', help='core.camera.SENSOR_PRESETS name')
    parser.add_argument('--out', required=True, type=Path, help='PNG to write')
    args = parser.parse_args(argv)
    from kinpose_ros.core.camera import SENSOR_PRESETS
    from kinpose_ros.core.depth import decode_depth

    raw = np.load(args.depth) if args.depth.suffix == '.npy' else _png(args.depth)
    depth_m = decode_depth(raw, '16UC1' if np.issubdtype(raw.dtype, np.integer) else '32FC1')
    k = SENSOR_PRESETS[args.sensor]
    result, proposals, est = run_on_frame(args.model, depth_m, k)
    if not result.people:
        print(json.dumps({'people': 0, 'error': 'no person proposal in the frame'}))
        return 1
    person = result.people[0]
    mask = getattr(proposals[0], 'mask', None) if proposals else None
    checks = pose_checks(k.project(person.joints_xyz), est.skeleton.joint_names, mask)
    draw_pose(args.out, depth_m, result.people[:1], est.skeleton, k,
              f'{Path(args.model).stem} on {args.depth.name}')
    uv = k.project(person.joints_xyz)
    print(json.dumps({'checks': checks, 'png': str(args.out),
                      'joints_uv': {n: [round(float(a), 1) for a in uv[i]]
                                    for i, n in enumerate(est.skeleton.joint_names)}}))
    return 0


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


if __name__ == '__main__':
    raise SystemExit(main())
