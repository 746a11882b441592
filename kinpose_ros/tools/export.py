"""``kinpose export``: a checkpoint (or random weights) -> ``<name>.onnx`` + ``<name>.json``.

After writing, the graph is checked: ONNX Runtime against PyTorch on random crops (joints within
1e-3 crop px and 1e-4 m) and its op types against TensorRT 10's ONNX parser. A failed check exits
non-zero and says which output or operator failed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from kinpose_ros.resources import source_commit


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='export a model to ONNX + model card',
        description='Export a training checkpoint (or a random-weight network, for tests and '
        'demos) to <name>.onnx with its model card <name>.json, then check ONNX Runtime '
        'against PyTorch and the operators against TensorRT 10.')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint', type=Path, help='training checkpoint (.pt)')
    src.add_argument('--random', choices=('a2j', 'kinematic', 'lite', 'direct_joint'),
                     help='random weights of this family (not a trained model)')
    p.add_argument('--out', type=Path, required=True, help='output .onnx path (card beside it)')
    batch = p.add_mutually_exclusive_group()
    batch.add_argument('--batch', type=int, help='fixed batch size in the graph')
    batch.add_argument('--dynamic-batch', type=int, metavar='MAX',
                       help='dynamic batch, at most MAX crops per call (default 8)')
    p.add_argument('--skeleton', default='body15', help='skeleton for --random (default body15)')
    p.add_argument('--input-size', type=int, nargs=2, default=(160, 160), metavar=('H', 'W'),
                   help='crop size for --random (default 160 160; lite: 50 60)')
    p.add_argument('--width', type=float, default=0.5, help='backbone width for --random')
    p.add_argument('--head-width', type=int, default=128, help='head width for --random')
    p.add_argument('--head-depth', type=int, default=4, help='A2J head depth for --random')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-check', action='store_true', help='skip the parity and operator checks')
    p.add_argument('--json', action='store_true', help='print one JSON object as the last line')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from kinpose_ros.inference.model_export import (
        export_checkpoint,
        export_model,
        random_model,
    )
    from kinpose_ros.tools.cli import print_json

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    commit = source_commit()
    check = not args.no_check
    if args.checkpoint is not None:
        report = export_checkpoint(args.checkpoint, args.out, args.batch, args.dynamic_batch,
                                   commit=commit, check=check)
    else:
        model, config, sk = random_model(args.random, args.skeleton, tuple(args.input_size),
                                         args.width, args.head_width, args.head_depth,
                                         args.seed)
        fields = {'description': f'RANDOM WEIGHTS ({args.random}, seed {args.seed}): for tests '
                  'and demos only, predictions are meaningless',
                  'training': {'data': 'none (random weights)', 'seed': args.seed}}
        report = export_model(model, args.random, config, sk, args.out, args.batch,
                              args.dynamic_batch, fields, commit, check, args.seed)
    figures = report.to_dict()
    if args.json:
        print_json(figures)
    else:
        print(f'wrote {report.onnx_path} and {report.card_path} in {report.seconds:.1f} s')
        if check:
            errs = ', '.join(f'{k} {v:.2g}' for k, v in report.max_abs_error.items())
            print(f'ONNX Runtime vs PyTorch max |diff|: {errs}')
            print(f'TensorRT 10: {report.tensorrt_message}')
    return 0
