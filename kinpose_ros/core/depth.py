"""Depth images: units and invalid pixels, and the per-person crops networks consume.

Conventions
-----------
* In memory, depth is a float32 array in metres (z along the optical axis), ``NaN`` = invalid.
  :func:`decode_depth` is the one place raw sensor encodings become that; :func:`encode_depth`
  is its inverse (synthetic camera, bag writing).
* Pixel coordinates follow :mod:`kinpose_ros.core.camera`: pixel ``depth[r, c]`` is centred at
  ``(u, v) = (c, r)``.
* Crop boxes ``[x0, y0, x1, y1]`` are given in pixel *edge* coordinates: the image spans
  ``[0, W] x [0, H]`` and pixel column ``c`` spans ``[c, c + 1)``, so an integer box selects
  exactly ``depth[y0:y1, x0:x1]`` (a detector box of inclusive pixel indices ``xmin..xmax``
  is ``[xmin, ymin, xmax + 1, ymax + 1]``; off by one pixel otherwise, which rarely matters).
  A box resized to ``out_size = (out_w, out_h)`` maps with ``cv2.resize`` / ``align_corners=False``
  semantics: ``u_image = x0 + (u_crop + 0.5) * (x1 - x0) / out_w - 0.5``.
* Network input depth: ``(z - center_depth_m) / half_range_m`` clipped to ``[-1, 1]`` where
  ``half_range_m = depth_range_m / 2``; invalid pixels (NaN, ``<= 0``, outside the image) take
  ``fill_value`` (default ``1.0``: "far", the same as background beyond the range).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.camera import Intrinsics, unproject

__all__ = [
    'SUPPORTED_ENCODINGS', 'CropInfo', 'crop_depth', 'crop_depth_batch', 'decode_depth',
    'encode_depth', 'fit_box_aspect',
]

_MM_ENCODINGS = ('16UC1', 'MONO16')
_FLOAT_ENCODINGS = ('32FC1',)
SUPPORTED_ENCODINGS = ('16UC1', 'mono16', '32FC1')
_UINT16_MAX = np.iinfo(np.uint16).max


def _check_encoding(encoding: str) -> str:
    key = str(encoding).upper()
    if key not in _MM_ENCODINGS + _FLOAT_ENCODINGS:
        raise ValueError(
            f'unsupported depth encoding {encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}'
            ' (16UC1/mono16: integer units, default millimetres; 32FC1: metres)')
    return key


def _check_unit(depth_unit_m: float | None, key: str) -> float:
    if depth_unit_m is None:
        return 0.001 if key in _MM_ENCODINGS else 1.0
    unit = float(depth_unit_m)
    if not (np.isfinite(unit) and unit > 0):
        raise ValueError(f'depth_unit_m must be positive and finite, got {depth_unit_m!r}')
    return unit


def decode_depth(
    data: np.ndarray,
    encoding: str,
    invalid_value: float | None = None,
    depth_unit_m: float | None = None,
) -> np.ndarray:
    """Raw depth image -> float32 metres with NaN for invalid pixels.

    Args:
        data: raw image of any shape (usually (H, W)); integer dtype for ``16UC1``/``mono16``,
            float dtype for ``32FC1``.
        encoding: ``'16UC1'`` or ``'mono16'`` (integer units, 0 = invalid) or ``'32FC1'``
            (metres; NaN, +-inf, 0 and negative = invalid). Case-insensitive.
        invalid_value: an extra raw value that marks invalid pixels (e.g. 65535 on some sensors).
        depth_unit_m: metres per raw unit; default 0.001 for the integer encodings and 1.0 for
            ``32FC1``. RealSense SR305 streams use 0.000125.

    Returns:
        float32 array of ``data.shape``, metres, NaN = invalid.

    Raises:
        ValueError: unknown encoding, a dtype that does not fit the encoding, or a bad unit.
    """
    key = _check_encoding(encoding)
    unit = _check_unit(depth_unit_m, key)
    data = np.asarray(data)
    if key in _MM_ENCODINGS:
        if not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f'{encoding} depth must have an integer dtype, got {data.dtype}')
        invalid = data <= 0
    else:
        if not np.issubdtype(data.dtype, np.floating):
            raise ValueError(f'{encoding} depth must have a float dtype, got {data.dtype}')
        with np.errstate(invalid='ignore'):
            invalid = ~(np.isfinite(data) & (data > 0))
    if invalid_value is not None:
        invalid |= data == invalid_value
    out = data.astype(np.float32)
    if unit != 1.0:
        out *= np.float32(unit)
    out[invalid] = np.nan
    return out


def encode_depth(
    depth_m: np.ndarray, encoding: str, depth_unit_m: float | None = None
) -> np.ndarray:
    """Float metres -> raw image; the inverse of :func:`decode_depth`.

    ``16UC1``/``mono16``: uint16 in ``depth_unit_m`` units (default mm), rounded to nearest;
    NaN, non-positive, and values that do not fit 16 bits (> 65.535 m at 1 mm) become 0, invalid.
    ``32FC1``: float32 metres (divided by ``depth_unit_m`` when given); invalid becomes NaN.
    """
    key = _check_encoding(encoding)
    unit = _check_unit(depth_unit_m, key)
    z = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(z) & (z > 0)
    if key in _FLOAT_ENCODINGS:
        return np.where(valid, z / unit, np.nan).astype(np.float32)
    raw = np.rint(np.where(valid, z, 0.0) / unit)
    raw[raw > _UINT16_MAX] = 0
    return raw.astype(np.uint16)


@dataclass(frozen=True)
class CropInfo:
    """One crop: a box of the image resized to ``out_size``, and its depth normalisation.

    Attributes:
        box_xyxy: ``(x0, y0, x1, y1)`` in pixel edge coordinates (see module docstring); the box
            actually sampled, i.e. after :func:`fit_box_aspect`.
        out_size: ``(out_w, out_h)`` of the crop in pixels.
        center_depth_m: depth mapped to 0 by the normalisation (NaN if the crop had no valid
            pixel to estimate it from).
        half_range_m: depth offset mapped to +-1.
        fill_value: normalised value given to invalid pixels.
    """

    box_xyxy: tuple[float, float, float, float]
    out_size: tuple[int, int]
    center_depth_m: float = 0.0
    half_range_m: float = 1.0
    fill_value: float = 1.0

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = (float(b) for b in self.box_xyxy)
        out_w, out_h = (int(s) for s in self.out_size)
        if not (x1 > x0 and y1 > y0) or out_w <= 0 or out_h <= 0:
            raise ValueError(
                f'CropInfo needs x1 > x0, y1 > y0 and a positive out_size, got box '
                f'{self.box_xyxy} and out_size {self.out_size}')
        object.__setattr__(self, 'box_xyxy', (x0, y0, x1, y1))
        object.__setattr__(self, 'out_size', (out_w, out_h))

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: crop pixels per image pixel along u and v."""
        x0, y0, x1, y1 = self.box_xyxy
        return self.out_size[0] / (x1 - x0), self.out_size[1] / (y1 - y0)

    def to_image_affine(self) -> np.ndarray:
        """(2, 3) float64 ``A`` with ``[u_img, v_img] = A @ [u_crop, v_crop, 1]``.

        Stack these for batched decoding in torch.
        """
        sx, sy = self.scale
        x0, y0 = self.box_xyxy[:2]
        return np.array([[1 / sx, 0.0, x0 + 0.5 / sx - 0.5], [0.0, 1 / sy, y0 + 0.5 / sy - 0.5]])

    def crop_to_image(self, uv_crop: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixel coordinates -> (..., 2) float64 image pixel coordinates."""
        uv = _as_uv(uv_crop, 'uv_crop')
        A = self.to_image_affine()
        return uv * A[:, 0:2].diagonal() + A[:, 2]

    def image_to_crop(self, uv_image: np.ndarray) -> np.ndarray:
        """(..., 2) image pixel coordinates -> (..., 2) float64 crop pixel coordinates."""
        uv = _as_uv(uv_image, 'uv_image')
        sx, sy = self.scale
        x0, y0 = self.box_xyxy[:2]
        return (uv - np.array([x0 + 0.5 / sx - 0.5, y0 + 0.5 / sy - 0.5])) * np.array([sx, sy])

    def normalise_depth(self, depth_m: np.ndarray | float) -> np.ndarray:
        """Metres -> normalised depth (not clipped; NaN stays NaN)."""
        return (np.asarray(depth_m, dtype=np.float64) - self.center_depth_m) / self.half_range_m

    def denormalise_depth(self, depth_norm: np.ndarray | float) -> np.ndarray:
        """Normalised depth -> metres."""
        return np.asarray(depth_norm, dtype=np.float64) * self.half_range_m + self.center_depth_m

    def crop_intrinsics(self, intrinsics: Intrinsics) -> Intrinsics:
        """Intrinsics of the crop seen as an image of its own (``out_size``)."""
        sx, sy = self.scale
        x0, y0 = self.box_xyxy[:2]
        return Intrinsics(
            self.out_size[0], self.out_size[1], intrinsics.fx * sx, intrinsics.fy * sy,
            (intrinsics.cx + 0.5 - x0) * sx - 0.5, (intrinsics.cy + 0.5 - y0) * sy - 0.5)

    def crop_to_camera(
        self, uvz_crop: np.ndarray, intrinsics: Intrinsics, depth_normalised: bool = True
    ) -> np.ndarray:
        """(..., 3) crop ``(u, v, z)`` -> (..., 3) float64 optical-frame points in metres.

        ``z`` is normalised depth when ``depth_normalised`` (the network convention), else metres.
        """
        uvz = np.asarray(uvz_crop, dtype=np.float64)
        if uvz.shape[-1:] != (3,):
            raise ValueError(f'uvz_crop must have shape (..., 3), got {uvz.shape}')
        z = self.denormalise_depth(uvz[..., 2]) if depth_normalised else uvz[..., 2]
        return unproject(self.crop_to_image(uvz[..., :2]), z, intrinsics)


def _as_uv(uv: np.ndarray, name: str) -> np.ndarray:
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f'{name} must have shape (..., 2), got {uv.shape}')
    return uv


def _fit_box(box: np.ndarray, aspect: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(b) for b in box)
    w, h = x1 - x0, y1 - y0
    if not (w > 0 and h > 0):
        raise ValueError(f'a box needs x1 > x0 and y1 > y0, got [{x0}, {y0}, {x1}, {y1}]')
    w, h = max(w, h * aspect), max(h, w / aspect)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def fit_box_aspect(boxes_xyxy: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Grow boxes about their centres to the aspect ratio of ``out_size`` (square for square).

    Only the short side grows, so the whole original box stays inside.

    Args:
        boxes_xyxy: (4,) or (N, 4) boxes in pixel edge coordinates with ``x1 > x0, y1 > y0``.
        out_size: ``(out_w, out_h)``.

    Returns:
        float64 boxes of the input shape.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.shape[-1:] != (4,) or boxes.ndim > 2:
        raise ValueError(f'boxes_xyxy must have shape (4,) or (N, 4), got {boxes.shape}')
    aspect = out_size[0] / out_size[1]
    fitted = [_fit_box(b, aspect) for b in boxes.reshape(-1, 4)]
    return np.array(fitted, dtype=np.float64).reshape(boxes.shape)


def _sample_line(src_1d_len: int, lo: float, hi: float, n_out: int, ramp: np.ndarray):
    """Nearest source indices (n_out,) under the output pixel centres, clipped; and a mask of
    the outside ones, or None when all are inside (indices are monotonic: check the ends)."""
    idx = np.floor(ramp * ((hi - lo) / n_out) + lo).astype(np.intp)
    if idx[0] >= 0 and idx[-1] < src_1d_len:
        return idx, None
    outside = (idx < 0) | (idx >= src_1d_len)
    return np.clip(idx, 0, src_1d_len - 1), outside


def _gather_crops(depth_m: np.ndarray, boxes: list, out_w: int, out_h: int) -> np.ndarray:
    """Nearest-neighbour samples (N, out_h, out_w) float32 of ``depth_m``; NaN outside the image.

    Two 1-D ``take`` calls per box (rows, then columns) are ~4x faster than one 2-D fancy index.
    """
    H, W = depth_m.shape
    src = depth_m.astype(np.float32, copy=False)
    ramp_x, ramp_y = np.arange(out_w) + 0.5, np.arange(out_h) + 0.5
    out = np.empty((len(boxes), out_h, out_w), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ix, out_x = _sample_line(W, x0, x1, out_w, ramp_x)
        iy, out_y = _sample_line(H, y0, y1, out_h, ramp_y)
        src.take(iy, axis=0).take(ix, axis=1, out=out[i])
        if out_y is not None:
            out[i, out_y] = np.nan
        if out_x is not None:
            out[i][:, out_x] = np.nan
    return out


def _gather_normalise(depth_m: np.ndarray, boxes: list, out_w: int, out_h: int,
                      centre: np.ndarray, half: float, fill_value: float) -> np.ndarray:
    """(N, out_h, out_w) float32 normalised crops with known centres (N,) metres; the same
    values as ``_gather_crops`` followed by the normalisation of ``crop_depth_batch``."""
    from kinpose_ros.core.depth_kernels import gather_normalise  # noqa: PLC0415

    H, W = depth_m.shape
    src = depth_m.astype(np.float32, copy=False)
    ramp_x, ramp_y = np.arange(out_w) + 0.5, np.arange(out_h) + 0.5
    out = np.empty((len(boxes), out_h, out_w), np.float32)
    scale, fill = np.float32(1.0 / half), np.float32(fill_value)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ix, out_x = _sample_line(W, x0, x1, out_w, ramp_x)
        iy, out_y = _sample_line(H, y0, y1, out_h, ramp_y)
        gather_normalise(src, iy, ix, np.zeros(out_h, np.bool_) if out_y is None else out_y,
                         np.zeros(out_w, np.bool_) if out_x is None else out_x,
                         np.float32(centre[i]), scale, fill, out[i])
    return out


def _centre_depth(z: np.ndarray, valid: np.ndarray) -> float:
    """Median valid depth (h, w) of the central half of a crop, else of all of it, else NaN."""
    h, w = z.shape
    inner = (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))
    values = z[inner][valid[inner]]
    if values.size == 0:
        values = z[valid]
    return float(np.median(values)) if values.size else float('nan')


def crop_depth_batch(
    depth_m: np.ndarray,
    boxes_xyxy: np.ndarray,
    out_size: tuple[int, int],
    center_depth_m: np.ndarray | float | None = None,
    depth_range_m: float = 2.0,
    fill_value: float = 1.0,
) -> tuple[np.ndarray, list[CropInfo]]:
    """Crop, resize and normalise several boxes of one depth image for a network.

    Each box is first grown to the aspect ratio of ``out_size`` about its centre
    (:func:`fit_box_aspect`); parts outside the image count as invalid. Resampling is
    nearest-neighbour (the source pixel under each output pixel centre): it never mixes depths
    across edges or invalid pixels.

    Args:
        depth_m: (H, W) depth in metres, NaN (or ``<= 0``) = invalid.
        boxes_xyxy: (N, 4) boxes in pixel edge coordinates (module docstring).
        out_size: ``(out_w, out_h)`` of every crop.
        center_depth_m: scalar or (N,) depth mapped to 0; ``None`` or NaN entries are estimated
            as the median valid depth in the central half of the crop (slower).
        depth_range_m: full depth range mapped to [-1, 1] (half of it on each side of the centre).
        fill_value: normalised value for invalid pixels (default 1.0, far).

    Returns:
        ``(crops, infos)``: (N, 1, out_h, out_w) float32 in [-1, 1] (plus ``fill_value``), and one
        :class:`CropInfo` per box. A crop whose centre stays unknown (no valid pixel) is all
        ``fill_value`` and its ``CropInfo.center_depth_m`` is NaN.
    """
    depth_m = np.asarray(depth_m)
    if depth_m.ndim != 2:
        raise ValueError(f'depth_m must be (H, W), got shape {depth_m.shape}')
    out_w, out_h = (int(s) for s in out_size)
    if out_w <= 0 or out_h <= 0:
        raise ValueError(f'out_size must be positive (out_w, out_h), got {out_size}')
    if not (np.isfinite(depth_range_m) and depth_range_m > 0):
        raise ValueError(f'depth_range_m must be positive and finite, got {depth_range_m}')
    boxes_in = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes_in.ndim != 2 or boxes_in.shape[1] != 4:
        raise ValueError(f'boxes_xyxy must have shape (N, 4), got {boxes_in.shape}')
    n = boxes_in.shape[0]
    aspect = out_w / out_h
    boxes = [_fit_box(b, aspect) for b in boxes_in]
    half = depth_range_m / 2.0
    if center_depth_m is not None:
        centre = np.broadcast_to(np.asarray(center_depth_m, dtype=np.float64), (n,))
        if not np.isnan(centre).any():  # all centres known: one compiled pass per crop
            z = _gather_normalise(depth_m, boxes, out_w, out_h, centre, half, fill_value)
            infos = [CropInfo(b, (out_w, out_h), float(c), half, float(fill_value))
                     for b, c in zip(boxes, centre)]
            return z[:, None], infos
    z = _gather_crops(depth_m, boxes, out_w, out_h)
    with np.errstate(invalid='ignore'):
        invalid = ~(z > 0)  # NaN compares False: invalid pixels and pixels outside the image

    if center_depth_m is None:
        centre = np.full(n, np.nan)
    else:
        centre = np.broadcast_to(np.asarray(center_depth_m, dtype=np.float64), (n,)).copy()
    for i in np.flatnonzero(np.isnan(centre)):
        centre[i] = _centre_depth(z[i], ~invalid[i])
    z -= centre.astype(np.float32)[:, None, None]
    z *= np.float32(1.0 / half)
    np.clip(z, np.float32(-1.0), np.float32(1.0), out=z)
    np.copyto(z, np.float32(fill_value), where=invalid)
    unknown = np.isnan(centre)
    if unknown.any():
        z[unknown] = fill_value  # no valid pixel to take a centre from: nothing to show
    infos = [CropInfo(b, (out_w, out_h), float(c), half, float(fill_value))
             for b, c in zip(boxes, centre)]
    return z[:, None], infos


def crop_depth(
    depth_m: np.ndarray,
    box_xyxy: np.ndarray,
    out_size: tuple[int, int],
    center_depth_m: float | None = None,
    depth_range_m: float = 2.0,
    fill_value: float = 1.0,
) -> tuple[np.ndarray, CropInfo]:
    """One box of :func:`crop_depth_batch`: returns ``(crop (out_h, out_w) float32, CropInfo)``."""
    box = np.asarray(box_xyxy, dtype=np.float64)
    if box.shape != (4,):
        raise ValueError(f'box_xyxy must have shape (4,), got {box.shape}')
    crops, infos = crop_depth_batch(
        depth_m, box[None], out_size, None if center_depth_m is None else [center_depth_m],
        depth_range_m, fill_value)
    return crops[0, 0], infos[0]
