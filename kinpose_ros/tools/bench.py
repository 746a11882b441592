"""``kinpose bench <target>``: measured figures for docs/benchmarks.md.

Each target is a function returning a flat dict of figures; ``--json`` prints it as the last
stdout line. Targets live next to the code they measure and are imported lazily.
"""
from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

# target -> 'module:function'; each function takes the parsed args and returns a dict
TARGETS = {
    'ik': 'kinpose_ros.tools.bench:benchmark_ik',
    'node': 'kinpose_ros.tools.bench_node:benchmark_node',
    'pipeline': 'kinpose_ros.tools.bench_pipeline:benchmark_pipeline',
    'segment': 'kinpose_ros.data.segmentation_eval:bench_target',
    'synth': 'kinpose_ros.data.synth.parallel:bench_target',
}


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='run a benchmark', description='Run a benchmark and print its figures '
        '(targets: ' + ', '.join(TARGETS) + ').')
    p.add_argument('target', choices=sorted(TARGETS), help='what to measure')
    p.add_argument('--json', action='store_true', help='print one JSON object as the last line')
    p.add_argument('--skeleton', default='body15', help='skeleton for ik (default body15)')
    p.add_argument('--samples', type=int, default=1000, help='poses for ik accuracy')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--backend', default='auto', help='inference backend (pipeline, node)')
    p.add_argument('--frames', type=int, default=None, help='frames to measure (default: '
                   'the target decides)')
    p.add_argument('--model', default=None, help='model card/ONNX for pipeline (default: '
                   'models/a2j_body15, else a random-weight A2J); for segment, the person-cell '
                   "classifier: a card or 'default' (the shipped one; none: depth rules only)")
    p.add_argument('--cell-model', default=None, help="pipeline: the segmenter's person-cell "
                   "classifier ('default', a card; none: depth rules only)")
    p.add_argument('--cell-mode', choices=('gate', 'union'), default='gate',
                   help="segment with --model, pipeline with --cell-model: the classifier gates "
                   "the cells, or 'union' of that and the rules on every cell "
                   '(SegmenterConfig.cell_mode)')
    p.add_argument('--checkpoint', default=None, help='checkpoint for --backend torch')
    p.add_argument('--threads', type=int, default=None, help='CPU threads of the backend')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinpose_ros.tools.cli import print_json

    module, func = TARGETS[args.target].split(':')
    figures = getattr(importlib.import_module(module), func)(args)
    if args.json:
        print_json(figures)
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            shown = f'{value:.4g}' if isinstance(value, float) else value
            print(f'{key:<{width}}  {shown}')
    return 0


def random_poses(sk, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, P) random in-limit motion parameters with the root ~3 m in front of a camera."""
    p = np.zeros((n, sk.num_params))
    nt = len(sk.root_translation_axes)
    nr = sk.root_rotation_size
    p[:, :nt] = rng.normal(size=(n, nt)) * 0.5
    if nt == 3:
        p[:, 2] += 3.0
    p[:, nt:nt + nr] = rng.normal(size=(n, nr))
    p[:, nt + nr:] = rng.uniform(sk.dof_lower, sk.dof_upper, size=(n, sk.num_dofs))
    return p


def _time_ms(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, caches)
    best = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        best.append((time.perf_counter() - t0) / repeats * 1e3)
    return float(min(best))


def benchmark_ik(args: argparse.Namespace) -> dict:
    """FK -> IK round trip, noisy targets (2 cm per axis) and speed at batch 1 and 256."""
    from kinpose_ros.core.ik import InverseKinematics
    from kinpose_ros.core.kinematics import forward_kinematics_np
    from kinpose_ros.core.skeleton import Skeleton

    sk = Skeleton.load(args.skeleton)
    rng = np.random.default_rng(args.seed)
    joints, _ = forward_kinematics_np(sk, random_poses(sk, args.samples, rng))
    ik = InverseKinematics(sk)
    res = ik.solve(joints)
    max_err = np.linalg.norm(res.joints - joints, axis=2).max(axis=1)
    unit_mm = 1e3 if sk.units == 'm' else 1.0
    noisy = joints + rng.normal(scale=0.02 if sk.units == 'm' else 2.0, size=joints.shape)
    fit = ik.solve(noisy)
    return {
        'skeleton': sk.name,
        'samples': args.samples,
        'roundtrip_ok_fraction': float(np.mean(max_err * unit_mm < 1.0)),
        'roundtrip_max_error_mm_p99': float(np.percentile(max_err, 99) * unit_mm),
        'noisy_input_error_mm': float(np.linalg.norm(noisy - joints, axis=2).mean() * unit_mm),
        'noisy_mean_error_mm': float(np.linalg.norm(fit.joints - joints, axis=2).mean()
                                     * unit_mm),
        'mean_iterations': float(res.iterations.mean()),
        'ms_per_frame_b1': _time_ms(lambda: ik.solve(joints[0]), 100),
        'ms_per_batch_256': _time_ms(lambda: ik.solve(joints[:256]), 5),
    }
