"""Registered RGB for the synthetic generator: flat colours per material, Lambert-like shading
from the incidence cosine, and a blocky random texture on the background.

Materials (``matbuf`` of :mod:`.render`): 0 floor, 1-5 walls/ceiling, 6 furniture, 7 occluders,
``8 + 8 * person + region`` people (regions of :data:`.body.BodyModel.region_names`: skin,
torso, arm, leg, head (hair), hand_foot). The RGB image is registered to the depth image (same
intrinsics), as a depth camera's aligned colour stream would be.
"""
from __future__ import annotations

import numpy as np

from kinpose_ros.data.synth.scene import MAT_PERSON

_SKIN = np.array([[255, 224, 196], [234, 192, 160], [198, 144, 108], [141, 98, 70],
                  [96, 64, 46]], np.float32)
_HAIR = np.array([[20, 16, 14], [70, 46, 30], [150, 110, 60], [200, 190, 170], [110, 30, 20]],
                 np.float32)


def palette(rng: np.random.Generator, num_people: int) -> np.ndarray:
    """(256, 3) float32 colours per material for one frame."""
    pal = rng.uniform(60, 230, (256, 3)).astype(np.float32)
    pal[0] = rng.uniform(80, 200) * rng.uniform(0.8, 1.2, 3)  # floor: greyish
    for p in range(num_people):
        base = MAT_PERSON + 8 * p
        skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.9, 1.1)
        shirt, trousers = rng.uniform(20, 240, 3), rng.uniform(20, 200, 3)
        long_sleeves = rng.uniform() < 0.5
        pal[base:base + 6] = [skin, shirt, shirt if long_sleeves else skin, trousers,
                              _HAIR[rng.integers(len(_HAIR))], rng.uniform(10, 120, 3)]
    return np.clip(pal, 0, 255)


def render_rgb(matbuf: np.ndarray, cosbuf: np.ndarray, idbuf: np.ndarray, zbuf: np.ndarray,
               rng: np.random.Generator, num_people: int, order: list | None = None,
               noise_rng: np.random.Generator | None = None) -> np.ndarray:
    """(H, W, 3) uint8 image from the material and incidence buffers (black where nothing).

    Args:
        rng: draws the palette, the background texture and (without ``noise_rng``) the noise.
        num_people: people in ``matbuf``.
        order: colour person ``i`` of ``matbuf`` with the palette's person ``order[i]`` (default
            ``i``): a sequence keeps each person's colours while the depth order changes.
        noise_rng: draws the per-pixel noise instead of ``rng``.
    """
    H, W = matbuf.shape
    pal = palette(rng, num_people)
    if order is not None:
        region = np.arange(8)
        pal[MAT_PERSON + 8 * np.arange(num_people)[:, None] + region] = \
            pal[MAT_PERSON + 8 * np.asarray(order, int)[:, None] + region]
    shade = 0.35 + 0.65 * cosbuf
    img = pal[matbuf] * shade[..., None]
    cell = int(rng.integers(4, 17))
    tex = rng.uniform(0.75, 1.25, (H // cell + 1, W // cell + 1)).astype(np.float32)
    tex = np.repeat(np.repeat(tex, cell, 0), cell, 1)[:H, :W]
    background = idbuf < 0
    img[background] *= tex[background][:, None]
    img[~np.isfinite(zbuf)] = 0.0
    img += (rng if noise_rng is None else noise_rng).normal(0.0, 3.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)
