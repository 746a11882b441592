"""The pose node's input boundary: CameraInfo -> Intrinsics once per change, depth decoding with
every check a real camera (or a wrong topic) can fail, and throttled problem reports.

Nothing here raises anything but :class:`InputError`, whose ``kind`` is a short stable key
(``encoding``, ``empty``, ``too_large``, ``size_mismatch``, ``malformed``, ``camera_info``,
``no_valid_depth``, ``rgb``) used for throttling, counting and diagnostics; its message names the
input, what was expected and what was found.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.ros.conversions import (
    ENCODINGS,
    camera_info_to_intrinsics,
    depth_image_to_metres,
    image_to_numpy,
)

DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')


class InputError(ValueError):
    """A frame that cannot be processed; ``kind`` names the problem class."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _info_key(msg: CameraInfo) -> tuple:
    roi = msg.roi
    return (int(msg.width), int(msg.height), tuple(float(v) for v in msg.k),
            int(msg.binning_x), int(msg.binning_y),
            (int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)))


class CameraModelCache:
    """Converts ``CameraInfo`` to :class:`Intrinsics` only when its content changes."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: Intrinsics | InputError | None = None
        self.conversions = 0

    def get(self, msg: CameraInfo) -> Intrinsics:
        """Intrinsics of the delivered image (binning and ROI applied).

        Raises:
            InputError: kind ``camera_info`` (zero focal length, malformed K, ROI outside).
        """
        key = _info_key(msg)
        if key != self._key:
            self._key = key
            self.conversions += 1
            try:
                self._value = camera_info_to_intrinsics(msg)
            except ValueError as exc:
                self._value = InputError('camera_info', f'CameraInfo of frame '
                                         f'{msg.header.frame_id!r} is unusable: {exc}')
        if isinstance(self._value, InputError):
            raise self._value
        return self._value


@dataclass(frozen=True)
class DepthSettings:
    """Decoding options (parameters ``depth.*``)."""

    max_pixels: int = 1 << 24
    invalid_value: int = 0        # extra raw 16UC1 value meaning invalid; 0 = none
    unit_m: float = 0.0           # metres per raw unit; 0 = from the encoding


def check_image_header(msg: Image, what: str, max_pixels: int) -> None:
    """Cheap checks before touching the pixels (run in the subscription callback).

    Raises:
        InputError: ``encoding`` (unknown), ``empty`` (0 pixels) or ``too_large``.
    """
    if str(msg.encoding).lower() not in {e.lower() for e in ENCODINGS}:
        raise InputError('encoding', f'{what} has unsupported encoding {msg.encoding!r}; '
                         f'expected one of {", ".join(ENCODINGS)}')
    pixels = int(msg.width) * int(msg.height)
    if pixels == 0:
        raise InputError('empty', f'{what} is empty ({msg.width}x{msg.height})')
    if pixels > max_pixels:
        raise InputError('too_large', f'{what} is {msg.width}x{msg.height} = {pixels} pixels, '
                         f'more than depth.max_pixels = {max_pixels}')


def decode_depth_frame(msg: Image, intrinsics: Intrinsics,
                       settings: DepthSettings = DepthSettings()) -> np.ndarray:
    """Depth image -> float32 (H, W) metres, NaN = invalid, checked against the camera model.

    Raises:
        InputError: any problem of :func:`check_image_header`; ``encoding`` for a non-depth
            encoding; ``size_mismatch`` when the image is not the size CameraInfo describes
            (after binning and ROI); ``malformed`` for inconsistent step/data; ``no_valid_depth``
            when not one pixel holds depth.
    """
    check_image_header(msg, 'depth image', settings.max_pixels)
    if str(msg.encoding).lower() not in {e.lower() for e in DEPTH_ENCODINGS}:
        raise InputError('encoding', f'depth image has encoding {msg.encoding!r}, not a depth '
                         f'encoding; expected one of {", ".join(DEPTH_ENCODINGS)} (16UC1 mm, '
                         '32FC1 m): is the depth topic remapped to a colour stream?')
    if (int(msg.width), int(msg.height)) != intrinsics.size:
        raise InputError('size_mismatch', f'depth image is {msg.width}x{msg.height} but its '
                         f'CameraInfo describes {intrinsics.width}x{intrinsics.height} (after '
                         'binning and ROI): wrong camera_info topic or stale calibration?')
    try:
        depth = depth_image_to_metres(
            msg, invalid_value=settings.invalid_value or None,
            depth_unit_m=settings.unit_m or None)
    except ValueError as exc:
        raise InputError('malformed', f'depth image cannot be decoded: {exc}') from exc
    if not np.isfinite(depth).any():
        raise InputError('no_valid_depth', f'depth image {msg.width}x{msg.height} '
                         f'({msg.encoding}) holds no valid pixel (all 0 / NaN)')
    return depth


def decode_rgb_frame(msg: Image, size: tuple[int, int], max_pixels: int) -> np.ndarray:
    """Colour image -> (H, W, 3) uint8 RGB of exactly ``size`` = (width, height).

    Raises:
        InputError: kind ``rgb`` for anything unusable (the depth frame is still processed).
    """
    try:
        check_image_header(msg, 'rgb image', max_pixels)
        img = image_to_numpy(msg)
    except (InputError, ValueError) as exc:
        raise InputError('rgb', str(exc)) from exc
    enc = str(msg.encoding).lower()
    if img.ndim == 2:
        img = np.repeat((img >> 8 if img.dtype == np.uint16 else img)[..., None], 3, axis=2)
    elif enc.startswith('bgr'):
        img = img[..., 2::-1]
    img = np.ascontiguousarray(img[..., :3]).astype(np.uint8, copy=False)
    if (img.shape[1], img.shape[0]) != tuple(size):
        raise InputError('rgb', f'rgb image is {img.shape[1]}x{img.shape[0]}, the depth image '
                         f'{size[0]}x{size[1]}: the overlay needs a registered colour stream')
    return img


class ProblemLog:
    """Counts input problems per kind and lets each kind through at most once per period."""

    def __init__(self, warn: Callable[[str], None], period_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._warn, self._period, self._clock = warn, float(period_s), clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def report(self, kind: str, message: str) -> bool:
        """Count ``kind``; log ``message`` (with the count so far) unless throttled."""
        now = self._clock()
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            last = self._last.get(kind)
            if last is not None and now - last < self._period:
                return False
            self._last[kind] = now
            count = self.counts[kind]
        self._warn(f'{message} [{kind}; {count} so far]')
        return True
