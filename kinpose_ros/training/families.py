"""Per network family: constructor arguments, training loss and model-card fields.

Targets (all made by ``training.dataset``; every family uses a subset):
  * ``uv`` (B, J, 2) crop pixels and ``z`` (B, J) = (z_m - centre) / z_unit_m (A2J, lite): the
    card's ``uvz_crop`` decode with the z output scale half_range_m / z_unit_m.
  * ``joints`` (B, J, 3) metres along the camera optical axes relative to the crop centre point
    (the crop centre pixel unprojected at the centre depth) (kinematic, direct_joint): the card's
    ``xyz_crop_centre`` decode (unit ``m_crop_centre``).
"""
from __future__ import annotations

import torch
from torch import nn

from kinpose_ros.training.config import TrainConfig

__all__ = ['card_fields', 'family_loss', 'model_config']


def model_config(cfg: TrainConfig) -> dict:
    """Constructor arguments for ``nets.checkpoint.build_model`` (plain values)."""
    h, w = cfg.model.input_size
    out = {'input_size': [int(h), int(w)], 'in_channels': int(cfg.model.in_channels)}
    out.update(cfg.model.args)
    return out


def card_fields(cfg: TrainConfig, training: dict | None = None,
                metrics: dict | None = None) -> dict:
    """Model-card fields known at training time (``inference.model_export.build_card``)."""
    n = cfg.normalisation
    return {
        'name': cfg.name,
        'input': {'normalisation': {'center': n.center, 'half_range_m': n.half_range_m,
                                    'fill_value': n.fill_value},
                  'planes': list(n.planes or [])},
        'crop': {'box': n.crop, 'margin': n.box_margin, 'cube_size_m': n.cube_size_m},
        'output_scales': {'z': n.half_range_m / n.z_unit_m},
        'training': dict(training or {}),
        'metrics': dict(metrics or {}),
    }


def family_loss(family: str, model: nn.Module, outputs: dict,
                batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The scalar training loss of ``family`` for one batch (``model`` unwrapped from DDP)."""
    if family == 'a2j':
        from kinpose_ros.nets.a2j import a2j_loss

        return a2j_loss(outputs, batch['uv'], batch['z'])['loss']
    if family == 'lite':
        from kinpose_ros.nets.lite import lite_loss

        return lite_loss(outputs, batch['uv'], batch['z'], model.input_size)
    if family in ('kinematic', 'direct_joint'):
        return model.loss(outputs, target_joints=batch['joints'])
    raise ValueError(f'family: expected a2j, lite, kinematic or direct_joint, got {family!r}')
