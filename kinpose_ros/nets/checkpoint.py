"""Training checkpoints: a network rebuilt from plain data, loadable with ``weights_only=True``.

A checkpoint is a ``.pt`` file holding one dict of plain Python values and tensors only (no
pickled classes, so ``torch.load(path, weights_only=True)`` reads it and never runs code)::

    {
      'format': 'kinpose-checkpoint', 'format_version': 1,
      'family': 'a2j' | 'kinematic' | 'lite' | 'direct_joint',
      'model_config': {...},        # constructor arguments of the network (JSON-able)
      'state_dict': {...},          # tensors
      'skeleton': {...},            # Skeleton.to_dict() (self-contained; no file lookup)
      'card': {...},                # model-card fields known at training time (input size,
                                    # normalisation, crop rule, training data, metrics, name)
      'epoch': int, 'optimizer': {...}   # optional, for --resume (ignored here)
    }

``build_model(family, model_config, skeleton)`` is the one factory shared by training, export and
the PyTorch backend, so a network is never described twice. ``save_checkpoint`` writes the dict,
``load_checkpoint`` reads it back (model in eval mode on the CPU; the caller moves it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinpose_ros.core.skeleton import Skeleton

__all__ = ['CHECKPOINT_FORMAT', 'FAMILIES', 'Checkpoint', 'build_model', 'load_checkpoint',
           'random_model_config', 'save_checkpoint']

CHECKPOINT_FORMAT = 'kinpose-checkpoint'
CHECKPOINT_VERSION = 1
FAMILIES = ('a2j', 'kinematic', 'lite', 'direct_joint')


@dataclass
class Checkpoint:
    """What a checkpoint holds besides the weights (those are in ``model``)."""

    family: str
    model_config: dict
    skeleton: Skeleton
    card: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # epoch, optimizer, ... (training only)


def _input_hw(config: dict) -> tuple[int, int]:
    size = config.get('input_size')
    if size is None or len(size) != 2:
        raise ValueError(f'model_config.input_size: expected [height, width], got {size!r}')
    return int(size[0]), int(size[1])


def build_model(family: str, model_config: dict, skeleton: Skeleton) -> nn.Module:
    """A fresh network of ``family`` from its constructor arguments.

    ``model_config`` always has ``input_size`` [H, W] (the crop the model is trained on) and
    ``in_channels``; the rest are the family's constructor arguments (``nets.a2j.A2J``,
    ``nets.kinematic.KinematicRegressor``, ``nets.lite.LiteNet``). ``skeleton`` fixes the joint
    count (and, for the kinematic families, the kinematic chain).

    Raises:
        ValueError: unknown family, or arguments the constructor rejects (the message names them).
    """
    cfg = dict(model_config)
    hw = _input_hw(cfg)
    cfg.pop('input_size')
    try:
        if family == 'a2j':
            from kinpose_ros.nets.a2j import A2J  # noqa: PLC0415

            return A2J(skeleton.num_joints, hw, **cfg)
        if family == 'lite':
            from kinpose_ros.nets.lite import LiteNet  # noqa: PLC0415

            if 'conv_channels' in cfg:
                cfg['conv_channels'] = tuple(cfg['conv_channels'])
            return LiteNet(skeleton.num_joints, hw, **cfg)
        if family in ('kinematic', 'direct_joint'):
            from kinpose_ros.nets.kinematic import KinematicRegressor  # noqa: PLC0415

            if cfg.get('trunk', None) == 'a2j':  # the A2J + kinematic head hybrid
                from kinpose_ros.nets.hybrid import A2JKinematic  # noqa: PLC0415

                cfg.pop('trunk')
                if family != 'kinematic':
                    raise ValueError(f"model_config trunk 'a2j' needs family kinematic, got "
                                     f'{family!r}')
                if cfg.get('scale_range') is not None:
                    cfg['scale_range'] = tuple(cfg['scale_range'])
                return A2JKinematic(skeleton, hw, **cfg)
            mode = cfg.pop('mode', 'kinematic' if family == 'kinematic' else 'direct_joint')
            if (family == 'direct_joint') != (mode == 'direct_joint'):
                raise ValueError(f'model_config.mode {mode!r} does not fit family {family!r}')
            if cfg.get('scale_range') is not None:
                cfg['scale_range'] = tuple(cfg['scale_range'])
            return KinematicRegressor(skeleton, mode=mode, **cfg)
    except TypeError as exc:  # unknown/missing constructor argument
        raise ValueError(f'model_config for family {family!r}: {exc}') from exc
    raise ValueError(f'family: expected one of {FAMILIES}, got {family!r}')


def random_model_config(family: str, input_size: tuple[int, int] = (160, 160),
                        width: float = 0.5, head_width: int = 128, head_depth: int = 4,
                        backbone: str = 'resnet18') -> dict:
    """Constructor arguments of a default-sized network of ``family`` (for random-weight models).

    A2J: ResNet-18 at ``width``, heads of ``head_width`` x ``head_depth``; lite: the DNN33 layers
    (``input_size`` defaults to the paper's 50x60 when left at 160x160); kinematic and
    direct_joint: ResNet-18 at ``width`` with a hidden layer of ``2 * head_width``.
    """
    size = [int(input_size[0]), int(input_size[1])]
    if family == 'a2j':
        return {'input_size': size, 'in_channels': 1, 'backbone': backbone, 'width': width,
                'head_width': head_width, 'head_depth': head_depth}
    if family == 'lite':
        if tuple(size) == (160, 160):
            size = [50, 60]
        return {'input_size': size, 'in_channels': 1, 'conv_channels': [20, 33], 'hidden': 500}
    if family in ('kinematic', 'direct_joint'):
        return {'input_size': size, 'in_channels': 1, 'backbone': backbone, 'width': width,
                'hidden': 2 * head_width}
    raise ValueError(f'family: expected one of {FAMILIES}, got {family!r}')


def save_checkpoint(path: str | Path, model: nn.Module, family: str, model_config: dict,
                    skeleton: Skeleton, card: dict | None = None, **extra: Any) -> Path:
    """Write a checkpoint (see the module docstring); returns the path.

    ``card``: model-card fields known at training time, e.g. ``{'name': ..., 'input':
    {'normalisation': {...}}, 'crop': {...}, 'training': {...}, 'metrics': {...}}``.
    ``extra``: plain values or tensors (``epoch``, ``optimizer`` state, ...).
    """
    if family not in FAMILIES:
        raise ValueError(f'family: expected one of {FAMILIES}, got {family!r}')
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    data = {'format': CHECKPOINT_FORMAT, 'format_version': CHECKPOINT_VERSION, 'family': family,
            'model_config': dict(model_config), 'state_dict': state,
            'skeleton': skeleton.to_dict(), 'card': dict(card or {}), **extra}
    torch.save(data, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[nn.Module, Checkpoint]:
    """Read a checkpoint with ``weights_only=True``; returns (model in eval mode on CPU, info).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kinpose checkpoint, a newer format, or weights that do not fit the
            configuration (the message names the file and the first mismatching keys).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise ValueError(f'checkpoint {path}: cannot be read with torch.load(weights_only=True)'
                         f' ({type(exc).__name__}: {exc}); was it written by save_checkpoint?'
                         ) from exc
    if not isinstance(data, dict) or data.get('format') != CHECKPOINT_FORMAT:
        raise ValueError(f'checkpoint {path}: expected a dict with format '
                         f'{CHECKPOINT_FORMAT!r}, got {type(data).__name__} with format '
                         f'{data.get("format") if isinstance(data, dict) else None!r}')
    version = int(data.get('format_version', 0))
    if version > CHECKPOINT_VERSION:
        raise ValueError(f'checkpoint {path}: format_version {version} is newer than this '
                         f'kinpose_ros reads ({CHECKPOINT_VERSION}); update kinpose_ros')
    for key in ('family', 'model_config', 'state_dict', 'skeleton'):
        if key not in data:
            raise ValueError(f'checkpoint {path}: missing key {key!r}')
    skeleton = Skeleton.from_dict(data['skeleton'], source=f'{path}:skeleton')
    model = build_model(data['family'], data['model_config'], skeleton)
    result = model.load_state_dict(data['state_dict'], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f'checkpoint {path}: weights do not fit model_config '
                         f'(missing {result.missing_keys[:5]}, unexpected '
                         f'{result.unexpected_keys[:5]})')
    model.eval()
    known = {'format', 'format_version', 'family', 'model_config', 'state_dict', 'skeleton',
             'card'}
    extra = {k: v for k, v in data.items() if k not in known}
    return model, Checkpoint(data['family'], dict(data['model_config']), skeleton,
                             dict(data.get('card') or {}), extra)
