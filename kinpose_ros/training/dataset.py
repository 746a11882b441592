"""Training samples: one augmented person crop with its targets, a pure function of
(seed, epoch, index).

Pipeline per sample (the estimator's crop path plus the papers' augmentation):
  frame -> one person -> proposal (box + centroid, ``records.person_proposal``) -> crop box by
  the card's rule (``cropping.crop_box``) -> box jitter -> aspect fit, zoom, in-plane rotation
  (``CropGeometry``) -> nearest-neighbour sample in metres -> depth noise -> [metric crops: the
  zoom also scales depth offsets about the crop centre, i.e. a true 3-D scaling of the person]
  -> normalisation (centre, half range, clip, fill) -> random erasing with noise.

Targets (float32): ``uv`` (J, 2) crop pixels; ``z`` (J,) (z_m - centre) / z_unit_m; ``joints``
(J, 3) metres along the camera axes relative to the crop centre point, x and y turned into the
crop's axes (``families`` says which family uses which).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from kinpose_ros.training.config import TrainConfig
from kinpose_ros.training.cropping import CropGeometry, crop_box, normalise_crop
from kinpose_ros.training.records import FrameRecord, person_proposal

__all__ = ['PersonCropDataset', 'make_sample']

_RETRIES = 8


def _augmentation(cfg: TrainConfig, rng: np.random.Generator,
                  box: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(jittered box, zoom, rotation rad) drawn from ``cfg.augment``."""
    a = cfg.augment
    if not a.enabled:
        return box, 1.0, 0.0
    size = np.tile(box[2:] - box[:2], 2)
    box = box + rng.uniform(-a.box_jitter, a.box_jitter, 4) * size
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        box = box.copy()
        box[2:] = np.maximum(box[2:], box[:2] + 2)
    zoom = float(rng.uniform(*a.scale))
    rotation = math.radians(float(rng.uniform(-a.rotation_deg, a.rotation_deg)))
    return box, zoom, rotation


def _erase(crop: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> None:
    """Random erasing with uniform noise in [-1, 1] (in place)."""
    a = cfg.augment
    if not a.enabled or rng.uniform() >= a.erase_prob:
        return
    h, w = crop.shape
    area = rng.uniform(0.02, max(0.02, a.erase_max_area)) * h * w
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    eh = int(min(h, round(math.sqrt(area * aspect))))
    ew = int(min(w, round(math.sqrt(area / aspect))))
    if eh < 1 or ew < 1:
        return
    r, c = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
    crop[r:r + eh, c:c + ew] = rng.uniform(-1, 1, (eh, ew)).astype(np.float32)


def make_sample(frame: FrameRecord, cfg: TrainConfig, rng: np.random.Generator,
                person_index: int | None = None) -> dict[str, np.ndarray] | None:
    """One training sample from ``frame`` (a random person unless ``person_index``).

    Returns:
        dict with ``input`` (C, H, W) float32 (depth, then ``normalisation.planes``) and the
        targets of the module docstring, or None when the chosen person gives no usable crop
        (no valid depth in it).
    """
    if not frame.people:
        return None
    k, norm = frame.intrinsics, cfg.normalisation
    i = int(rng.integers(len(frame.people))) if person_index is None else person_index
    person = frame.people[i]
    proposal = person_proposal(frame, person)
    box, zoom, rotation = _augmentation(cfg, rng, crop_box(proposal, norm, k))
    h, w = cfg.model.input_size
    geom = CropGeometry.from_box(box, (w, h), zoom, rotation)
    z_m = geom.sample(frame.depth_m)
    if cfg.augment.enabled and cfg.augment.depth_noise_m > 0:
        z_m = z_m + rng.normal(0.0, cfg.augment.depth_noise_m, z_m.shape).astype(np.float32)
    metric = norm.crop == 'metric_cube' and zoom != 1.0
    centroid_z = float(proposal.centroid_xyz[2])
    if cfg.augment.enabled and cfg.augment.center_jitter_m > 0:
        centroid_z += float(rng.normal(0.0, cfg.augment.center_jitter_m))
    crop, centre = normalise_crop(z_m, norm, centroid_z)
    if not math.isfinite(centre):
        return None
    if metric:  # scale the person about the crop centre point: depth offsets grow with the zoom
        crop, _ = normalise_crop(centre + (z_m - centre) * np.float32(zoom), norm, centre)
    _erase(crop, cfg, rng)
    if norm.planes:  # constant planes: the crop centre point's ray (crop axes) and depth
        from kinpose_ros.inference.crop_geometry import geometry_planes

        x0, y0, x1, y1 = geom.box_xyxy
        scale = np.array([[(x1 - x0) / w / k.fx, (y1 - y0) / h / k.fy]])
        values = geometry_planes(geom.centre_point(centre, k)[None], list(norm.planes),
                                 geom.rotation, scale)[0]
        crop = np.concatenate([crop[None], np.broadcast_to(
            values[:, None, None].astype(np.float32), (len(values),) + crop.shape)])
    else:
        crop = crop[None]
    joints = person.joints_xyz
    uv = geom.image_to_crop(k.project(joints))
    z = (joints[:, 2] - centre) / norm.z_unit_m
    rel = joints - geom.centre_point(centre, k)
    rel[:, :2] = geom.offsets_to_crop(rel[:, :2])
    if metric:
        rel *= zoom
    if not (np.isfinite(uv).all() and np.isfinite(rel).all()):
        return None
    return {'input': np.ascontiguousarray(crop), 'uv': uv.astype(np.float32),
            'z': z.astype(np.float32),
            'joints': rel.astype(np.float32)}


class PersonCropDataset(torch.utils.data.Dataset):
    """``samples`` crops per epoch from a frame source; call ``set_epoch`` before each epoch.

    Sample ``i`` of epoch ``e`` reads frame ``e * samples + i`` when ``cfg.data.fresh`` (new
    synthetic frames every epoch), else frame ``i``; its augmentation draws from
    ``default_rng([cfg.seed, e, i])``. A frame without a usable crop is replaced by the next
    frames (``+ samples``), deterministically.
    """

    def __init__(self, source, cfg: TrainConfig, samples: int | None = None,
                 fresh: bool | None = None) -> None:
        self.source, self.cfg = source, cfg
        self.samples = int(samples if samples is not None else
                           (cfg.data.samples if cfg.data.samples is not None else len(source)))
        self.fresh = cfg.data.fresh if fresh is None else fresh
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, self.epoch, int(index)])
        base = self.epoch * self.samples + index if self.fresh else index
        for attempt in range(_RETRIES):
            frame_index = (base + attempt * self.samples) % max(1, len(self.source))
            sample = make_sample(self.source.frame(frame_index), self.cfg, rng)
            if sample is not None:
                return {k: torch.from_numpy(v) for k, v in sample.items()}
        raise RuntimeError(f'training data: {_RETRIES} frames from index {base} gave no usable '
                           f'person crop; check the data source {self.cfg.data.source!r}')
