"""Skeletons drawn on images (the node's overlay topic, the demo's PNG). numpy only, no ROS.

Pixel conventions of :mod:`kinpose_ros.core.camera` (pixel ``[r, c]`` centred at ``(u, v) =
(c, r)``). Images are (H, W, 3) uint8 RGB.
"""
from __future__ import annotations

import colorsys

import numpy as np

from kinpose_ros.core.camera import Intrinsics, project

_GOLDEN = 0.618033988749895
# (position, r, g, b) stops of a perceptually ordered near-to-far palette (near = warm)
_STOPS = np.array([[0.00, 0.98, 0.90, 0.15], [0.25, 0.95, 0.45, 0.10],
                   [0.50, 0.80, 0.15, 0.35], [0.75, 0.35, 0.15, 0.65],
                   [1.00, 0.10, 0.10, 0.35]])


def person_rgb(person_id: int) -> tuple[int, int, int]:
    """The same per-id hue as the RViz markers, as 8-bit RGB."""
    r, g, b = colorsys.hsv_to_rgb((person_id * _GOLDEN) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def colourise_depth(depth_m: np.ndarray, near_m: float | None = None,
                    far_m: float | None = None) -> np.ndarray:
    """(H, W) metres (NaN invalid) -> (H, W, 3) uint8; invalid pixels black.

    ``near_m``/``far_m`` default to the 2nd/98th percentiles of the valid depth.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros((*depth.shape, 3), np.uint8)
    if not valid.any():
        return out
    lo = float(np.percentile(depth[valid], 2)) if near_m is None else near_m
    hi = float(np.percentile(depth[valid], 98)) if far_m is None else far_m
    t = np.clip((depth[valid] - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    rgb = np.stack([np.interp(t, _STOPS[:, 0], _STOPS[:, k]) for k in (1, 2, 3)], -1)
    out[valid] = (rgb * 255).astype(np.uint8)
    return out


def _disk(img: np.ndarray, u: float, v: float, radius: float, colour) -> None:
    h, w = img.shape[:2]
    r0, r1 = max(0, int(v - radius)), min(h, int(v + radius) + 1)
    c0, c1 = max(0, int(u - radius)), min(w, int(u + radius) + 1)
    if r0 >= r1 or c0 >= c1:
        return
    rr, cc = np.mgrid[r0:r1, c0:c1]
    mask = (rr - v) ** 2 + (cc - u) ** 2 <= radius ** 2
    img[rr[mask], cc[mask]] = colour


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, width: float, colour) -> None:
    n = int(np.ceil(np.linalg.norm(b - a))) + 1
    if n > 4 * max(img.shape):  # far off-image: skip rather than rasterise kilometres
        return
    for t in np.linspace(0.0, 1.0, n):
        p = a + t * (b - a)
        _disk(img, p[0], p[1], width / 2, colour)


def draw_skeleton(img: np.ndarray, joints_xyz: np.ndarray, bones: list,
                  intrinsics: Intrinsics, colour=(255, 255, 255),
                  confidence: np.ndarray | None = None, radius_px: float = 3.0) -> np.ndarray:
    """Draw one skeleton (joints (J, 3) optical frame, metres) on ``img`` in place; returns it.

    Joints behind the camera or not finite are skipped; joints with confidence below 0.2 are
    drawn as small dots.
    """
    xyz = np.asarray(joints_xyz, dtype=np.float64).reshape(-1, 3)
    ok = np.isfinite(xyz).all(axis=1) & (xyz[:, 2] > 1e-3)
    uv = np.full((len(xyz), 2), np.nan)
    if ok.any():
        uv[ok] = project(xyz[ok], intrinsics)
    conf = np.ones(len(xyz)) if confidence is None else np.nan_to_num(
        np.asarray(confidence, dtype=np.float64))
    for a, b in bones:
        if ok[a] and ok[b]:
            _line(img, uv[a], uv[b], max(1.0, radius_px * 0.6), colour)
    for j in np.nonzero(ok)[0]:
        _disk(img, uv[j, 0], uv[j, 1], radius_px if conf[j] >= 0.2 else radius_px / 2, colour)
    return img


def draw_people(background: np.ndarray, people: list, bones: list,
                intrinsics: Intrinsics) -> np.ndarray:
    """A copy of ``background`` (H, W, 3) with every PoseResult in ``people`` drawn."""
    img = np.array(background, dtype=np.uint8, copy=True)
    radius = max(2.0, img.shape[1] / 160)
    for p in people:
        draw_skeleton(img, p.joints_xyz, bones, intrinsics, person_rgb(int(p.person_id)),
                      p.confidence, radius)
    return img
