"""The ``kinpose`` command: one entry point, one module per subcommand.

Each subcommand module in :mod:`kinpose_ros.tools` defines ``add_parser(subparsers)`` which
registers its parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and
returning an exit code). Modules import heavy dependencies (torch, onnxruntime, rclpy) inside
``func`` only, so ``kinpose --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

# subcommand name -> module under kinpose_ros.tools
SUBCOMMANDS = {
    'bag': 'bag',
    'demo': 'demo',
    'bench': 'bench',
    'urdf': 'urdf',
    'eval': 'evaluate',
    'export': 'export',
    'build-engine': 'build_engine',
    'toy': 'toy',
    'train': 'train',
    'synth': 'synth',
}


def print_json(obj: dict) -> None:
    """Print the machine-readable result: exactly one JSON object on the last stdout line."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=float) + '\n')
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='kinpose', description='kinpose_ros tools: data, training, evaluation, export, '
        'engines, benchmarks and demos for 3-D articulated pose from depth.')
    sub = parser.add_subparsers(dest='command', metavar='<command>')
    sub.required = True
    for name, module in SUBCOMMANDS.items():
        mod = importlib.import_module(f'kinpose_ros.tools.{module}')
        mod.add_parser(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f'kinpose {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
