"""``kinpose bench pipeline``: PoseEstimator latency per stage and throughput, 1 and 4 people.

Two frame sets per person count (ITOP-like 320x240 sensor):

* the stream (the headline figures: ``fps_1_person``, ``ms_1_person_<stage>``,
  ``non_inference_fraction`` ...): 2 sequences of 60 frames of ``SynthGenerator.sequence``
  (one scene each whose people walk and change pose), played in order and repeated, stamped
  ``k / 30`` s. As with a robot's camera, people continue from frame to frame, so the
  estimator's per-track state (tracker ids, IK warm starts, One-Euro filters) and the
  segmenter's floor plane carry over; both are reset at the start of each sequence (the scene
  changes there, as when the estimator starts), so 1 frame in 60 starts cold.
* unrelated frames (the same figures with the suffix ``_cold``, e.g. ``fps_1_person_cold``):
  12 frames of ``SynthGenerator.frame``, each a new scene, cycled without resets: the worst case
  for that state (the only set before sequences existed).

Figures are medians over ``--frames`` frames (default 300) after 10 warm-up frames. Without
``data.synth``, frames come from ``inference.sample_frames`` (capsule people on a floor; their
stream moves each person sideways at 0.5 m/s while its pose blends into a second one). People
are found by ``core.segmentation.PersonSegmenter`` when it exists, else the frames' true person
boxes are used as proposals (and the 'segment' stage then measures nothing; the output says
which). The model is ``models/a2j_body15.onnx`` when shipped, else a random-weight A2J of the
default size (ResNet-18 at half width, heads 128, 160x160 crops) exported to a temporary folder:
its speed is that of the real model, its poses are meaningless.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS

STAGES = ('segment', 'crop', 'infer', 'decode', 'angles', 'filter', 'total')
SEQUENCES, SEQUENCE_LENGTH, FPS = 2, 60, 30.0


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


def _stream(people: int, count: int, seed: int) -> tuple[list, str]:
    """[(depth_m, intrinsics, true proposals, starts a scene)] of ``SEQUENCES`` sequences of
    ``count`` frames in playing order, and the name of the frame source."""
    gen = _synth_generator(people, seed)
    if gen is None:
        return _capsule_stream(people, count, seed), ('inference.sample_frames sequences '
                                                      '(capsule people, itop 320x240)')
    frames = []
    for i in range(SEQUENCES):
        for k, f in enumerate(gen.sequence(i, count, FPS)):
            frames.append((f.depth_m, f.intrinsics, _label_proposals(f), k == 0))
    return frames, f'data.synth sequences ({SEQUENCES} x {count} frames, itop 320x240)'


def _unrelated(people: int, count: int, seed: int) -> tuple[list, str]:
    """[(depth_m, intrinsics, true proposals, False)] of ``count`` unrelated frames, and the
    name of the frame source."""
    gen = _synth_generator(people, seed)
    if gen is None:
        return _capsule_frames(people, count, seed), ('inference.sample_frames (capsule people, '
                                                      'itop 320x240)')
    frames = []
    for i in range(count):
        f = gen.frame(i)
        frames.append((f.depth_m, f.intrinsics, _label_proposals(f), False))
    return frames, 'data.synth (itop 320x240)'


def _synth_generator(people: int, seed: int):
    """A ``SynthGenerator`` of exactly ``people`` people (ITOP, 320x240), or None without
    ``data.synth``."""
    try:
        from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator
    except ImportError:
        return None
    return SynthGenerator(SynthConfig(sensors=('itop',), people=(people, people),
                                      image_size=(320, 240)), seed=seed)


def _capsule_people(sk, people: int, rng: np.random.Generator) -> np.ndarray:
    """(people, P) parameters of people side by side 2.5-4 m from the camera."""
    from kinpose_ros.inference.sample_frames import person_params

    xs = (np.arange(people) - (people - 1) / 2) * 0.9 + rng.normal(0, 0.05, people)
    return np.array([person_params(sk, x, rng.uniform(2.5, 4.0), rng.uniform(-0.5, 0.5), 1.0,
                                   rng) for x in xs])


def _capsule_frames(people: int, count: int, seed: int) -> list:
    """Fallback of :func:`_unrelated`: capsule people of ``inference.sample_frames``."""
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.inference.sample_frames import sample_frame

    sk, K, rng = Skeleton.load('body15'), SENSOR_PRESETS['itop'], np.random.default_rng(seed)
    frames = []
    for i in range(count):
        f = sample_frame(K, _capsule_people(sk, people, rng), sk, seed=i)
        frames.append((f.depth_m, K, f.proposals, False))
    return frames


def _capsule_stream(people: int, count: int, seed: int) -> list:
    """Fallback of :func:`_stream`: capsule people moving sideways (camera x) at 0.5 m/s while
    their pose blends linearly into a second one over each sequence."""
    from kinpose_ros.core.skeleton import Skeleton
    from kinpose_ros.inference.sample_frames import sample_frame

    sk, K, rng = Skeleton.load('body15'), SENSOR_PRESETS['itop'], np.random.default_rng(seed)
    frames = []
    for i in range(SEQUENCES):
        start, end = _capsule_people(sk, people, rng), _capsule_people(sk, people, rng)
        end[:, [0, 2]] = start[:, [0, 2]]  # same place; the height follows the pose
        for k in range(count):
            params = start + (end - start) * (k / max(count - 1, 1))
            params[:, 0] += 0.5 * k / FPS
            f = sample_frame(K, params, sk, seed=1000 * i + k)
            frames.append((f.depth_m, K, f.proposals, k == 0))
    return frames


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


def _reset(est) -> None:
    """Forget tracks and the segmenter's floor plane (a new scene)."""
    est.reset()
    if est.segmenter is not None:
        est.segmenter.reset()


