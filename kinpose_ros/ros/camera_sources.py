"""Frames for the synthetic camera node: generated people, or depth files from disk (no ROS).

Every source yields :class:`SourceFrame` objects: depth in metres (NaN invalid) with its
intrinsics, an optional registered RGB image, and the ground-truth joints of each person when
known (camera optical frame, metres, the skeleton's keypoint order).

* :class:`SynthSource`: ``kinpose_ros.data.synth.SynthGenerator`` scenes, generated once at start
  (``count`` of them, deterministic for the seed) and then looped.
* :class:`FileSource`: a folder (or one file) of depth frames: 16-bit PNG or ``.npy`` (uint16
  raw units of ``depth_unit_m``, or float metres), sorted by name; intrinsics from a sensor preset
  or explicit values. The real frames in ``../shared/data/real_depth`` are such files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinpose_ros.core.camera import SENSOR_PRESETS, Intrinsics
from kinpose_ros.core.depth import decode_depth

DEPTH_SUFFIXES = ('.png', '.npy')


@dataclass
class SourceFrame:
    """One frame to publish."""

    depth_m: np.ndarray                 # (H, W) float32 metres, NaN = invalid
    intrinsics: Intrinsics
    rgb: np.ndarray | None = None       # (H, W, 3) uint8 RGB, registered to the depth
    joints_xyz: list = field(default_factory=list)  # per person (J, 3) optical frame, metres
    name: str = ''                      # file name or 'synth <index>'


class SynthSource:
    """``count`` generated scenes (one to ``people`` persons each), looped."""

    def __init__(self, count: int = 16, seed: int = 0, sensor: str = 'itop',
                 people: tuple[int, int] = (1, 1), noise: bool = True, clutter: bool = True,
                 rgb: bool = False, image_size: tuple[int, int] | None = None,
                 skeleton: str = 'body15') -> None:
        from kinpose_ros.data.synth.generator import (  # noqa: PLC0415 - heavy, optional
            SynthConfig,
            SynthGenerator,
        )

        if count < 1:
            raise ValueError(f'synthetic source: count must be >= 1, got {count}')
        config = SynthConfig(sensors=(sensor,), people=tuple(people), noise=noise,
                             clutter=clutter, rgb=rgb, image_size=image_size,
                             skeleton=skeleton)
        gen = SynthGenerator(config, seed)
        self.skeleton_name = skeleton
        self.joint_names = list(gen.skeleton.joint_names)
        self.frames = []
        for i in range(count):
            f = gen.frame(i)
            self.frames.append(SourceFrame(f.depth_m, f.intrinsics, f.rgb,
                                           [np.asarray(p.joints_xyz, np.float64)
                                            for p in f.people], f'synth {seed}:{i}'))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> SourceFrame:
        return self.frames[index % len(self.frames)]


def intrinsics_for(preset: str = '', size: tuple[int, int] | None = None,
                   fx: float = 0.0, fy: float = 0.0, cx: float = 0.0,
                   cy: float = 0.0) -> Intrinsics:
    """Intrinsics from explicit values (``fx`` > 0) or a preset of ``core.camera``.

    Raises:
        ValueError: an unknown preset, or neither a preset nor ``fx`` given.
    """
    if fx > 0:
        if size is None:
            raise ValueError('explicit intrinsics need the image size')
        return Intrinsics(size[0], size[1], fx, fy or fx, cx, cy)
    if not preset:
        raise ValueError('depth files carry no calibration: give a sensor preset '
                         f'({", ".join(SENSOR_PRESETS)}) or fx, fy, cx, cy')
    if preset not in SENSOR_PRESETS:
        raise ValueError(f'unknown sensor preset {preset!r}; known: {", ".join(SENSOR_PRESETS)}')
    K = SENSOR_PRESETS[preset]
    if size is not None and size != K.size:
        K = K.with_size(*size)
    return K


def read_depth_file(path: str | Path, depth_unit_m: float = 0.001) -> np.ndarray:
    """One depth file -> (H, W) float32 metres, NaN invalid.

    ``.npy``: integer arrays are raw units of ``depth_unit_m`` (0 invalid), float arrays metres.
    ``.png``: 16-bit single channel, raw units of ``depth_unit_m``.

    Raises:
        ValueError: a suffix, dtype or image mode that is not a depth image.
    """
    path = Path(path)
    if path.suffix == '.npy':
        raw = np.load(path)
        if raw.ndim != 2:
            raise ValueError(f'{path}: expected a (H, W) depth array, got shape {raw.shape}')
        if np.issubdtype(raw.dtype, np.integer):
            return decode_depth(raw.astype(np.uint16), '16UC1', depth_unit_m=depth_unit_m)
        return decode_depth(raw.astype(np.float32), '32FC1')
    if path.suffix == '.png':
        from PIL import Image  # noqa: PLC0415

        with Image.open(path) as img:
            if img.mode not in ('I;16', 'I;16B', 'I'):
                raise ValueError(f'{path}: expected a 16-bit single-channel PNG, got mode '
                                 f'{img.mode!r}')
            raw = np.asarray(img).astype(np.uint16)
        return decode_depth(raw, '16UC1', depth_unit_m=depth_unit_m)
    raise ValueError(f'{path}: depth files must end in {" or ".join(DEPTH_SUFFIXES)}')


class FileSource:
    """Depth files from a folder (sorted by name) or a single file, looped by the caller.

    Intrinsics: ``intrinsics`` if given, else :func:`intrinsics_for` (explicit ``fx`` > 0, or the
    ``preset`` resized to each file's size).
    """

    def __init__(self, path: str | Path, intrinsics: Intrinsics | None = None,
                 preset: str = '', depth_unit_m: float = 0.001, fx: float = 0.0,
                 fy: float = 0.0, cx: float = 0.0, cy: float = 0.0) -> None:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in DEPTH_SUFFIXES)
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f'depth source {path} does not exist')
        if not files:
            raise ValueError(f'{path} holds no depth files ({", ".join(DEPTH_SUFFIXES)})')
        self.frames = []
        for f in files:
            depth = read_depth_file(f, depth_unit_m)
            size = (depth.shape[1], depth.shape[0])
            K = intrinsics if intrinsics is not None else intrinsics_for(preset, size, fx, fy,
                                                                         cx, cy)
            if K.size != size:
                raise ValueError(f'{f}: image is {size[0]}x{size[1]} but the intrinsics are '
                                 f'{K.width}x{K.height}')
            self.frames.append(SourceFrame(depth, K, name=f.name))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> SourceFrame:
        return self.frames[index % len(self.frames)]
