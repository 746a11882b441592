"""``kinpose bench pipeline``: PoseEstimator latency per stage and throughput, 1 and 4 people.

Frames come from the synthetic generator (``data.synth``, ITOP-like 320x240 sensor) when it is
importable, else from ``inference.sample_frames``. People are found by
``core.segmentation.PersonSegmenter`` when it exists, else the frames' true person boxes are
used as proposals (and the 'segment' stage then measures nothing; the output says which).
The model is ``models/a2j_body15.onnx`` when shipped, else a random-weight A2J of the default
size (ResNet-18 at half width, heads 128, 160x160 crops) exported to a temporary folder: its
speed is that of the real model, its poses are meaningless.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS

STAGES = ('segment', 'crop', 'infer', 'decode', 'angles', 'filter', 'total')


def _model(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path | None, str]:
    """(card path, checkpoint or None, note) of the model to measure."""
    if getattr(args, 'model', None):
        return Path(args.model), getattr(args, 'checkpoint', None), 'given by --model'
    try:
        from kinpose_ros.resources import find

        card = find('models/a2j_body15.json')
        return card, getattr(args, 'checkpoint', None), 'shipped models/a2j_body15'
    except FileNotFoundError:
        pass
    from kinpose_ros.inference.model_export import export_model, random_model
    from kinpose_ros.nets.checkpoint import save_checkpoint

    model, config, sk = random_model('a2j', 'body15', (160, 160), 0.5, 128, 4, seed=0)
    out = tmp / 'a2j_random.onnx'
    export_model(model, 'a2j', config, sk, out, dynamic_batch_max=8, check=False)
    ckpt = save_checkpoint(tmp / 'a2j_random.pt', model, 'a2j', config, sk)
    return out.with_suffix('.json'), ckpt, ('RANDOM-WEIGHT A2J (models/a2j_body15 not found): '
                                            'resnet18 width 0.5, heads 128, 160x160')


def _frames(people: int, count: int, seed: int) -> tuple[list, str]:
    """[(depth_m, intrinsics, true proposals)] and the name of the frame source."""
    try:
        from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator

        gen = SynthGenerator(SynthConfig(sensors=('itop',), people=(people, people),
                                         image_size=(320, 240)), seed=seed)
        frames = []
        for i in range(count):
            f = gen.frame(i)
            frames.append((f.depth_m, f.intrinsics, _label_proposals(f)))
        return frames, 'data.synth (itop 320x240)'
    except ImportError:
        pass
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.inference.sample_frames import person_params, sample_frame

    sk, K = Skeleton.load('body15'), SENSOR_PRESETS['itop']
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        xs = (np.arange(people) - (people - 1) / 2) * 0.9 + rng.normal(0, 0.05, people)
        params = np.array([person_params(sk, x, rng.uniform(2.5, 4.0), rng.uniform(-0.5, 0.5),
                                         1.0, rng) for x in xs])
        f = sample_frame(K, params, sk, seed=i)
        frames.append((f.depth_m, K, f.proposals))
    return frames, 'inference.sample_frames (capsule people, itop 320x240)'


def _label_proposals(frame) -> list:
    from kinpose_ros.inference.sample_frames import SampleProposal

    props = []
    for p in frame.people:
        mask = p.mask & np.isfinite(frame.depth_m)
        if mask.sum() < 60:
            continue
        pts = frame.intrinsics.depth_to_points(np.where(mask, frame.depth_m, np.nan))[mask]
        props.append(SampleProposal(np.asarray(p.box_xyxy, float), p.mask, pts.mean(0)))
    return props


def _measure(est, frames: list, n: int, use_segmenter: bool) -> dict:
    stats = {s: [] for s in STAGES}
    found = []
    for k in range(n + 10):
        depth, K, props = frames[k % len(frames)]
        result = est(depth, K, stamp=k / 30, proposals=None if use_segmenter else props)
        if k < 10:  # warm-up: caches, allocator, branch predictors
            continue
        for s in STAGES:
            stats[s].append(result.timings_ms[s])
        found.append(len(result.people))
    out = {s: float(np.median(v)) for s, v in stats.items()}
    out['people_found'] = float(np.mean(found))
    return out


def benchmark_pipeline(args: argparse.Namespace) -> dict:
    """Figures for docs/benchmarks.md; see the module docstring."""
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator

    n = args.frames or 300
    try:
        from kinpose_ros.core.segmentation import PersonSegmenter  # noqa: F401

        use_segmenter, seg_note = True, 'core.segmentation.PersonSegmenter'
    except ImportError:
        use_segmenter, seg_note = False, 'true boxes (core.segmentation not available)'
    with tempfile.TemporaryDirectory(prefix='kinpose_bench_') as tmp:
        card, ckpt, note = _model(args, Path(tmp))
        threads = getattr(args, 'threads', None)
        t0 = time.perf_counter()
        est = PoseEstimator(card, EstimatorConfig(backend=args.backend, threads=threads,
                                                  max_people=4), checkpoint=ckpt)
        startup = time.perf_counter() - t0
        figures = {'model': str(card), 'model_note': note,
                   'backend': est.backend.name, 'segmenter': seg_note, 'frames': n,
                   'startup_s': startup}
        for people, key in ((1, '1_person'), (4, '4_people')):
            frames, source = _frames(people, min(12, n), args.seed)
            est.reset()
            m = _measure(est, frames, n, use_segmenter)
            figures['frame_source'] = source
            figures[f'fps_{key}'] = 1000.0 / m['total']
            figures[f'people_found_{key}'] = m['people_found']
            for s in STAGES:
                figures[f'ms_{key}_{s}'] = m[s]
            figures[f'non_inference_fraction_{key}'] = 1.0 - m['infer'] / m['total']
    figures['non_inference_fraction'] = figures['non_inference_fraction_1_person']
    return figures
