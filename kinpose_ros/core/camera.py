"""Pinhole camera model: intrinsics, projection, and the pixel conventions used everywhere.

Conventions
-----------
* Camera frame: the optical frame of REP-103 / REP-105 — x right, y down, z forward, metres.
* Pixel coordinates ``(u, v)``: u to the right (column), v down (row). Pixel centres sit at integer
  coordinates, as in ROS ``CameraInfo`` and OpenCV: the pixel ``depth[r, c]`` is centred at
  ``(u, v) = (c, r)`` and covers ``[c - 0.5, c + 0.5) x [r - 0.5, r + 0.5)``.
* Projection: ``u = fx * x / z + cx``, ``v = fy * y / z + cy``; no lens distortion (depth images
  are used as delivered; depth streams are normally undistorted or nearly so).
* Resizing follows ``cv2.resize`` / ``align_corners=False`` semantics: an image resized by factors
  ``(sx, sy)`` maps ``u' = (u + 0.5) * sx - 0.5``. :meth:`Intrinsics.scaled` uses this exact rule.
  :meth:`Intrinsics.from_camera_info` instead follows ``image_geometry`` (ROS) for binning, which
  divides ``cx`` and ``cy`` by the binning factor without the half-pixel term; the two differ by
  ``0.5 - 0.5 / binning`` pixel (0.25 px for binning 2). Matching ROS tools wins there.

:data:`SENSOR_PRESETS` holds nominal intrinsics of common sensors for demos, synthetic rendering
and datasets whose files carry no calibration. They are typical values, not calibrations: a real
device publishes its own ``CameraInfo``, which should always be preferred.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ['Intrinsics', 'SENSOR_PRESETS', 'depth_to_points', 'project', 'unproject']


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one image stream (pixels; see the module conventions).

    Attributes:
        width, height: image size in pixels (positive integers).
        fx, fy: focal lengths in pixels (finite, non-zero).
        cx, cy: principal point in pixels (finite), pixel centres at integer coordinates.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        for name in ('width', 'height'):
            value = getattr(self, name)
            if isinstance(value, bool) or not float(value).is_integer() or value <= 0:
                raise ValueError(f'Intrinsics.{name} must be a positive integer, got {value!r}')
            object.__setattr__(self, name, int(value))
        for name in ('fx', 'fy', 'cx', 'cy'):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f'Intrinsics.{name} must be finite, got {value!r}')
            object.__setattr__(self, name, value)
        if self.fx == 0.0 or self.fy == 0.0:
            raise ValueError(
                f'Intrinsics focal lengths must be non-zero, got fx={self.fx}, fy={self.fy} '
                '(an all-zero K usually means an uncalibrated camera)')

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_k(cls, K: Sequence | np.ndarray, width: int, height: int) -> Intrinsics:
        """Intrinsics from a 3x3 camera matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``.

        A non-zero skew ``s`` is not modelled and raises ValueError.
        """
        K = np.asarray(K, dtype=np.float64)
        if K.shape == (9,):
            K = K.reshape(3, 3)
        if K.shape != (3, 3):
            raise ValueError(f'K must be 3x3 (or 9 values row-major), got shape {K.shape}')
        if abs(K[0, 1]) > 1e-9 * max(1.0, abs(K[0, 0])):
            raise ValueError(f'K has skew K[0,1]={K[0, 1]}; skewed pixels are not supported')
        return cls(width, height, K[0, 0], K[1, 1], K[0, 2], K[1, 2])

    @classmethod
    def from_camera_info(
        cls,
        width: int,
        height: int,
        k: Sequence[float],
        binning_x: int = 0,
        binning_y: int = 0,
        roi: tuple[int, int, int, int] | None = None,
        roi_do_rectify: bool = False,
    ) -> Intrinsics:
        """Intrinsics of the image actually delivered with a ``sensor_msgs/CameraInfo``.

        Follows ``image_geometry.PinholeCameraModel``: ``width``/``height``/``k`` describe the
        full-resolution sensor; the ROI ``(x_offset, y_offset, roi_width, roi_height)`` (full-res
        pixels) shifts the principal point by the offset; then binning divides focal lengths and
        principal point by the factor (0 means 1). An all-zero ROI, or ``None``, means the full
        image. The delivered size is ``roi_width // binning_x`` by ``roi_height // binning_y``.
        ``roi_do_rectify`` is accepted for completeness; like ``image_geometry`` the same raw ROI
        is applied either way (depth streams are used unrectified).

        Raises:
            ValueError: ``k`` is not 9 values, binning is negative, or the ROI leaves the image.
        """
        del roi_do_rectify  # same K either way, see docstring
        k = np.asarray(k, dtype=np.float64).reshape(-1)
        if k.shape != (9,):
            raise ValueError(f'CameraInfo k must hold 9 values (row-major 3x3), got {k.size}')
        if binning_x < 0 or binning_y < 0:
            raise ValueError(f'binning must be >= 0, got ({binning_x}, {binning_y})')
        bx, by = max(1, int(binning_x)), max(1, int(binning_y))
        x_off, y_off, roi_w, roi_h = (0, 0, 0, 0) if roi is None else (int(r) for r in roi)
        if roi_w == 0 and roi_h == 0 and x_off == 0 and y_off == 0:
            roi_w, roi_h = int(width), int(height)
        if roi_w <= 0 or roi_h <= 0 or x_off < 0 or y_off < 0 or x_off + roi_w > width \
                or y_off + roi_h > height:
            raise ValueError(
                f'CameraInfo roi {(x_off, y_off, roi_w, roi_h)} does not fit the '
                f'{width}x{height} image')
        base = cls.from_k(k, width, height)
        return cls(
            width=roi_w // bx, height=roi_h // by,
            fx=base.fx / bx, fy=base.fy / by,
            cx=(base.cx - x_off) / bx, cy=(base.cy - y_off) / by,
        )

    # ----------------------------------------------------------------- views
    @property
    def K(self) -> np.ndarray:  # noqa: N802 (the conventional name of the camera matrix)
        """The 3x3 camera matrix, float64."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.width, self.height

    def scaled(self, sx: float, sy: float | None = None) -> Intrinsics:
        """Intrinsics of this image resized by ``(sx, sy)`` (``sy`` defaults to ``sx``).

        Uses ``cv2.resize`` semantics (see module docstring); the new size is the rounded scaled
        size, the mapping uses the exact factors given.
        """
        sy = sx if sy is None else sy
        if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
            raise ValueError(f'scale factors must be positive and finite, got ({sx}, {sy})')
        return Intrinsics(
            width=max(1, round(self.width * sx)), height=max(1, round(self.height * sy)),
            fx=self.fx * sx, fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5, cy=(self.cy + 0.5) * sy - 0.5,
        )

    def with_size(self, width: int, height: int) -> Intrinsics:
        """Intrinsics of this image resized to exactly ``width`` x ``height`` pixels."""
        out = self.scaled(width / self.width, height / self.height)
        return replace(out, width=width, height=height)

    # ----------------------------------------------------------------- geometry
    def project(self, points_xyz: np.ndarray) -> np.ndarray:
        """See :func:`project`."""
        return project(points_xyz, self)

    def unproject(self, uv: np.ndarray, depth_m: np.ndarray | float) -> np.ndarray:
        """See :func:`unproject`."""
        return unproject(uv, depth_m, self)

    def depth_to_points(self, depth_m: np.ndarray) -> np.ndarray:
        """See :func:`depth_to_points`."""
        return depth_to_points(depth_m, self)


