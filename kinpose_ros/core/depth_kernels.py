"""Compiled (numba) kernel of ``core.depth.crop_depth_batch``: gather and normalise in one pass.

Equal, element for element, to the numpy path of ``crop_depth_batch`` (nearest-neighbour
``take`` of rows then columns, ``z - centre`` then ``x (1 / half range)`` in float32, clip to
[-1, 1], invalid pixels = ``fill``), at about a fifth of its time for 128x128 crops, because the
crop is touched once instead of by six whole-array passes.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ['gather_normalise']


@nb.njit(cache=True, nogil=True)
def gather_normalise(src: np.ndarray, iy: np.ndarray, ix: np.ndarray, out_y: np.ndarray,
                     out_x: np.ndarray, centre: np.float32, scale: np.float32,
                     fill: np.float32, out: np.ndarray) -> None:
    """Fill ``out`` (h, w) float32 with the normalised crop of ``src`` (H, W) float32 metres.

    Args:
        src: depth image, NaN or <= 0 = invalid.
        iy, ix: (h,), (w,) source row / column of each output row / column (clipped).
        out_y, out_x: (h,), (w,) bool, True where the output row / column lies outside the
            image (then the pixel is invalid).
        centre: depth mapped to 0 (float32 metres); scale: float32 (1 / half range).
        fill: value of invalid pixels.
    """
    for r in range(out.shape[0]):
        if out_y[r]:
            out[r, :] = fill
            continue
        row = iy[r]
        for c in range(out.shape[1]):
            v = src[row, ix[c]]
            if out_x[c] or not v > 0:
                out[r, c] = fill
            else:
                x = (v - centre) * scale
                out[r, c] = min(max(x, np.float32(-1.0)), np.float32(1.0))
