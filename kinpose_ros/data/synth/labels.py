"""Per-person labels of a rendered frame: visibility, mask, box, visible fraction.

Conventions: joints in the camera optical frame (metres), pixels as in
:mod:`kinpose_ros.core.camera`, boxes ``[x0, y0, x1, y1]`` in pixel *edge* coordinates as in
:mod:`kinpose_ros.core.depth` (a mask spanning columns ``xmin..xmax`` gives ``x0 = xmin``,
``x1 = xmax + 1``).
"""
from __future__ import annotations

import numba
import numpy as np

# half thickness of the body around each body15 keypoint (metres at scale 1): a joint is
# visible when the surface seen at its pixel is no nearer than the joint minus this
JOINT_RADIUS_M = {
    'head': 0.12, 'neck': 0.10, 'l_shoulder': 0.10, 'r_shoulder': 0.10, 'l_elbow': 0.07,
    'r_elbow': 0.07, 'l_hand': 0.07, 'r_hand': 0.07, 'torso': 0.17, 'l_hip': 0.15,
    'r_hip': 0.15, 'l_knee': 0.09, 'r_knee': 0.09, 'l_foot': 0.09, 'r_foot': 0.09,
}
DEFAULT_RADIUS_M = 0.10


def joint_radii(joint_names: list) -> np.ndarray:
    """(J,) body half-thickness per joint (metres at scale 1)."""
    return np.array([JOINT_RADIUS_M.get(n, DEFAULT_RADIUS_M) for n in joint_names])


@numba.njit(cache=True)
def joint_visibility(zbuf: np.ndarray, idbuf: np.ndarray, uv: np.ndarray, z: np.ndarray,
                     person: int, radius: np.ndarray) -> np.ndarray:
    """(J,) bool: the joint projects into the image and, in the 3x3 pixels around it, some pixel
    shows this person's surface no nearer than ``z - radius`` (so not hidden by another object
    nor by the person's own limbs).

    Args:
        zbuf: (H, W) ideal depth; idbuf: (H, W) object ids; uv: (J, 2) pixels; z: (J,) joint
        depths; person: this person's id; radius: (J,) metres.
    """
    H, W = zbuf.shape
    J = uv.shape[0]
    out = np.zeros(J, np.bool_)
    for j in range(J):
        u, v = uv[j, 0], uv[j, 1]
        if not (z[j] > 0.0 and -0.5 <= u < W - 0.5 and -0.5 <= v < H - 0.5):
            continue
        c0, r0 = int(np.floor(u + 0.5)), int(np.floor(v + 0.5))
        for r in range(max(r0 - 1, 0), min(r0 + 2, H)):
            for c in range(max(c0 - 1, 0), min(c0 + 2, W)):
                if idbuf[r, c] == person and zbuf[r, c] >= z[j] - radius[j]:
                    out[j] = True
    return out


@numba.njit(cache=True)
def person_mask(idbuf: np.ndarray, person: int) -> tuple:
    """``(mask (H, W) bool, pixel count, box (4,) float32)`` of one id in one pass; the box is
    the edge box of :func:`mask_box` (zeros when empty)."""
    H, W = idbuf.shape
    mask = np.zeros((H, W), np.bool_)
    count, x0, y0, x1, y1 = 0, W, H, -1, -1
    for r in range(H):
        for c in range(W):
            if idbuf[r, c] == person:
                mask[r, c] = True
                count += 1
                x0, x1 = min(x0, c), max(x1, c)
                y0, y1 = min(y0, r), max(y1, r)
    box = np.zeros(4, np.float32)
    if count:
        box[0], box[1], box[2], box[3] = x0, y0, x1 + 1, y1 + 1
    return mask, count, box


def mask_box(mask: np.ndarray) -> np.ndarray:
    """(4,) float32 ``[x0, y0, x1, y1]`` edge box of a boolean mask; zeros when empty."""
    rows = np.flatnonzero(mask.any(1))
    if rows.size == 0:
        return np.zeros(4, np.float32)
    cols = np.flatnonzero(mask[rows[0]:rows[-1] + 1].any(0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)
