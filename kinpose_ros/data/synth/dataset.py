"""Person crops of synthetic frames for training: an on-the-fly torch Dataset and npz shards.

A sample is one person of one frame, cropped with :func:`kinpose_ros.core.depth.crop_depth` (the
same code inference runs) from a box around the person's mask, with targets in crop pixels:

* ``depth``: (1, out_h, out_w) float32 normalised crop (``core.depth`` conventions).
* ``uvz``: (J, 3) float32 joints as ``(u, v)`` crop pixels and ``z`` normalised depth
  (``CropInfo.normalise_depth``; metres = ``z * half_range_m + center_depth_m``).
* ``mask``: (out_h, out_w) bool, the person's pixels in the crop.
* ``joints_xyz`` (J, 3) metres camera frame, ``visible`` (J,), ``params`` (P,) motion parameters
  (root in the camera frame), ``scale``, ``box`` (4,) the crop box actually sampled (edge
  coordinates, after the aspect fit), ``center_depth_m``, ``half_range_m``, ``intrinsics``
  (4,) ``fx, fy, cx, cy`` and ``image_size`` (2,) of the full image: enough to rebuild the
  ``CropInfo`` and go back to the camera frame.

Shards (``synth_00000.npz`` ...) store the crops in millimetres (uint16, 0 invalid; compressed)
rather than normalised, so the normalisation can change at training time; ``meta.json`` beside
them records the configuration. :class:`ShardDataset` reads them back into the same samples.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from kinpose_ros.core.depth import CropInfo, crop_depth
from kinpose_ros.data.synth.generator import Frame, SynthConfig, SynthGenerator

_KEYS = ('uvz', 'joints_xyz', 'visible', 'params', 'scale', 'box', 'center_depth_m',
         'half_range_m', 'intrinsics', 'image_size', 'visible_fraction', 'frame_index')


def person_box(box_xyxy: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """(4,) a mask box grown by ``margin`` of its size on every side (edge coordinates)."""
    x0, y0, x1, y1 = (float(b) for b in box_xyxy)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return np.array([x0 - mx, y0 - my, x1 + mx, y1 + my])


def crop_person(frame: Frame, person: int, out_size: tuple, depth_range_m: float = 2.0,
                margin: float = 0.1) -> dict | None:
    """One person of a frame as a training sample (module docstring), or None when the person
    shows no valid depth to centre the crop on."""
    p = frame.people[person]
    if not p.box_xyxy[2] > p.box_xyxy[0]:
        return None
    crop, info = crop_depth(frame.depth_m, person_box(p.box_xyxy, margin), out_size,
                            depth_range_m=depth_range_m)
    if not np.isfinite(info.center_depth_m):
        return None
    K = frame.intrinsics
    uv = info.image_to_crop(p.joints_uv)
    z = info.normalise_depth(p.joints_xyz[:, 2])
    return {'depth': crop[None].astype(np.float32), 'mask': crop_mask(p.mask, info),
            'uvz': np.concatenate([uv, z[:, None]], 1).astype(np.float32),
            'joints_xyz': p.joints_xyz.astype(np.float32), 'visible': p.visible.copy(),
            'params': p.params.astype(np.float32), 'scale': np.float32(p.scale),
            'box': np.array(info.box_xyxy, np.float32),
            'center_depth_m': np.float32(info.center_depth_m),
            'half_range_m': np.float32(info.half_range_m),
            'intrinsics': np.array([K.fx, K.fy, K.cx, K.cy], np.float32),
            'image_size': np.array([K.width, K.height], np.int32),
            'visible_fraction': np.float32(p.visible_fraction)}


def crop_mask(mask: np.ndarray, info: CropInfo) -> np.ndarray:
    """(out_h, out_w) bool: a full-image mask sampled like :func:`crop_depth` samples depth
    (the source pixel under each crop pixel centre; False outside the image)."""
    H, W = mask.shape
    x0, y0, x1, y1 = info.box_xyxy
    out_w, out_h = info.out_size
    cols = np.floor((np.arange(out_w) + 0.5) * ((x1 - x0) / out_w) + x0).astype(np.intp)
    rows = np.floor((np.arange(out_h) + 0.5) * ((y1 - y0) / out_h) + y0).astype(np.intp)
    inside = ((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < W))[None, :]
    return mask[np.clip(rows, 0, H - 1)][:, np.clip(cols, 0, W - 1)] & inside


def crop_info(sample: dict, out_size: tuple) -> CropInfo:
    """The :class:`CropInfo` of a sample (to map network outputs back to the camera frame)."""
    return CropInfo(tuple(float(b) for b in sample['box']), out_size,
                    float(sample['center_depth_m']), float(sample['half_range_m']))


def sample_frame(gen: SynthGenerator, index: int, out_size: tuple, depth_range_m: float,
                 min_visible: float, attempts: int = 16) -> dict:
    """A sample for dataset index ``index``: the most visible person with at least
    ``min_visible`` visible fraction, trying frames ``index``, ``index + 10**9``, ... in turn
    (deterministic)."""
    for k in range(attempts):
        frame_index = index + k * 1_000_000_007
        frame = gen.frame(frame_index)
        order = sorted(range(len(frame.people)), key=lambda i: -frame.people[i].visible_fraction)
        for i in order:
            if frame.people[i].visible_fraction < min_visible:
                break
            sample = crop_person(frame, i, out_size, depth_range_m)
            if sample is not None:
                sample['frame_index'] = np.int64(frame_index)
                return sample
    raise RuntimeError(f'no person with visible fraction >= {min_visible} in {attempts} frames '
                       f'from index {index}; lower min_visible or check SynthConfig.people')


def _torch_dataset():
    import torch  # noqa: PLC0415 - torch only for training

    return torch.utils.data.Dataset


class SynthPersonDataset(_torch_dataset()):
    """Torch Dataset of person crops generated on the fly (deterministic per index).

    Args:
        length: number of samples.
        config: scene configuration (default: one person, clutter and noise).
        seed: generator seed.
        out_size: (out_w, out_h) crop size.
        depth_range_m: depth range mapped to [-1, 1].
        min_visible: skip people less visible than this.

    Items are dicts of torch tensors (module docstring). Workers of a DataLoader each build
    their own generator on first use.
    """

    def __init__(self, length: int, config: SynthConfig | None = None, seed: int = 0,
                 out_size: tuple = (160, 160), depth_range_m: float = 2.0,
                 min_visible: float = 0.3) -> None:
        self.length = int(length)
        self.config = config or SynthConfig()
        self.seed, self.out_size = seed, tuple(out_size)
        self.depth_range_m, self.min_visible = depth_range_m, min_visible
        self._gen: SynthGenerator | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        import torch  # noqa: PLC0415

        if not 0 <= index < self.length:
            raise IndexError(f'index {index} out of range for {self.length} samples')
        if self._gen is None:
            self._gen = SynthGenerator(self.config, self.seed)
        sample = sample_frame(self._gen, index, self.out_size, self.depth_range_m,
                              self.min_visible)
        return {k: torch.as_tensor(np.asarray(v)) for k, v in sample.items()}


class _ShardJob:
    """Worker side of :func:`write_shards` (picklable): (generator, index) -> sample whose crop
    is uint16 millimetres (``depth_mm``) instead of normalised."""

    def __init__(self, out_size: tuple, depth_range_m: float, min_visible: float) -> None:
        self.out_size, self.depth_range_m, self.min_visible = out_size, depth_range_m, min_visible

    def __call__(self, gen: SynthGenerator, index: int) -> dict:
        sample = sample_frame(gen, index, self.out_size, self.depth_range_m, self.min_visible)
        depth = sample.pop('depth')[0]
        metres = crop_info(sample, self.out_size).denormalise_depth(depth)
        valid = depth < 1.0  # the fill value 1.0: invalid, or beyond the range
        sample['depth_mm'] = np.where(valid, np.rint(metres * 1000.0), 0).astype(np.uint16)
        sample['mask_bits'] = np.packbits(sample.pop('mask'))
        return sample


def write_shards(out_dir: str | Path, count: int, seed: int = 0,
                 config: SynthConfig | None = None, out_size: tuple = (160, 160),
                 depth_range_m: float = 2.0, min_visible: float = 0.3, shard_size: int = 1000,
                 workers: int = 2, progress: bool = True) -> list:
    """Generate ``count`` samples into npz shards under ``out_dir``; returns the shard paths.

    Crops are stored as uint16 millimetres (0 = invalid or outside ``depth_range_m`` of the
    centre), the labels as in the module docstring, and ``meta.json`` records the settings.
    """
    from kinpose_ros.data.synth.parallel import map_frames  # noqa: PLC0415

    config = config or SynthConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {'count': int(count), 'seed': int(seed), 'out_size': list(out_size),
            'depth_range_m': depth_range_m, 'min_visible': min_visible,
            'shard_size': int(shard_size), 'config': asdict(config)}
    (out / 'meta.json').write_text(json.dumps(meta, indent=2, default=list) + '\n')
    job = _ShardJob(tuple(out_size), depth_range_m, min_visible)
    results = map_frames(config, seed, range(count), job, workers)
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        results = tqdm(results, total=count, unit='sample', desc='synth')
    paths, batch = [], []
    for sample in results:
        batch.append(sample)
        if len(batch) == shard_size:
            paths.append(_save_shard(out, len(paths), batch))
            batch = []
    if batch:
        paths.append(_save_shard(out, len(paths), batch))
    return paths


def _save_shard(out: Path, number: int, batch: list) -> Path:
    path = out / f'synth_{number:05d}.npz'
    arrays = {k: np.stack([s[k] for s in batch]) for k in ('depth_mm', 'mask_bits', *_KEYS)}
    np.savez_compressed(path, **arrays)
    return path


class ShardDataset(_torch_dataset()):
    """Torch Dataset over shards written by :func:`write_shards` (all loaded in memory).

    Items match :class:`SynthPersonDataset` (the crop is re-normalised from millimetres with
    the stored centre and range).
    """

    def __init__(self, shard_dir: str | Path) -> None:
        shard_dir = Path(shard_dir)
        paths = sorted(shard_dir.glob('synth_*.npz'))
        if not paths:
            raise FileNotFoundError(f'no synth_*.npz shards in {shard_dir}; write them with '
                                    '`kinpose synth --out DIR`')
        self.meta = json.loads((shard_dir / 'meta.json').read_text())
        self.out_size = tuple(self.meta['out_size'])
        parts = [dict(np.load(p)) for p in paths]
        self.arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def __len__(self) -> int:
        return len(self.arrays['depth_mm'])

    def sample(self, index: int) -> dict:
        """Item ``index`` as numpy arrays."""
        s = {k: v[index] for k, v in self.arrays.items()}
        out_w, out_h = self.out_size
        s['mask'] = np.unpackbits(s.pop('mask_bits'))[:out_w * out_h].reshape(out_h, out_w) > 0
        mm = s.pop('depth_mm')
        depth = (mm.astype(np.float32) * 0.001 - s['center_depth_m']) / s['half_range_m']
        depth = np.clip(depth, -1.0, 1.0)
        depth[mm == 0] = 1.0
        s['depth'] = depth[None].astype(np.float32)
        return s

    def __getitem__(self, index: int) -> dict:
        import torch  # noqa: PLC0415

        return {k: torch.as_tensor(np.asarray(v)) for k, v in self.sample(index).items()}


class ShardFrames:
    """Shards seen as a sequence of small :class:`Frame` objects, one per stored person.

    Each crop becomes an image of its own: ``depth_m`` is the crop in metres (NaN invalid),
    ``intrinsics`` the crop's pinhole model (:meth:`CropInfo.crop_intrinsics`, so projecting
    ``joints_xyz`` gives ``joints_uv`` in crop pixels), one person with the crop's mask and box.
    """

    def __init__(self, shard_dir: str | Path) -> None:
        self.data = ShardDataset(shard_dir)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> Frame:
        from kinpose_ros.core.camera import Intrinsics  # noqa: PLC0415
        from kinpose_ros.data.synth.generator import PersonLabel  # noqa: PLC0415
        from kinpose_ros.data.synth.labels import mask_box  # noqa: PLC0415

        if not 0 <= index < len(self):
            raise IndexError(f'index {index} out of range for {len(self)} samples')
        s = {k: v[index] for k, v in self.data.arrays.items()}
        out_size = self.data.out_size
        out_w, out_h = out_size
        mm = s['depth_mm']
        depth = np.where(mm > 0, mm.astype(np.float32) * np.float32(0.001), np.nan)
        mask = np.unpackbits(s['mask_bits'])[:out_w * out_h].reshape(out_h, out_w) > 0
        fx, fy, cx, cy = (float(v) for v in s['intrinsics'])
        full = Intrinsics(int(s['image_size'][0]), int(s['image_size'][1]), fx, fy, cx, cy)
        info = crop_info(s, out_size)
        uv = s['uvz'][:, :2]
        person = PersonLabel(s['joints_xyz'], uv.astype(np.float32), s['visible'], s['params'],
                             float(s['scale']), mask, mask_box(mask),
                             float(s['visible_fraction']))
        return Frame(depth.astype(np.float32), mm, '16UC1', info.crop_intrinsics(full), None,
                     [person], np.where(mask, 0, -1).astype(np.int16))


def open_shards(shard_dir: str | Path) -> ShardFrames:
    """Shards written by :func:`write_shards` as a sequence of per-person :class:`Frame`."""
    return ShardFrames(shard_dir)