def _measure(est, frames: list, n: int, use_segmenter: bool) -> dict:
    """Median stage times (ms) over ``n`` frames after 10 warm-up frames, ``frames`` cycled
    with stamps ``k / FPS``; the estimator is reset before the first frame and at each frame
    that starts a scene."""
    stats = {s: [] for s in STAGES}
    found = []
    _reset(est)
    for k in range(n + 10):
        depth, K, props, starts_scene = frames[k % len(frames)]
        if starts_scene:
            _reset(est)
        result = est(depth, K, stamp=k / FPS, proposals=None if use_segmenter else props)
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
        cell_model = getattr(args, 'cell_model', None) or 'none'
        cell_mode = getattr(args, 'cell_mode', 'gate')
        est = PoseEstimator(card, EstimatorConfig(backend=args.backend, threads=threads,
                                                  max_people=4, cell_model=cell_model,
                                                  cell_mode=cell_mode), checkpoint=ckpt)
        startup = time.perf_counter() - t0
        figures = {'model': str(card), 'model_note': note, 'cell_model': cell_model,
                   'cell_mode': cell_mode,
                   'backend': est.backend.name, 'segmenter': seg_note, 'frames': n,
                   'startup_s': startup}
        for people, key in ((1, '1_person'), (4, '4_people')):
            length = min(SEQUENCE_LENGTH, n + 10)
            sets = ((_stream(people, length, args.seed), ''),
                    (_unrelated(people, min(12, n), args.seed), '_cold'))
            for (frames, source), suffix in sets:
                m = _measure(est, frames, n, use_segmenter)
                figures[f'frame_source{suffix}'] = source
                figures[f'fps_{key}{suffix}'] = 1000.0 / m['total']
                figures[f'people_found_{key}{suffix}'] = m['people_found']
                for s in STAGES:
                    figures[f'ms_{key}_{s}{suffix}'] = m[s]
                figures[f'non_inference_fraction_{key}{suffix}'] = 1.0 - m['infer'] / m['total']
    for suffix in ('', '_cold'):
        figures[f'non_inference_fraction{suffix}'] = \
            figures[f'non_inference_fraction_1_person{suffix}']
    return figures
