"""Latency of a network under ONNX Runtime on the CPU: the budget check for the default models.

``onnx_latency_ms(model, input_size)`` exports the model (random or trained weights) to a
temporary ONNX file and times ``InferenceSession.run`` at batch 1 with a fixed number of intra-op
threads: the median (and 10th/90th percentiles) of ``runs`` calls after ``warmup`` calls.

Command line (the rows of docs/benchmarks.md, "A2J speed candidates")::

    python -m kinpose_ros.training.speed --family a2j            # the built-in candidate sweep
    python -m kinpose_ros.training.speed --family kinematic
    python -m kinpose_ros.training.speed --config config/train/a2j_body15.yaml
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ['A2J_CANDIDATES', 'KINEMATIC_CANDIDATES', 'onnx_latency_ms', 'sweep']

# (input H = W, backbone width, head width, head depth): the A2J sweep of docs/benchmarks.md
A2J_CANDIDATES = [
    (160, 0.5, 128, 4), (160, 0.5, 64, 2), (144, 0.5, 64, 2), (128, 0.5, 128, 2),
    (128, 0.5, 64, 2), (128, 0.5, 64, 3), (128, 0.375, 64, 2), (128, 0.375, 96, 2),
    (144, 0.375, 64, 2), (160, 0.375, 64, 2), (112, 0.5, 64, 2),
]
# (input H = W, backbone, width, hidden)
KINEMATIC_CANDIDATES = [
    (128, 'resnet18', 0.5, 256), (128, 'resnet18', 0.375, 256), (144, 'resnet18', 0.375, 256),
    (160, 'resnet18', 0.375, 256), (112, 'resnet18', 0.5, 256),
]


def _session(model: nn.Module, input_size: tuple[int, int], in_channels: int, threads: int):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # optional dependency
        raise RuntimeError('timing needs onnxruntime: pip install "kinpose_ros[onnx]"') from exc
    from kinpose_ros.nets.export import export_onnx

    height, width = input_size
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'model.onnx'
        export_onnx(model, path, torch.zeros(1, in_channels, height, width))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])


def _median_ms(sess, x: np.ndarray, runs: int, warmup: int) -> np.ndarray:
    from kinpose_ros.nets.export import INPUT_NAME

    feed = {INPUT_NAME: x}
    for _ in range(warmup):
        sess.run(None, feed)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times[i] = (time.perf_counter() - t0) * 1000.0
    return times


def onnx_latency_ms(model: nn.Module, input_size: tuple[int, int], in_channels: int = 1,
                    threads: int = 2, runs: int = 200, warmup: int = 20,
                    repeats: int = 3) -> dict[str, float]:
    """ONNX Runtime CPU latency of ``model`` at batch 1, in milliseconds.

    Args:
        model: a ``kinpose_ros.nets`` network (``export_forward``/``output_names``).
        input_size: (H, W) crop pixels.
        threads: ONNX Runtime intra-op threads (inter-op 1, sequential execution).
        repeats: the median of ``runs`` calls is taken ``repeats`` times and the best kept
            (other processes on a shared machine only ever slow a repeat down).

    Returns:
        dict with ``median_ms`` (best of the repeats), ``p10_ms``/``p90_ms`` of that repeat,
        ``fps`` (1000 / median) and ``params_m`` (millions of parameters).
    """
    sess = _session(model, input_size, in_channels, threads)
    x = np.random.default_rng(0).uniform(-1, 1, (1, in_channels, *input_size))
    best = None
    for _ in range(max(1, repeats)):
        times = _median_ms(sess, x.astype(np.float32), runs, warmup)
        if best is None or np.median(times) < np.median(best):
            best = times
    median = float(np.median(best))
    return {'median_ms': median, 'p10_ms': float(np.percentile(best, 10)),
            'p90_ms': float(np.percentile(best, 90)), 'fps': 1000.0 / median,
            'params_m': sum(p.numel() for p in model.parameters()) / 1e6}


def _candidates(family: str, num_joints: int) -> list[tuple[dict, nn.Module, tuple]]:
    from kinpose_ros.nets.a2j import A2J
    from kinpose_ros.nets.kinematic import KinematicRegressor

    out = []
    if family == 'a2j':
        for size, width, hw, hd in A2J_CANDIDATES:
            torch.manual_seed(0)
            model = A2J(num_joints, (size, size), width=width, head_width=hw, head_depth=hd)
            out.append(({'input': size, 'width': width, 'head_width': hw, 'head_depth': hd},
                        model, (size, size)))
    else:
        for size, backbone, width, hidden in KINEMATIC_CANDIDATES:
            torch.manual_seed(0)
            model = KinematicRegressor('body15', backbone=backbone, width=width, hidden=hidden,
                                       scale_range=(0.7, 1.3))
            out.append(({'input': size, 'backbone': backbone, 'width': width, 'hidden': hidden},
                        model, (size, size)))
    return out


def sweep(family: str, num_joints: int = 15, threads: int = 2, runs: int = 200,
          rounds: int = 5) -> list[dict]:
    """Time every candidate of ``family``, interleaved: ``rounds`` rounds, each taking the
    median of ``runs`` calls per candidate; the best (quietest) round's median is kept, so
    other processes on a shared machine bias the figures as little as possible. ``min_ms`` and
    ``p10_ms`` are over all calls (the least disturbed ones)."""
    cands = _candidates(family, num_joints)
    sessions = [_session(model, size, 1, threads) for _, model, size in cands]
    best: list = [None] * len(cands)
    every: list = [[] for _ in cands]
    for _ in range(rounds):
        for i, ((_, _, size), sess) in enumerate(zip(cands, sessions)):
            x = np.random.default_rng(0).uniform(-1, 1, (1, 1, *size)).astype(np.float32)
            times = _median_ms(sess, x, runs, warmup=10)
            every[i].append(times)
            if best[i] is None or np.median(times) < np.median(best[i]):
                best[i] = times
    rows = []
    for (row, model, _), times, all_times in zip(cands, best, every):
        median = float(np.median(times))
        rows.append({**row, 'median_ms': median, 'min_ms': float(np.min(all_times)),
                     'p10_ms': float(np.percentile(np.concatenate(all_times), 10)),
                     'fps': 1000.0 / median,
                     'params_m': sum(p.numel() for p in model.parameters()) / 1e6})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--family', choices=('a2j', 'kinematic'), help='run the candidate sweep')
    src.add_argument('--config', type=Path, help='time the model of a training config')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--joints', type=int, default=15)
    parser.add_argument('--rounds', type=int, default=5,
                        help='sweep rounds; the quietest round counts (default 5)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.family:
        sweep(args.family, args.joints, args.threads, args.runs, args.rounds)
        return 0
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.nets.checkpoint import build_model
    from kinpose_ros.training.config import load_config
    from kinpose_ros.training.families import model_config

    cfg = load_config(args.config)
    torch.manual_seed(0)
    model = build_model(cfg.model.family, model_config(cfg), Skeleton.load(cfg.skeleton))
    row = onnx_latency_ms(model, cfg.model.input_size, cfg.model.in_channels,
                          threads=args.threads, runs=args.runs)
    print(json.dumps({'config': str(args.config), **row}))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
