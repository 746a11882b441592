"""How a person-score threshold trades true people for phantom ones (``min_person_score``).

Runs the estimator on synthetic frames with 0-4 people and clutter (each frame on its own:
tracking reset, no smoothing) and records, for every proposal, the score the estimator's
``min_person_score`` filter compares (mean of network confidence x surface agreement, times the
proposal score) and whether the proposal is a true person (box IoU >= 0.5 with a labelled
person) or a phantom (furniture, wall pieces, a part of a person). For each threshold it prints
the share of true people kept (all, and those at least 70 % visible, issue 3's targets) and the
phantoms per frame left.

Usage: ``python -m kinpose_ros.tools.person_score --model models/a2j_body15.json --seed 41
--frames 200 --json`` (``docs/benchmarks.md``, "Person score filter").
"""
from __future__ import annotations

import argparse
import json

import numpy as np

__all__ = ['proposal_scores', 'threshold_table']


def proposal_scores(model: str, seed: int, frames: int, threads: int = 1,
                    cell_model: str = 'none', cell_mode: str = 'gate') -> np.ndarray:
    """(N, 3) rows (true person 0/1, visible fraction of the matched person, score);
    ``cell_model``, ``cell_mode``: the segmenter's cell classifier and how it is used
    (``EstimatorConfig``)."""
    from kinpose_ros.data.segmentation_eval import box_iou
    from kinpose_ros.data.synth import SynthConfig, SynthGenerator
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator

    gen = SynthGenerator(SynthConfig(people=(0, 4), clutter=True, noise=True), seed=seed)
    est = PoseEstimator(model, EstimatorConfig(backend='onnxruntime-cpu', threads=threads,
                                               smoothing=False, max_people=8,
                                               min_person_score=1e-12,
                                               cell_model=cell_model, cell_mode=cell_mode))
    seen: list = []
    drop = est._drop_unlikely

    def record(dec, surface, props):  # the filter's own inputs, before it drops anything
        seen.append((est.person_scores(dec, surface, props),
                     np.array([p.box_xyxy for p in props], dtype=np.float64)))
        return drop(dec, surface, props)

    est._drop_unlikely = record
    rows = []
    for i in range(frames):
        frame = gen.frame(i)
        est.reset()
        seen.clear()
        est(frame.depth_m, frame.intrinsics, stamp=float(i))
        if not seen:
            continue
        score, boxes = seen[0]
        people = [p for p in frame.people if np.any(np.asarray(p.box_xyxy) > 0)]
        truth = np.array([p.box_xyxy for p in people], dtype=np.float64).reshape(-1, 4)
        iou = box_iou(boxes, truth) if len(truth) else np.zeros((len(boxes), 0))
        for k in range(len(boxes)):
            j = int(np.argmax(iou[k])) if iou.shape[1] else -1
            hit = j >= 0 and iou[k, j] >= 0.5
            rows.append((float(hit), people[j].visible_fraction if hit else 0.0, score[k]))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def threshold_table(rows: np.ndarray, frames: int, thresholds: list[float]) -> list[dict]:
    """Per threshold: true people kept (all / >= 70 % visible) and phantoms per frame left."""
    hit, vis, score = rows[:, 0] > 0, rows[:, 1], np.nan_to_num(rows[:, 2], nan=0.0)
    target = hit & (vis >= 0.7)
    out = []
    for t in thresholds:
        keep = score >= t
        out.append({'threshold': t,
                    'true_kept': float(keep[hit].mean()) if hit.any() else 1.0,
                    'visible_true_kept': float(keep[target].mean()) if target.any() else 1.0,
                    'phantoms_per_frame': float((keep & ~hit).sum() / max(frames, 1))})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='python -m kinpose_ros.tools.person_score',
                                 description=__doc__.split('\n\n')[0])
    ap.add_argument('--model', default=None,
                    help='pose model card (default: the shipped models/a2j_body15.json)')
    ap.add_argument('--seed', type=int, default=41)
    ap.add_argument('--frames', type=int, default=200)
    ap.add_argument('--thresholds', type=float, nargs='+',
                    default=[0.0, 0.01, 0.02, 0.03, 0.05])
    ap.add_argument('--cell-model', default='none', help="the segmenter's person-cell "
                    "classifier: 'none' (depth rules only), 'default' or a card")
    ap.add_argument('--cell-mode', choices=('gate', 'union'), default='gate',
                    help='with --cell-model: EstimatorConfig.cell_mode')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args(argv)
    if args.model is None:
        from kinpose_ros.resources import find

        args.model = str(find('models/a2j_body15.json'))
    rows = proposal_scores(args.model, args.seed, args.frames, cell_model=args.cell_model,
                           cell_mode=args.cell_mode)
    table = threshold_table(rows, args.frames, args.thresholds)
    summary = {'model': args.model, 'cell_model': args.cell_model,
               'cell_mode': args.cell_mode, 'seed': args.seed,
               'frames': args.frames,
               'true_people': int((rows[:, 0] > 0).sum()),
               'visible_true_people': int(((rows[:, 0] > 0) & (rows[:, 1] >= 0.7)).sum()),
               'thresholds': table}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{args.model}, seed {args.seed}, {args.frames} frames: "
              f"{summary['true_people']} true people ({summary['visible_true_people']} >= 70 % "
              'visible)')
        for r in table:
            print(f"  >= {r['threshold']:.3f}: true kept {100 * r['true_kept']:.1f} %, visible "
                  f"true kept {100 * r['visible_true_kept']:.1f} %, phantoms/frame "
                  f"{r['phantoms_per_frame']:.3f}")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