def project(points_xyz: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Project optical-frame points to pixels.

    Args:
        points_xyz: (..., 3) points in metres, optical frame.
        intrinsics: the camera.

    Returns:
        (..., 2) float64 ``(u, v)``; NaN for points with ``z <= 0`` or non-finite input.
    """
    p = np.asarray(points_xyz, dtype=np.float64)
    if p.shape[-1:] != (3,):
        raise ValueError(f'points_xyz must have shape (..., 3), got {p.shape}')
    z = p[..., 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        inv_z = np.where(z > 0, 1.0 / z, np.nan)
    u = intrinsics.fx * p[..., 0] * inv_z + intrinsics.cx
    v = intrinsics.fy * p[..., 1] * inv_z + intrinsics.cy
    return np.stack([u, v], axis=-1)


def unproject(uv: np.ndarray, depth_m: np.ndarray | float, intrinsics: Intrinsics) -> np.ndarray:
    """Back-project pixels with depth (distance along the optical axis, not along the ray).

    Args:
        uv: (..., 2) pixel coordinates.
        depth_m: (...) z in metres, broadcastable against ``uv[..., 0]``; NaN stays NaN.
        intrinsics: the camera.

    Returns:
        (..., 3) float64 points in metres, optical frame.
    """
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f'uv must have shape (..., 2), got {uv.shape}')
    z = np.asarray(depth_m, dtype=np.float64)
    x = (uv[..., 0] - intrinsics.cx) / intrinsics.fx * z
    y = (uv[..., 1] - intrinsics.cy) / intrinsics.fy * z
    x, y, z = np.broadcast_arrays(x, y, z)
    return np.stack([x, y, z], axis=-1)


def depth_to_points(depth_m: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Organised point cloud of a depth image.

    Args:
        depth_m: (H, W) depth in metres matching ``intrinsics`` size; NaN marks invalid pixels.
        intrinsics: the camera.

    Returns:
        (H, W, 3) float32 points in metres, optical frame; invalid pixels are NaN in all three.
    """
    depth_m = np.asarray(depth_m)
    if depth_m.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f'depth_m shape {depth_m.shape} does not match intrinsics size '
            f'(height, width)=({intrinsics.height}, {intrinsics.width})')
    z = depth_m.astype(np.float32, copy=False)
    xs = ((np.arange(intrinsics.width) - intrinsics.cx) / intrinsics.fx).astype(np.float32)
    ys = ((np.arange(intrinsics.height) - intrinsics.cy) / intrinsics.fy).astype(np.float32)
    out = np.empty(z.shape + (3,), dtype=np.float32)
    np.multiply(z, xs[None, :], out=out[..., 0])
    np.multiply(z, ys[:, None], out=out[..., 1])
    out[..., 2] = z
    return out


