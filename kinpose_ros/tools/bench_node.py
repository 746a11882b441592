"""``kinpose bench node``: the ROS node's throughput against the bare PoseEstimator's on the same
frames, and its latency at 30 Hz input.

1. ``--frames`` synthetic frames (ITOP-like 320x240, one person) are written as 16-bit depth
   files; the estimator alone runs over them (decoded once, warm) -> ``pipeline_fps``, measured
   just before and just after step 2 and averaged (the load of a shared machine drifts).
2. ``pose_node`` (child process, same model and backend) is fed the same files by
   ``synthetic_camera_node`` (child process) at twice ``pipeline_fps``; its own ``processed``
   count over ``--seconds`` -> ``node_fps`` and ``node_to_pipeline_ratio``. This process only
   reads ``/diagnostics`` meanwhile, so it takes no CPU from the node.
3. The camera restarts at 30 Hz; this process receives ``/tf`` and records image stamp -> TF
   arrival -> ``latency_p50_ms`` / ``latency_p99_ms`` (end to end through DDS, same clock), and
   the fraction of frames dropped to stay current.
Model: ``--model``, else the shipped one, else a random-weight A2J (speed is real).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _frames(folder: Path, count: int, seed: int) -> list:
    """Write ``count`` synthetic frames as .npy (uint16 mm); return (depth_m, intrinsics)."""
    from kinpose_ros.core.depth import encode_depth  # noqa: PLC0415
    from kinpose_ros.ros.camera_sources import FileSource, SynthSource  # noqa: PLC0415

    synth = SynthSource(count=count, seed=seed, sensor='itop')
    for i, f in enumerate(synth.frames):
        np.save(folder / f'frame_{i:04d}.npy', encode_depth(f.depth_m, '16UC1'))
    files = FileSource(folder, preset='itop')
    return [(f.depth_m, f.intrinsics) for f in files.frames]


class _Pipeline:
    """The bare estimator over the frames (one instance, so tracks and caches stay warm)."""

    def __init__(self, model: Path, backend: str, frames: list) -> None:
        from kinpose_ros.inference.estimator import (  # noqa: PLC0415
            EstimatorConfig,
            PoseEstimator,
        )

        self.est = PoseEstimator(model, EstimatorConfig(backend=backend))
        self.frames, self.stamp = frames, 0.0
        self.fps(1)  # warm: compilation, allocations, tracks

    def fps(self, passes: int = 2) -> float:
        t0 = time.perf_counter()
        for _ in range(passes):
            for depth, K in self.frames:
                self.stamp += 1 / 30
                self.est(depth, K, stamp=self.stamp)
        return passes * len(self.frames) / (time.perf_counter() - t0)


def _camera_args(folder: Path, rate: float) -> list:
    return ['-p', 'source:=files', '-p', f'path:={folder}', '-p', 'preset:=itop',
            '-p', f'rate_hz:={rate}']


def _diagnostic_window(executor, observer, seconds: float) -> float:
    """Processed frames per second over ``seconds`` from the node's own counters."""
    from kinpose_ros.tools.demo import spin_for  # noqa: PLC0415

    spin_for(executor, 30, lambda: 'processed' in observer.diagnostics)
    spin_for(executor, 1.5)  # let the input rate settle
    first = (time.monotonic(), int(observer.diagnostics['processed']))
    spin_for(executor, seconds)
    last = dict(observer.diagnostics)
    seen = time.monotonic()
    return (int(last['processed']) - first[1]) / (seen - first[0])


def benchmark_node(args: argparse.Namespace) -> dict:
    import rclpy  # noqa: PLC0415
    from rclpy.executors import SingleThreadedExecutor  # noqa: PLC0415

    from kinpose_ros.ros.demo_observer import DemoObserver  # noqa: PLC0415
    from kinpose_ros.tools.demo import resolve_model, spin_for, start_pipeline  # noqa: PLC0415
    from kinpose_ros.tools.node_processes import NodeProcess, sandbox_env  # noqa: PLC0415

    seconds = 8.0
    env = sandbox_env()
    os.environ.update({k: env[k] for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID',
                                           'ROS_LOCALHOST_ONLY', 'ROS_HOME', 'ROS_LOG_DIR')})
    with tempfile.TemporaryDirectory(prefix='kinpose_bench_node_') as tmp:
        tmp = Path(tmp)
        model, note, _ = resolve_model(getattr(args, 'model', None) or '', tmp)
        (tmp / 'frames').mkdir()
        frames = _frames(tmp / 'frames', args.frames or 30, args.seed)
        pipeline = _Pipeline(model, args.backend, frames)
        before = pipeline.fps()
        fast = min(2.0 * before, 500.0)
        pose, camera = start_pipeline(env, model, args.backend, _camera_args(tmp / 'frames', fast),
                                      ['-p', 'publish.diagnostics:=true'])
        rclpy.init()
        observer = DemoObserver('camera_depth_optical_frame')
        executor = SingleThreadedExecutor()
        executor.add_node(observer)
        try:
            node_fps = _diagnostic_window(executor, observer, seconds)
            node_stages = dict(observer.diagnostics)
            camera.stop()
            after = pipeline.fps()  # machine load drifts: average the runs around the node's
            camera = NodeProcess('kinpose_ros.ros.synthetic_camera_node',
                                 _camera_args(tmp / 'frames', 30.0), env)
            spin_for(executor, 60, lambda: camera.wait_for('synthetic camera:', 0.01))
            spin_for(executor, 2.0)
            start_ns, first = time.time_ns(), dict(observer.diagnostics)
            spin_for(executor, seconds)
            last = dict(observer.diagnostics)
            lat = observer.latencies_ms(start_ns)
        finally:
            executor.shutdown()
            observer.destroy_node()
            rclpy.try_shutdown()
            camera.stop()
            pose.stop()
    synced = int(last.get('synced', 0)) - int(first.get('synced', 0))
    dropped = int(last.get('dropped', 0)) - int(first.get('dropped', 0))
    pipeline_fps = (before + after) / 2
    stage = {f'node_{k}': float(v) for k, v in node_stages.items()
             if k.endswith('_ms_p50') and not k.startswith('estimator.')}
    return {
        'model': note, 'backend': args.backend, 'frames': len(frames),
        'pipeline_fps': round(pipeline_fps, 2), 'pipeline_fps_before': round(before, 2),
        'pipeline_fps_after': round(after, 2), 'node_fps': round(node_fps, 2),
        'node_to_pipeline_ratio': round(node_fps / pipeline_fps, 3), **stage,
        'input_hz_for_throughput': round(fast, 1),
        'latency_input_hz': 30.0,
        'latency_p50_ms': float(np.percentile(lat, 50)) if len(lat) else float('nan'),
        'latency_p99_ms': float(np.percentile(lat, 99)) if len(lat) else float('nan'),
        'latency_samples': int(len(lat)),
        'dropped_fraction_at_30hz': round(dropped / synced, 3) if synced > 0 else float('nan'),
    }
