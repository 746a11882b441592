"""NYU hand dataset (Tompson et al. 2014): depth PNG decoding and A2J-style UVD labels.

Depth PNGs are 8-bit RGB with the 16-bit depth in millimetres packed as
``depth_mm = B + (G << 8)`` (R unused); 0 = invalid.

Labels as published with A2J (``nyu_keypointsUVD_test.mat``, key ``keypoints3D``):
(N, 14, 3) ``(u, v, z)`` with u, v in 640x480 pixels and z in millimetres.

Frames: the A2J code converts UVD with ``fx = 588.03, fy = -587.07, c = (320, 240)``: the negative
``fy`` gives a y-**up** world frame. This module returns the optical frame (REP-103: x right,
y down, z forward) in **metres**, i.e. it uses ``fy = +587.07`` (``SENSOR_PRESETS['nyu']``); the
A2J world point is ``(x, -y, z) * 1000``. Errors (Euclidean distances) are the same in both.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics

__all__ = [
    'NYU_INTRINSICS', 'decode_nyu_depth', 'load_nyu_depth_png', 'load_nyu_uvd', 'nyu_uvd_to_xyz',
]

NYU_INTRINSICS: Intrinsics = SENSOR_PRESETS['nyu']


def decode_nyu_depth(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB (or RGBA) NYU depth image -> (H, W) float32 metres, NaN = invalid."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise ValueError(
            f'NYU depth must be an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}')
    depth_mm = rgb[..., 2].astype(np.uint16) | (rgb[..., 1].astype(np.uint16) << 8)
    depth_m = depth_mm.astype(np.float32) * np.float32(0.001)
    depth_m[depth_mm == 0] = np.nan
    return depth_m


def load_nyu_depth_png(path: str | os.PathLike) -> np.ndarray:
    """Read an NYU depth PNG; (H, W) float32 metres, NaN = invalid. Needs Pillow."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('reading NYU PNGs needs Pillow: pip install "pillow>=9"') from exc
    with Image.open(Path(path)) as image:
        if image.mode not in ('RGB', 'RGBA'):
            raise ValueError(f'{path}: expected an RGB NYU depth PNG, got mode {image.mode}')
        return decode_nyu_depth(np.asarray(image.convert('RGB')))


def load_nyu_uvd(path: str | os.PathLike, key: str = 'keypoints3D') -> np.ndarray:
    """A2J-style label file -> (N, J, 3) float64 ``(u, v, z_mm)`` (J = 14 for the A2J subset)."""
    from scipy.io import loadmat

    data = loadmat(str(path))
    if key not in data:
        found = [k for k in data if not k.startswith('__')]
        raise KeyError(f'{path} has no key {key!r}; found {found}')
    uvd = np.asarray(data[key], dtype=np.float64)
    if uvd.ndim != 3 or uvd.shape[2] != 3:
        raise ValueError(f'{path}:{key} must be (N, J, 3) (u, v, z_mm), got {uvd.shape}')
    return uvd


def nyu_uvd_to_xyz(uvd_mm: np.ndarray, intrinsics: Intrinsics = NYU_INTRINSICS) -> np.ndarray:
    """(..., 3) ``(u, v, z_mm)`` -> (..., 3) float64 optical-frame points in metres."""
    uvd = np.asarray(uvd_mm, dtype=np.float64)
    if uvd.shape[-1:] != (3,):
        raise ValueError(f'uvd_mm must have shape (..., 3), got {uvd.shape}')
    return intrinsics.unproject(uvd[..., :2], uvd[..., 2] * 1e-3)
