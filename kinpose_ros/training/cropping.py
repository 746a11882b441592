"""Person crops for training: the runtime's crop rule plus the papers' geometric augmentation.

A crop here is ``CropGeometry``: a square-pixel window of the image with centre ``centre`` (pixel
edge coordinates, see ``core.depth``), ``scale`` crop pixels per image pixel and an in-plane
rotation ``rotation`` (radians; positive turns the image content clockwise on screen, i.e. a crop
offset ``d`` maps to the image offset ``R(rotation) d / scale`` with ``R`` the usual 2x2 rotation
in (u, v) = (right, down) coordinates). Without augmentation (``rotation = 0``, box as the rule
gives it) ``sample`` returns exactly the pixels ``core.depth.crop_depth_batch`` picks, so
training sees what the estimator sees.

The crop rule (``crop_box``) follows the model card (``inference.model_card.CropRule``):
'proposal_box' grows the person box by ``box_margin`` of its size on every side; 'metric_cube'
takes ``cube_size_m`` metres at the centroid's depth around the centroid's projection.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinpose_ros.core.camera import Intrinsics
from kinpose_ros.core.depth import _centre_depth, fit_box_aspect
from kinpose_ros.training.config import NormalisationConfig
from kinpose_ros.training.records import Proposal

__all__ = ['CropGeometry', 'crop_box', 'normalise_crop']


def crop_box(proposal: Proposal, norm: NormalisationConfig,
             intrinsics: Intrinsics) -> np.ndarray:
    """(4,) crop box in pixel edge coordinates (before fitting the input aspect ratio).

    Raises:
        ValueError: 'metric_cube' with a centroid not in front of the camera.
    """
    if norm.crop == 'proposal_box':
        x0, y0, x1, y1 = np.asarray(proposal.box_xyxy, dtype=np.float64)
        mx, my = norm.box_margin * (x1 - x0), norm.box_margin * (y1 - y0)
        return np.array([x0 - mx, y0 - my, x1 + mx, y1 + my])
    c = np.asarray(proposal.centroid_xyz, dtype=np.float64)
    if not (np.isfinite(c).all() and c[2] > 0):
        raise ValueError(f'proposal.centroid_xyz: expected a finite point with z > 0 for the '
                         f'metric_cube crop, got {c.tolist()}')
    u, v = intrinsics.project(c) + 0.5  # pixel centre -> edge coordinates
    hw = 0.5 * norm.cube_size_m * intrinsics.fx / c[2]
    hh = 0.5 * norm.cube_size_m * intrinsics.fy / c[2]
    return np.array([u - hw, v - hh, u + hw, v + hh])


@dataclass(frozen=True)
class CropGeometry:
    """A (possibly rotated) crop window; see the module docstring for the conventions."""

    box_xyxy: tuple  # the unrotated box after the aspect fit, pixel edge coordinates
    out_size: tuple  # (out_w, out_h)
    rotation: float = 0.0

    @classmethod
    def from_box(cls, box_xyxy: np.ndarray, out_size: tuple[int, int], zoom: float = 1.0,
                 rotation: float = 0.0) -> CropGeometry:
        """Fit ``box_xyxy`` to the aspect of ``out_size``, then zoom (> 1 magnifies) about its
        centre and rotate by ``rotation`` radians."""
        box = fit_box_aspect(np.asarray(box_xyxy, dtype=np.float64), out_size)
        if zoom != 1.0:
            c = 0.5 * (box[:2] + box[2:])
            half = 0.5 * (box[2:] - box[:2]) / zoom
            box = np.concatenate([c - half, c + half])
        return cls(tuple(float(b) for b in box), (int(out_size[0]), int(out_size[1])),
                   float(rotation))

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel (equal along u and v after the aspect fit)."""
        return self.out_size[0] / (self.box_xyxy[2] - self.box_xyxy[0])

    @property
    def centre(self) -> np.ndarray:
        """(2,) crop centre in image pixel edge coordinates."""
        x0, y0, x1, y1 = self.box_xyxy
        return np.array([(x0 + x1) / 2, (y0 + y1) / 2])

    def _rot(self, sign: float) -> np.ndarray:
        c, s = math.cos(self.rotation), math.sin(sign * self.rotation)
        return np.array([[c, -s], [s, c]])

    def image_to_crop(self, uv_image: np.ndarray) -> np.ndarray:
        """(..., 2) image pixel (centre) coordinates -> (..., 2) crop pixel coordinates."""
        d = np.asarray(uv_image, dtype=np.float64) + 0.5 - self.centre
        if self.rotation:
            d = d @ self._rot(-1.0).T
        half = 0.5 * np.array(self.out_size, dtype=np.float64)
        return d * self.scale + half - 0.5

    def offsets_to_crop(self, xy: np.ndarray) -> np.ndarray:
        """Rotate (..., 2) lateral offsets (camera x, y, or image u, v) into crop axes."""
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ self._rot(-1.0).T if self.rotation else xy

    def source_pixels(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer (row, col) source indices (out_h, out_w) of the nearest pixel under every
        crop pixel centre; -1 where it falls outside an image of (height, width)."""
        out_w, out_h = self.out_size
        x0, y0, x1, y1 = self.box_xyxy
        # the same arithmetic as core.depth's sampler, so unrotated crops match it bit for bit
        px = (np.arange(out_w) + 0.5) * ((x1 - x0) / out_w) + x0
        py = (np.arange(out_h) + 0.5) * ((y1 - y0) / out_h) + y0
        if self.rotation:
            gx, gy = np.meshgrid(px, py)
            c = self.centre
            r = self._rot(1.0)
            dx, dy = gx - c[0], gy - c[1]
            gx, gy = c[0] + r[0, 0] * dx + r[0, 1] * dy, c[1] + r[1, 0] * dx + r[1, 1] * dy
        else:
            gx, gy = np.broadcast_to(px, (out_h, out_w)), np.broadcast_to(py[:, None],
                                                                          (out_h, out_w))
        cols, rows = np.floor(gx).astype(np.intp), np.floor(gy).astype(np.intp)
        outside = (cols < 0) | (cols >= width) | (rows < 0) | (rows >= height)
        return np.where(outside, -1, rows), np.where(outside, -1, cols)

    def sample(self, depth_m: np.ndarray) -> np.ndarray:
        """(out_h, out_w) float32 metres by nearest neighbour; NaN outside the image."""
        rows, cols = self.source_pixels(*depth_m.shape)
        out = depth_m[np.maximum(rows, 0), np.maximum(cols, 0)].astype(np.float32)
        out[rows < 0] = np.nan
        return out

    def centre_point(self, depth_m: float, intrinsics: Intrinsics) -> np.ndarray:
        """(3,) the crop centre pixel unprojected at ``depth_m`` (the card's crop centre)."""
        return intrinsics.unproject(self.centre - 0.5, depth_m)


def normalise_crop(z_m: np.ndarray, norm: NormalisationConfig,
                   centroid_z: float | None = None) -> tuple[np.ndarray, float]:
    """Metres (h, w) (NaN invalid) -> (normalised float32 (h, w), centre depth in metres).

    The centre follows ``norm.center`` ('crop_median' as ``core.depth``; 'proposal_centroid'
    uses ``centroid_z``). A crop with no valid pixel is all ``fill_value`` and its centre NaN.
    """
    with np.errstate(invalid='ignore'):
        valid = z_m > 0
    if norm.center == 'proposal_centroid':
        if centroid_z is None:
            raise ValueError("centroid_z: needed for normalisation.center 'proposal_centroid'")
        centre = float(centroid_z)
    else:
        centre = _centre_depth(z_m, valid)
    if not math.isfinite(centre):
        return np.full(z_m.shape, norm.fill_value, np.float32), float('nan')
    out = np.clip((z_m - np.float32(centre)) * np.float32(1.0 / norm.half_range_m), -1.0, 1.0)
    out = np.where(valid, out, np.float32(norm.fill_value)).astype(np.float32)
    return out, centre
