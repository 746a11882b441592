"""Preview montages of synthetic frames: colourised depth with masks, boxes and skeletons drawn,
so that a person can check the generator by eye."""
from __future__ import annotations

from pathlib import Path

import numpy as np

_PERSON_COLOURS = ((255, 80, 80), (80, 200, 255), (120, 255, 120), (255, 200, 60),
                   (220, 120, 255))


def colourise_depth(depth_m: np.ndarray, lo: float = 0.5, hi: float = 7.0) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) uint8: near bright, far dark, invalid black."""
    t = np.clip((hi - np.nan_to_num(depth_m, nan=hi)) / (hi - lo), 0.0, 1.0)
    grey = (40 + 215 * t).astype(np.uint8)
    img = np.stack([grey, grey, grey], -1)
    img[~np.isfinite(depth_m)] = 0
    return img


def draw_frame(frame, skeleton) -> np.ndarray:
    """(H, W, 3) uint8 of one :class:`Frame`: depth, tinted masks, boxes, joints and bones
    (visible joints filled, hidden ones hollow)."""
    from PIL import Image, ImageDraw  # noqa: PLC0415

    img = colourise_depth(frame.depth_m).astype(np.float32)
    for i, p in enumerate(frame.people):
        colour = np.array(_PERSON_COLOURS[i % len(_PERSON_COLOURS)], np.float32)
        img[p.mask] = 0.6 * img[p.mask] + 0.4 * colour
    pil = Image.fromarray(img.astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for i, p in enumerate(frame.people):
        colour = _PERSON_COLOURS[i % len(_PERSON_COLOURS)]
        if p.box_xyxy[2] > p.box_xyxy[0]:
            x0, y0, x1, y1 = (float(b) for b in p.box_xyxy)
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour)
        uv = p.joints_uv
        for a, b in skeleton.bones:
            if np.all(np.isfinite(uv[[a, b]])):
                draw.line([tuple(uv[a]), tuple(uv[b])], fill=(255, 255, 0), width=1)
        for j, (u, v) in enumerate(uv):
            if np.isfinite(u) and np.isfinite(v):
                r = 2
                draw.ellipse([u - r, v - r, u + r, v + r], outline=colour,
                             fill=colour if p.visible[j] else None)
        if p.box_xyxy[2] > p.box_xyxy[0]:
            draw.text((p.box_xyxy[0] + 2, p.box_xyxy[1] + 1),
                      f'{p.template} {p.visible_fraction:.2f}', fill=colour)
    return np.asarray(pil)


def montage(images: list, columns: int = 4, cell: tuple = (320, 240)) -> np.ndarray:
    """Tile images (each resized to fit ``cell`` = (w, h), aspect kept) into one uint8 image."""
    from PIL import Image  # noqa: PLC0415

    rows = (len(images) + columns - 1) // columns
    out = np.zeros((rows * cell[1], columns * cell[0], 3), np.uint8)
    for k, im in enumerate(images):
        pil = Image.fromarray(im)
        pil.thumbnail(cell)
        h, w = pil.size[1], pil.size[0]
        r, c = divmod(k, columns)
        out[r * cell[1]:r * cell[1] + h, c * cell[0]:c * cell[0] + w] = np.asarray(pil)
    return out


def write_preview(generator, path: str | Path, count: int = 16, start: int = 0,
                  columns: int = 4, with_rgb: bool = False) -> Path:
    """Write a PNG montage of frames ``start .. start + count - 1`` of a generator."""
    from PIL import Image  # noqa: PLC0415

    images = []
    for i in range(start, start + count):
        frame = generator.frame(i)
        images.append(draw_frame(frame, generator.skeleton))
        if with_rgb and frame.rgb is not None:
            images.append(frame.rgb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(montage(images, columns)).save(path)
    return path
