"""``kinpose synth``: write synthetic training shards (person crops + labels), or a preview.

Examples::

    kinpose synth --out data_cache/synth --count 20000 --seed 1
    kinpose synth --preview synth.png --seed 3 --people 0 4
"""
from __future__ import annotations

import argparse


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='generate synthetic depth of people (shards or a preview)',
        description='Generate synthetic depth frames of people and write compact npz shards of '
        'person crops with labels (--out), or a PNG montage with the skeletons drawn '
        '(--preview). Deterministic for a seed.')
    p.add_argument('--out', help='output directory for synth_*.npz shards and meta.json')
    p.add_argument('--preview', help='write a PNG montage of frames instead of shards')
    p.add_argument('--count', type=int, default=None,
                   help='samples to write (default 1000), or frames in the preview (default 16)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--sensors', nargs='+', default=None,
                   help='sensor presets to draw from (default: all, see docs/synthetic_data.md)')
    p.add_argument('--people', type=int, nargs=2, default=(1, 1), metavar=('MIN', 'MAX'),
                   help='people per frame (default 1 1)')
    p.add_argument('--no-clutter', action='store_true', help='floor only: no walls/furniture')
    p.add_argument('--no-noise', action='store_true', help='ideal depth, no sensor model')
    p.add_argument('--rgb', action='store_true', help='also render RGB (shown in the preview)')
    p.add_argument('--size', type=int, nargs=2, default=(160, 160), metavar=('W', 'H'),
                   help='crop size of the shards (default 160 160)')
    p.add_argument('--depth-range', type=float, default=2.0, help='metres mapped to [-1, 1]')
    p.add_argument('--min-visible', type=float, default=0.3,
                   help='skip people less visible than this fraction')
    p.add_argument('--shard-size', type=int, default=1000, help='samples per shard')
    p.add_argument('--workers', type=int, default=2, help='generator processes')
    p.add_argument('--json', action='store_true', help='print one JSON summary as the last line')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator
    from kinpose_ros.data.synth.scene import DEFAULT_SENSORS
    from kinpose_ros.tools.cli import print_json

    if not args.out and not args.preview:
        raise ValueError('give --out DIR (shards) or --preview FILE.png')
    config = SynthConfig(sensors=tuple(args.sensors or DEFAULT_SENSORS),
                         people=tuple(args.people), clutter=not args.no_clutter,
                         noise=not args.no_noise, rgb=args.rgb)
    summary = {'seed': args.seed}
    if args.preview:
        from kinpose_ros.data.synth.preview import write_preview

        count = args.count or 16
        path = write_preview(SynthGenerator(config, args.seed), args.preview, count,
                             with_rgb=args.rgb)
        print(f'wrote {path} ({count} frames)')
        summary.update(preview=str(path), frames=count)
    if args.out:
        from kinpose_ros.data.synth.dataset import write_shards

        count = args.count or 1000
        paths = write_shards(args.out, count, args.seed, config, tuple(args.size),
                             args.depth_range, args.min_visible, args.shard_size, args.workers,
                             progress=not args.json)
        print(f'wrote {count} samples in {len(paths)} shards under {args.out}')
        summary.update(out=str(args.out), samples=count, shards=[str(p) for p in paths])
    if args.json:
        print_json(summary)
    return 0
