"""``kinpose eval``: accuracy of 3-D joint predictions (mAP@10cm, MPJPE), per joint.

Sources of predictions:
  * ``--golden itop|nyu``: A2J's released predictions against the ITOP / NYU test labels
    (reproduces the paper: 88.02 % mAP@10cm, 8.61 mm); checks the evaluation code end to end.
  * ``--pred P.npy --gt G.npy``: arrays (N, J, 3) in metres, same frame.
  * ``--model M --data SPEC``: run a training checkpoint (.pt, PyTorch) or an exported model
    (.onnx + .json card, ONNX Runtime) on person crops from ground-truth proposals, exactly as
    the estimator crops and decodes (``training.model_eval``). SPEC: ``synth:seed=123,n=500``,
    ``fabricated:seed=5,n=50``, ``itop:/path/to/itop,split=test``, ``shards:/path``,
    ``nyu:/path,split=test``. Adds 2-D PCK, bone-length spread and, with ground-truth angles,
    the joint-angle error (``--ik`` fits IK for joint-output models).

Prints an aligned per-joint table, or with ``--json`` one JSON object as the last stdout line
(``map_10cm`` in percent, ``mean_error_mm``, per-joint lists in ``joint_names`` order).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = _REPO_ROOT.parent / 'shared' / 'data'


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help='evaluate 3-D joint predictions (mAP@10cm, MPJPE)',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--golden', choices=('itop', 'nyu'),
                        help="reproduce A2J's published result from its released predictions")
    source.add_argument('--pred', type=Path, metavar='PRED.npy',
                        help='predicted joints, (N, J, 3) metres (.npy); needs --gt')
    source.add_argument('--model', metavar='MODEL',
                        help='checkpoint (.pt) or ONNX model (.onnx, card beside it) to '
                        'evaluate; needs --data')
    parser.add_argument('--gt', type=Path, metavar='GT.npy',
                        help='ground-truth joints for --pred, (N, J, 3) metres (.npy)')
    parser.add_argument('--data', metavar='SPEC',
                        help='dataset spec for --model, e.g. synth:seed=123,n=500 or '
                        'itop:/path,split=test')
    parser.add_argument('--frames', type=int, default=500,
                        help='frames for --model when the spec has no n= (default: 500)')
    parser.add_argument('--ik', action='store_true',
                        help='--model: fit IK to report joint angles of joint-output models')
    parser.add_argument('--threads', type=int, default=None,
                        help='--model: CPU threads for inference')
    parser.add_argument('--record', nargs='?', const='test', default=None, metavar='NAME',
                        help='--model with an exported model: store the figures in its card as '
                        'metrics[NAME] (default NAME: test)')
    parser.add_argument('--data-dir', type=Path, default=None,
                        help=f'reference data folder holding a2j/ (default: {DEFAULT_DATA_DIR})')
    parser.add_argument('--threshold-m', type=float, default=0.10,
                        help='mAP distance threshold in metres, strict (default: 0.10)')
    parser.add_argument('--joint-names', default=None,
                        help='comma-separated joint names for --pred (default: joint_0, ...)')
    parser.add_argument('--plot', type=Path, metavar='OUT.png',
                        help='write a per-joint bar chart PNG')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object as the last stdout line instead of the table')
    parser.set_defaults(func=run)
    return parser


def _from_arrays(args: argparse.Namespace):
    import numpy as np

    from kinpose_ros.evaluation import evaluate_joints

    if args.gt is None:
        raise ValueError('--pred needs --gt GT.npy (ground-truth joints, (N, J, 3) metres)')
    arrays = []
    for flag, path in (('--pred', args.pred), ('--gt', args.gt)):
        if not path.is_file():
            raise FileNotFoundError(f'{flag}: no such file: {path}')
        arrays.append(np.load(path, allow_pickle=False))
    names = args.joint_names.split(',') if args.joint_names else None
    return evaluate_joints(arrays[0], arrays[1], names, threshold_m=args.threshold_m,
                           name=f'{args.pred.name} vs {args.gt.name}')


def run(args: argparse.Namespace) -> int:
    if args.model is not None:
        if args.data is None:
            raise ValueError('--model needs --data SPEC (e.g. synth:seed=123,n=500)')
        from kinpose_ros.training.model_eval import evaluate_model

        figures, result = evaluate_model(args.model, args.data, args.frames, args.ik,
                                         args.threads, progress=not args.json)
        if args.record:
            from kinpose_ros.training.model_eval import record_metrics

            path = record_metrics(args.model, figures, args.record)
            print(f'recorded metrics[{args.record!r}] in {path}',
                  file=sys.stderr if args.json else sys.stdout)
        return _report(args, result, figures)
    if args.golden is not None:
        from kinpose_ros.data.golden import golden_itop, golden_nyu

        data_dir = args.data_dir if args.data_dir is not None else DEFAULT_DATA_DIR
        if args.golden == 'itop':
            result = golden_itop(data_dir, threshold_m=args.threshold_m)
        else:
            result = golden_nyu(data_dir)
    else:
        result = _from_arrays(args)
    return _report(args, result, result.to_dict())


def _report(args: argparse.Namespace, result, figures: dict) -> int:
    """Plot (--plot), then print the table or the JSON figures (--json)."""
    if args.plot is not None:
        path = result.plot(args.plot)
        print(f'wrote {path}', file=sys.stderr if args.json else sys.stdout)
    if args.json:
        from kinpose_ros.tools.cli import print_json

        print_json(figures)
    else:
        print(result.format_table())
        extra = {k: v for k, v in figures.items() if k in (
            'pck_2d_5pct', 'bone_std_mm', 'angle_error_deg', 'angles_from', 'backend')}
        if extra:
            print(', '.join(f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}'
                            for k, v in extra.items()))
    return 0
