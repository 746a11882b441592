"""``kinpose train``: train a pose network from a config in ``config/train/``.

    kinpose train --config config/train/a2j_body15.yaml [--out runs/a2j_body15] [--device cuda]
    kinpose train --config config/train/a2j_body15.yaml --resume     # continue after a stop

A checkpoint is written after every epoch (``<out>/last.pt``, best validation in ``best.pt``),
with per-epoch metrics in ``<out>/metrics.csv`` and ``metrics.png``. ``--resume`` continues from
``last.pt`` exactly (same weights, optimiser state, sample order and augmentation); raising
``epochs`` in the config and resuming extends a finished run. Multi-GPU: launch with
``torchrun --nproc_per_node=N -m kinpose_ros.tools.cli train ...`` (docs/training.md). Export
the result with ``kinpose export --checkpoint <out>/best.pt --out models/<name>.onnx``.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help='train a pose network from a config',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', required=True,
                   help='training YAML (a path, or a name in config/train/)')
    p.add_argument('--out', type=Path, default=None,
                   help='run folder for checkpoints and metrics (default: runs/<name>)')
    p.add_argument('--resume', action='store_true', help='continue from <out>/last.pt')
    p.add_argument('--device', default=None, choices=('cpu', 'cuda'),
                   help='device (default: cuda when available, else cpu)')
    p.add_argument('--epochs', type=int, default=None, help='override the config epochs')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: the config, else torch default)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.add_argument('--json', action='store_true',
                   help='print the final epoch figures as one JSON object (last line)')
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from kinpose_ros.training.config import load_config
    from kinpose_ros.training.trainer import run_training

    cfg = load_config(args.config)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.threads is not None:
        cfg.threads = args.threads
    cfg.validate()
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: torch sees no CUDA device here; use --device cpu')
    out = args.out if args.out is not None else Path('runs') / cfg.name
    history = run_training(cfg, out, device, args.resume, not args.no_progress)
    if args.json:
        from kinpose_ros.tools.cli import print_json

        print_json({'out': str(out), 'epochs': len(history),
                    **(history[-1] if history else {})})
    return 0
