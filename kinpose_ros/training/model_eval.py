"""Run a model on labelled frames the way the estimator does, and score it.

Everything about the model comes from its card (``inference.model_card``); crops and decode are
the estimator's own (``inference.crop_geometry``), so the scores are those of the runtime path:
  * ``uvz_crop``: ``uv`` crop pixels -> image pixels (``CropInfo.crop_to_image``); ``z`` / its
    scale is normalised depth -> metres (``CropInfo.denormalise_depth``); unproject.
  * ``xyz_crop_centre``: ``joints`` / its scale are metres along the camera axes relative to the
    crop centre point: the crop centre pixel unprojected at ``center_depth_m``.
Proposals come from the ground truth (``records.person_proposal``: label box or mask box, mask
centroid), so the scores measure the network, not the person detector.

Scores (``kinpose_ros.evaluation``): mAP@10cm overall and per joint, MPJPE, 2-D PCK at 5 % of the
person box height, bone-length spread (mean std over bones, mm) and, with ground-truth motion
parameters, the joint-angle error (native angles of kinematic models, or an IK fit with
``ik=True``).
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kinpose_ros.core.depth import CropInfo
from kinpose_ros.training.records import FrameRecord, person_proposal

__all__ = ['crop_people', 'decode_outputs', 'evaluate_frames', 'evaluate_model', 'load_backend',
           'record_metrics']

PCK_FRACTION = 0.05


def crop_people(frame: FrameRecord, card) -> tuple[np.ndarray, list[CropInfo], np.ndarray]:
    """All people of ``frame`` -> (crops (N, 1, H, W) float32, CropInfos, person boxes (N, 4)),
    by the estimator's own code (``inference.crop_geometry.make_crops``)."""
    from kinpose_ros.inference.crop_geometry import make_crops

    props = [person_proposal(frame, p) for p in frame.people]
    crops, infos = make_crops(frame.depth_m, frame.intrinsics, props, card)
    return crops, infos, np.array([p.box_xyxy for p in props], dtype=np.float64).reshape(-1, 4)


def decode_outputs(card, outputs: dict[str, np.ndarray], infos: list[CropInfo],
                   intrinsics) -> np.ndarray:
    """Graph outputs of N crops -> (N, J, 3) float64 camera-frame joints (metres), by the
    estimator's decode (``inference.crop_geometry.decode_outputs``)."""
    from kinpose_ros.inference.crop_geometry import decode_outputs as decode

    return decode(outputs, infos, intrinsics, card).joints_xyz


def _angle_targets(people: list, skeleton) -> np.ndarray | None:
    if any(p.params is None for p in people):
        return None
    start = len(skeleton.root_translation_axes) + skeleton.root_rotation_size
    return np.array([np.asarray(p.params)[start:] for p in people])


def evaluate_frames(run: Callable[[np.ndarray], dict], card, source, n_frames: int,
                    skeleton, batch: int = 16, ik: bool = False, name: str = 'evaluation',
                    progress: bool = False) -> tuple[dict, object]:
    """Score ``run`` (crops -> output dict, e.g. a backend) on frames 0..n_frames-1 of ``source``.

    Returns:
        (figures, EvaluationResult): figures is a flat JSON-safe dict (``map_10cm`` percent,
        ``mean_error_mm``, per-joint lists, ``pck_2d_5pct``, ``bone_std_mm``, ``angle_error_deg``
        when available, counts); the result is ``evaluation.evaluate_joints``'s.
    """
    from kinpose_ros.evaluation import (
        angle_error_deg,
        bone_length_spread,
        evaluate_joints,
        pck_2d,
    )

    preds, gts, valid, uv_pred, uv_gt, heights, angles_p, angles_t = ([] for _ in range(8))
    pending: list = []

    def flush() -> None:
        crops = np.concatenate([c for c, _, _, _ in pending])
        outputs = run(crops)
        start = 0
        for c, infos, frame, boxes in pending:
            sl = {k: v[start:start + len(c)] for k, v in outputs.items()}
            start += len(c)
            xyz = decode_outputs(card, sl, infos, frame.intrinsics)
            preds.append(xyz)
            gts.append(np.array([p.joints_xyz for p in frame.people]))
            valid.append(np.array([p.visible for p in frame.people]))
            uv_pred.append(frame.intrinsics.project(xyz))
            uv_gt.append(frame.intrinsics.project(gts[-1]))
            heights.append(boxes[:, 3] - boxes[:, 1])
            if 'joint_angles' in sl:
                angles_p.append(sl['joint_angles'])
            angles_t.append(_angle_targets(frame.people, skeleton))
        pending.clear()

    frames = range(n_frames)
    if progress:
        from tqdm import tqdm

        tty = sys.stderr.isatty()
        frames = tqdm(frames, desc=name, unit='frame', leave=False,
                      mininterval=0.5 if tty else 60.0)
    queued = 0
    for i in frames:
        frame = source.frame(i)
        if not frame.people:
            continue
        crops, infos, boxes = crop_people(frame, card)
        pending.append((crops, infos, frame, boxes))
        queued += len(crops)
        if queued >= batch:
            flush()
            queued = 0
    if pending:
        flush()
    if not preds:
        raise ValueError(f'{name}: the data source gave no labelled person in {n_frames} frames')
    pred, gt, mask = np.concatenate(preds), np.concatenate(gts), np.concatenate(valid)
    mask &= np.isfinite(gt).all(axis=-1)
    result = evaluate_joints(pred, gt, skeleton.joint_names, 0.10, mask, name)
    fig = result.to_dict()
    fig['n_people'] = int(pred.shape[0])
    uv_mask = mask & np.isfinite(np.concatenate(uv_gt)).all(axis=-1)
    pck, _ = pck_2d(np.concatenate(uv_pred), np.nan_to_num(np.concatenate(uv_gt)), PCK_FRACTION,
                    np.concatenate(heights), uv_mask)
    fig['pck_2d_5pct'] = 100.0 * pck
    _, std = bone_length_spread(pred, skeleton.parents)
    fig['bone_std_mm'] = float(np.nanmean(std) * 1000.0)
    fig.update(_angle_figures(card, pred, angles_p, angles_t, skeleton, ik, angle_error_deg))
    return fig, result


