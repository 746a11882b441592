"""Frame sources for training and evaluation, from a ``DataConfig`` or a ``--data`` spec string.

Every source has ``len(source)`` and ``source.frame(i) -> FrameRecord`` (``training.records``),
pure in ``i`` (synthetic frames are a function of (seed, i)), so DataLoader workers and resumed
runs see the same data.

Spec strings (``kinpose eval --data``): ``<source>[:<path>][,key=value...]``, e.g.
``synth:seed=123,n=500,sensors=all``, ``fabricated:seed=5,n=50``, ``itop:/data/itop,split=test``,
``shards:/data/synth_shards``, ``nyu:/data/nyu,split=test``. Keys other than path, seed, n,
split and view go to the synthetic generator's config (values parsed as YAML scalars).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.training.config import SOURCES, DataConfig
from kinpose_ros.training.records import FrameRecord, PersonRecord

__all__ = ['ItopSource', 'NyuSource', 'SynthSource', 'build_source', 'parse_data_spec']


class SynthSource:
    """The synthetic generator (``data.synth``) on the fly: frame i of generator ``seed``.

    ``synth`` holds ``SynthConfig`` keywords plus ``min_visible_fraction`` (default 0.3): people
    less visible than that (mostly occluded or outside the image) are left out, as a person
    detector would miss them.
    """

    def __init__(self, synth: dict, seed: int, length: int = 10**9) -> None:
        try:
            from kinpose_ros.data.synth.generator import SynthConfig, SynthGenerator
        except ImportError as exc:
            raise RuntimeError(f'data source synth: the synthetic generator is not available '
                               f'({exc}); use source fabricated for smoke runs') from exc
        opts = dict(synth or {})
        self.min_visible = float(opts.pop('min_visible_fraction', 0.3))
        if opts.get('sensors') == 'all':  # the generator's default: every sensor it models
            opts.pop('sensors')
        for key in ('people', 'distance_m', 'image_size'):
            if isinstance(opts.get(key), list):
                opts[key] = tuple(opts[key])
        self.generator = SynthGenerator(SynthConfig(**opts), seed)
        self.length = int(length)

    def __len__(self) -> int:
        return self.length

    def frame(self, index: int) -> FrameRecord:
        return _from_synth(self.generator.frame(int(index)), f'synth:{index}', self.min_visible)


def _from_synth(frame, frame_id: str, min_visible: float = 0.3) -> FrameRecord:
    """``data.synth`` Frame -> FrameRecord (people with joints, box, mask, params), leaving out
    people with ``visible_fraction < min_visible`` or an empty mask."""
    people = []
    for p in frame.people:
        mask = np.asarray(p.mask, dtype=bool)
        if getattr(p, 'visible_fraction', 1.0) < min_visible or not mask.any():
            continue
        joints = np.asarray(p.joints_xyz, dtype=np.float64)
        people.append(PersonRecord(joints, visible=np.isfinite(joints).all(axis=1),
                                   box_xyxy=np.asarray(p.box_xyxy, dtype=np.float64), mask=mask,
                                   params=np.asarray(p.params, dtype=np.float64)))
    return FrameRecord(np.asarray(frame.depth_m, dtype=np.float32), frame.intrinsics, people,
                       frame_id)


class ShardSource:
    """Synthetic frames stored as shards by the generator (``data.synth`` shard reader)."""

    def __init__(self, path: str | Path, min_visible: float = 0.3) -> None:
        self.min_visible = float(min_visible)
        try:
            from kinpose_ros.data.synth import open_shards
        except ImportError as exc:
            raise RuntimeError(f'data source shards: no shard reader in kinpose_ros.data.synth '
                               f'({exc})') from exc
        self.reader = open_shards(path)

    def __len__(self) -> int:
        return len(self.reader)

    def frame(self, index: int) -> FrameRecord:
        return _from_synth(self.reader[int(index)], f'shards:{index}', self.min_visible)


class ItopSource:
    """ITOP frames (``data.itop``): one person, mask from the segmentation when present."""

    def __init__(self, path: str | Path, split: str = 'test', view: str = 'side') -> None:
        from kinpose_ros.data.itop import ItopDataset

        self.dataset = ItopDataset(path, view=view, split=split)

    def __len__(self) -> int:
        return len(self.dataset)

    def frame(self, index: int) -> FrameRecord:
        item = self.dataset[int(index)]
        mask = item['mask'] if item['mask'].any() else None
        # ITOP counts all 15 joints of a valid frame in its mAP
        person = PersonRecord(item['joints_xyz_camera'], visible=np.ones(15, bool), mask=mask)
        return FrameRecord(item['depth_m'], self.dataset.intrinsics, [person],
                           f'itop:{item["id"]}')


class NyuSource:
    """NYU hand frames: ``<path>/<split>/depth_1_%07d.png`` (1-based) with A2J-style labels
    ``<path>/nyu_keypointsUVD_<split>.mat`` ((N, J, 3) u, v pixels and z millimetres)."""

    def __init__(self, path: str | Path, split: str = 'test') -> None:
        from kinpose_ros.data.nyu import NYU_INTRINSICS, load_nyu_uvd, nyu_uvd_to_xyz

        root = Path(path)
        labels = root / f'nyu_keypointsUVD_{split}.mat'
        if not labels.is_file():
            raise FileNotFoundError(f'data source nyu: no labels {labels}')
        self.joints = nyu_uvd_to_xyz(load_nyu_uvd(labels))
        self.folder, self.intrinsics = root / split, NYU_INTRINSICS

    def __len__(self) -> int:
        return len(self.joints)

    def frame(self, index: int) -> FrameRecord:
        from kinpose_ros.data.nyu import load_nyu_depth_png

        path = self.folder / f'depth_1_{int(index) + 1:07d}.png'
        if not path.is_file():
            raise FileNotFoundError(f'data source nyu: no depth image {path}')
        return FrameRecord(load_nyu_depth_png(path), self.intrinsics,
                           [PersonRecord(self.joints[int(index)])], f'nyu:{index}')


def build_source(cfg: DataConfig, skeleton: Skeleton):
    """The frame source a ``DataConfig`` names (see the module docstring)."""
    if cfg.source == 'fabricated':
        from kinpose_ros.training.fabricated import FabricatedSource

        size = tuple((cfg.synth or {}).get('size', (160, 120)))
        return FabricatedSource(skeleton, cfg.seed, size)
    if cfg.source == 'synth':
        return SynthSource(cfg.synth, cfg.seed)
    if not cfg.path:
        raise ValueError(f'data source {cfg.source}: needs a path (data.path or '
                         f'{cfg.source}:/path in a spec)')
    if cfg.source == 'shards':
        return ShardSource(cfg.path)
    if cfg.source == 'itop':
        return ItopSource(cfg.path, cfg.split, cfg.view)
    if cfg.source == 'nyu':
        return NyuSource(cfg.path, cfg.split)
    raise ValueError(f'data source: expected one of {SOURCES}, got {cfg.source!r}')


def _split_items(spec: str) -> list[str]:
    """Split at commas outside brackets (values may be YAML lists: size=[96,72])."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += (ch in '[{') - (ch in ']}')
        if ch == ',' and depth == 0:
            items.append(spec[start:i])
            start = i + 1
    items.append(spec[start:])
    return [s for s in items if s] or ['']


def parse_data_spec(spec: str) -> DataConfig:
    """``'synth:seed=123,n=500,sensors=all'`` -> DataConfig (see the module docstring).

    Raises:
        ValueError: unknown source or a malformed ``key=value`` item (named).
    """
    head, *items = _split_items(spec)
    source, _, path = head.partition(':')
    if '=' in path:  # 'synth:seed=1,...': the first item is a key, not a path
        items.insert(0, path)
        path = ''
    if source not in SOURCES:
        raise ValueError(f'--data {spec!r}: source must be one of {SOURCES}, got {source!r}')
    cfg = DataConfig(source=source, path=path, split='test', seed=0, samples=None, fresh=False)
    synth = {}
    for item in items:
        key, eq, value = item.partition('=')
        if not eq or not key:
            raise ValueError(f'--data {spec!r}: expected key=value items, got {item!r}')
        parsed = yaml.safe_load(value)
        if key == 'n':
            cfg.samples = int(parsed)
        elif key in ('seed', 'split', 'view', 'path'):
            setattr(cfg, key, int(parsed) if key == 'seed' else str(parsed))
        else:
            synth[key] = parsed
    cfg.synth = synth
    return cfg