# Nominal values: typical factory numbers for each sensor mode, for demos and datasets without
# calibration. Real devices publish their own CameraInfo; prefer it.
SENSOR_PRESETS: dict[str, Intrinsics] = {
    # ITOP (Haque et al. 2016), Asus Xtion / Kinect v1 class at 320x240: f = 285.714 (= 1/0.0035)
    'itop': Intrinsics(320, 240, 285.714, 285.714, 160.0, 120.0),
    'kinect_v1_320x240': Intrinsics(320, 240, 285.714, 285.714, 160.0, 120.0),
    'kinect_v2': Intrinsics(512, 424, 365.5, 365.5, 257.5, 209.5),
    'azure_kinect_nfov_unbinned': Intrinsics(640, 576, 504.0, 504.0, 320.0, 288.0),
    'realsense_d435_640x480': Intrinsics(640, 480, 383.0, 383.0, 320.0, 240.0),
    'realsense_d435_848x480': Intrinsics(848, 480, 424.0, 424.0, 424.0, 240.0),
    'realsense_sr305': Intrinsics(640, 480, 476.007, 476.007, 313.683, 242.755),
    # NYU hand (Tompson et al. 2014); the A2J code writes fy = -587.07 for a y-up world frame
    'nyu': Intrinsics(640, 480, 588.03, 587.07, 320.0, 240.0),
}