def _angle_figures(card, pred, angles_p, angles_t, skeleton, ik: bool, angle_error_deg) -> dict:
    if any(a is None for a in angles_t) or not angles_t:
        return {}
    target = np.concatenate(angles_t)
    if angles_p:
        predicted, how = np.concatenate(angles_p), 'native'
    elif ik:
        from kinpose_ros.core.ik import InverseKinematics

        finite = np.isfinite(pred).all(axis=(1, 2))
        predicted = np.full(target.shape, np.nan)
        if finite.any():
            fit = InverseKinematics(skeleton).solve(pred[finite], fit_scale=True)
            predicted[finite] = fit.joint_angles
        how = 'ik'
    else:
        return {}
    mean, per = angle_error_deg(predicted, target)
    return {'angle_error_deg': mean, 'per_dof_angle_error_deg': [float(v) for v in per],
            'angles_from': how}


def load_backend(model: str | Path, threads: int | None = None):
    """A backend for a checkpoint (``.pt``: PyTorch) or an exported model (``.onnx`` / ``.json``
    card: ONNX Runtime on the CPU); it carries the model card as ``backend.card``."""
    from kinpose_ros.inference.backends import OnnxRuntimeBackend, TorchBackend

    path = Path(model)
    if path.suffix == '.pt':
        return TorchBackend(path, device='cpu', threads=threads)
    if path.suffix in ('.onnx', '.json'):
        return OnnxRuntimeBackend(path, device='cpu', threads=threads)
    raise ValueError(f'--model: expected a checkpoint (.pt) or an ONNX model (.onnx with its '
                     f'.json card), got {model}')


def evaluate_model(model: str | Path, data: str, frames: int = 500, ik: bool = False,
                   threads: int | None = None, progress: bool = False) -> tuple[dict, object]:
    """Score a checkpoint or ONNX model on a ``--data`` spec (``sources.parse_data_spec``).

    ``frames`` is used when the spec gives no ``n=``; sources with fewer frames are used whole.
    Returns ``evaluate_frames``'s (figures, EvaluationResult); figures also name the model,
    data and backend.
    """
    from kinpose_ros.training.sources import build_source, parse_data_spec

    backend = load_backend(model, threads)
    card = backend.card
    skeleton = card.load_skeleton()
    cfg = parse_data_spec(data)
    source = build_source(cfg, skeleton)
    n = min(int(cfg.samples if cfg.samples is not None else frames), len(source))
    figures, result = evaluate_frames(backend, card, source, n, skeleton,
                                      batch=max(1, backend.max_batch), ik=ik,
                                      name=f'{Path(model).name} on {data}', progress=progress)
    figures.update(model=str(model), data=data, backend=backend.name, n_frames_used=n)
    return figures, result


def record_metrics(model: str | Path, figures: dict, name: str = 'test') -> Path:
    """Store ``figures`` in the model card beside an exported model as ``metrics[name]``.

    Flat metric keys left by training (older checkpoints) move under ``metrics['validation']``.
    The card is validated and rewritten; returns its path.

    Raises:
        ValueError: ``model`` is a checkpoint (it has no card file to update).
    """
    from kinpose_ros.inference.model_card import ModelCard, card_path_for

    path = Path(model)
    if path.suffix == '.pt':
        raise ValueError(f'--record: {model} is a checkpoint; record metrics in an exported '
                         'model card (kinpose export, then kinpose eval --model <name>.onnx)')
    card = ModelCard.load(card_path_for(path))
    metrics = dict(card.metrics or {})
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    if flat:
        metrics = {k: v for k, v in metrics.items() if isinstance(v, dict)}
        metrics.setdefault('validation', flat)
    metrics[name] = figures
    card.metrics = metrics
    return card.save(card.path)
