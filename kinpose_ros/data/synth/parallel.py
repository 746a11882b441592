"""Generate synthetic frames on several processes, and measure the generator's throughput.

Workers each hold their own :class:`SynthGenerator` (same config and seed), so the result of frame
``i`` does not depend on which worker made it. Work functions run in the workers and return small
results (crops and labels, or nothing for the benchmark): shipping whole frames between
processes would cost more than generating them.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator

from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator

_WORKER: dict = {}


def _init(config: SynthConfig, seed: int, work: Callable) -> None:
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    _WORKER['gen'] = SynthGenerator(config, seed)
    _WORKER['work'] = work


def _run(index: int):
    return _WORKER['work'](_WORKER['gen'], index)


def _context() -> mp.context.BaseContext:
    return mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else 'spawn')


def map_frames(config: SynthConfig, seed: int, indices: Iterable[int], work: Callable,
               workers: int = 2, chunksize: int = 8) -> Iterator:
    """``work(generator, index)`` for each index, in order, on ``workers`` processes.

    ``work`` must be a picklable module-level function. With ``workers <= 1`` it runs here.
    """
    if workers <= 1:
        gen = SynthGenerator(config, seed)
        for i in indices:
            yield work(gen, i)
        return
    with _context().Pool(workers, _init, (config, seed, work)) as pool:
        yield from pool.imap(_run, indices, chunksize)


def _touch(gen: SynthGenerator, index: int) -> float:
    """Benchmark work: make the frame with all its labels; return the CPU seconds it took."""
    start = time.process_time()
    gen.frame(index)
    return time.process_time() - start


def benchmark_synth(seconds: float | None = None, frames: int | None = None,
                    workers: int | None = None, seed: int = 0,
                    config: SynthConfig | None = None) -> dict:
    """Labelled frames per second of the generator.

    Default scene: one person, clutter and sensor noise on, ITOP-like 320x240 (the acceptance
    figure of the project: >= 300 frames/s on the 2-core machine with both cores). Frames are
    made (depth, encoding, masks, visibility and all labels) in the workers and dropped.

    Args:
        seconds: measure for about this long (default 5 s when ``frames`` is not given).
        frames: or measure exactly this many frames.
        workers: processes (default: the CPU count).
        seed: generator seed.
        config: another scene configuration.

    Returns:
        ``frames_per_s`` (wall clock, all workers), ``cpu_ms_per_frame`` (CPU time per frame
        inside a worker) and ``frames_per_s_per_idle_core`` (its inverse: what one core gives
        when nothing else runs), ``frames``, ``seconds``, ``workers``, ``width``, ``height``,
        ``load_average_1min`` (other processes on the machine lower ``frames_per_s``).
    """
    config = config or SynthConfig(sensors=('itop',), people=(1, 1), clutter=True, noise=True)
    workers = workers or os.cpu_count() or 1
    SynthGenerator(config, seed).frame(0)  # compile / load numba caches before forking
    if frames is None:
        seconds = 5.0 if seconds is None else float(seconds)
        probe = time.perf_counter()
        gen = SynthGenerator(config, seed)
        n_probe = 20
        for i in range(n_probe):
            gen.frame(1_000_000 + i)
        per_frame = (time.perf_counter() - probe) / n_probe
        frames = max(workers * 16, int(seconds / per_frame * workers))
    start = time.perf_counter()
    cpu = list(map_frames(config, seed, range(frames), _touch, workers, 16))
    elapsed = time.perf_counter() - start
    K = config.image_size or (320, 240)
    cpu_ms = float(sum(cpu) / len(cpu) * 1e3)
    return {'frames_per_s': len(cpu) / elapsed, 'cpu_ms_per_frame': cpu_ms,
            'frames_per_s_per_idle_core': 1e3 / cpu_ms, 'frames': len(cpu), 'seconds': elapsed,
            'workers': workers, 'width': K[0], 'height': K[1],
            'load_average_1min': os.getloadavg()[0]}


def bench_target(args) -> dict:
    """``kinpose bench synth``: :func:`benchmark_synth` with ``--frames`` / ``--seed``."""
    return benchmark_synth(frames=getattr(args, 'frames', None), seed=getattr(args, 'seed', 0))
