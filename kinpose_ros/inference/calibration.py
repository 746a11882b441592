"""Crops for INT8 calibration, made exactly as the estimator makes them at run time.

``calibration_batches(card, source, ...)`` yields (batch, C, H, W) float32 batches of person
crops. ``source`` is 'synthetic' (stand-in frames of ``inference.sample_frames``: 1-3 people
at random places, poses and turns, in front of a floor and a wall) or a folder of depth frames:
``.npy`` (float metres, NaN/0 invalid, or uint16 millimetres) or 16-bit ``.png`` (millimetres).
Person boxes of folder frames come from ``core.segmentation.PersonSegmenter`` (or
``segmenter``), so the crops see the same framing as in use. No TensorRT or GPU is needed.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics
from kinpose_ros.core.depth import decode_depth
from kinpose_ros.inference.crop_geometry import make_crops
from kinpose_ros.inference.model_card import ModelCard

__all__ = ['calibration_batches', 'load_depth_frame']


def load_depth_frame(path: str | Path) -> np.ndarray:
    """(H, W) float32 metres (NaN invalid) from a .npy (metres or uint16 mm) or 16-bit .png."""
    path = Path(path)
    if path.suffix == '.npy':
        raw = np.load(path)
    elif path.suffix == '.png':
        from PIL import Image  # noqa: PLC0415 - pillow comes with the 'torch' extra

        raw = np.asarray(Image.open(path))
    else:
        raise ValueError(f'{path}: expected a .npy or 16-bit .png depth frame')
    if raw.ndim != 2:
        raise ValueError(f'{path}: expected a (H, W) depth image, got shape {raw.shape}')
    if np.issubdtype(raw.dtype, np.integer):
        return decode_depth(raw.astype(np.uint16), '16UC1')
    return decode_depth(raw.astype(np.float32), '32FC1')


def _synthetic_crops(card: ModelCard, rng: np.random.Generator) -> Iterator[np.ndarray]:
    from kinpose_ros.inference.sample_frames import person_params, sample_frame  # noqa: PLC0415

    sk = card.load_skeleton()
    cams = [SENSOR_PRESETS[k] for k in ('itop', 'kinect_v2', 'realsense_d435_640x480')]
    while True:
        K = cams[rng.integers(len(cams))]
        n = int(rng.integers(1, 4))
        xs = rng.uniform(-1.2, 1.2, n) + np.arange(n) * 0.8 - 0.4 * (n - 1)
        params = np.array([person_params(sk, x, rng.uniform(1.8, 4.5), rng.uniform(-1.2, 1.2),
                                         rng.uniform(0.8, 1.4), rng, 0.5) for x in xs])
        frame = sample_frame(K, params, sk, seed=int(rng.integers(1 << 30)))
        crops, _ = make_crops(frame.depth_m, K, frame.proposals, card)
        yield from crops


def _folder_crops(card: ModelCard, folder: Path, intrinsics: Intrinsics,
                  segmenter) -> Iterator[np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix in ('.npy', '.png'))
    if not files:
        raise ValueError(f'calibration folder {folder}: no .npy or .png depth frames found')
    if segmenter is None:
        from kinpose_ros.core.segmentation import PersonSegmenter  # noqa: PLC0415

        segmenter = PersonSegmenter()
    for path in files:
        depth = load_depth_frame(path)
        if depth.shape != (intrinsics.height, intrinsics.width):
            raise ValueError(f'{path}: size {depth.shape[::-1]} does not match the intrinsics '
                             f'({intrinsics.width}, {intrinsics.height})')
        crops, _ = make_crops(depth, intrinsics, segmenter.segment(depth, intrinsics), card)
        yield from crops


def calibration_batches(card: ModelCard, source: str | Path = 'synthetic', batch_size: int = 8,
                        num_batches: int = 32, intrinsics: Intrinsics | None = None,
                        seed: int = 0, segmenter=None) -> Iterator[np.ndarray]:
    """Yield up to ``num_batches`` batches (batch_size, C, H, W) float32 of person crops.

    A folder needs the ``intrinsics`` of its frames. A folder with fewer crops than asked for
    yields what it has (the last partial batch is dropped).
    """
    if batch_size < 1 or num_batches < 1:
        raise ValueError(f'batch_size and num_batches must be >= 1, got {batch_size}, '
                         f'{num_batches}')
    if str(source) == 'synthetic':
        crops = _synthetic_crops(card, np.random.default_rng(seed))
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(f"calibration source {source}: expected 'synthetic' or a folder")
        if intrinsics is None:
            raise ValueError(f'calibration folder {folder}: the intrinsics of its frames are '
                             'needed (e.g. --calib-camera itop)')
        crops = _folder_crops(card, folder, intrinsics, segmenter)
    shape = (batch_size, card.input.channels, card.input.height, card.input.width)
    batch = np.empty(shape, np.float32)
    k = 0
    for crop in crops:
        batch[k] = crop
        k += 1
        if k == batch_size:
            yield batch.copy()
            num_batches -= 1
            k = 0
            if num_batches == 0:
                return
