"""Synthetic depth of people: bodies, poses, scenes, rendering, sensor noise and labels.

Entry points: :class:`SynthConfig`, :class:`SynthGenerator` (``.frame(index) -> Frame``, a new
scene per frame; ``.sequence(index, length, fps) -> list[Frame]``, one scene whose people move),
:class:`Frame`, :class:`PersonLabel`; training data in :mod:`.dataset`; throughput in
:mod:`.parallel` (``benchmark_synth``). See ``docs/synthetic_data.md``.
"""
from kinpose_ros.data.synth.generator import Frame, PersonLabel, SynthConfig, SynthGenerator


def open_shards(shard_dir):
    """Shards of ``kinpose synth --out`` as a sequence of per-person frames (see
    :func:`kinpose_ros.data.synth.dataset.open_shards`)."""
    from kinpose_ros.data.synth.dataset import open_shards as _open  # noqa: PLC0415 - torch

    return _open(shard_dir)


__all__ = ['Frame', 'PersonLabel', 'SynthConfig', 'SynthGenerator', 'open_shards']
