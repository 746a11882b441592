"""Kinematic-regression net (Zhou et al. 2016, "Deep Kinematic Pose Regression") and baselines.

A backbone (``nets.backbones``) and global average pooling (or, with ``spatial=k``, a k x k grid
of reduced features) feed an MLP head. Modes:
  * 'kinematic': the head predicts the motion parameters Theta and the parameter-free forward
    kinematics layer (``core.kinematics.ForwardKinematics``) maps them to joints; trained with the
    joint loss of the paper's Eq. 3, 0.5 * ||F(Theta) - Y||^2. Any output is a valid skeleton:
    bone lengths are the skeleton's and joint angles lie within their limits.
  * 'direct_parameter': the same head and FK, trained with a loss on Theta itself (baseline).
  * 'direct_joint': the head regresses J * 3 joint coordinates directly (baseline); no angles.

Parameterisation of Theta (what the head's linear outputs mean):
  * root translation: one value per translation axis of the skeleton (others 0), skeleton units;
  * root rotation: free root -> the continuous 6-D form (Zhou et al. 2019, first two matrix
    columns, Gram-Schmidt); a root rotating about fixed axes (toy chains) -> one (cos, sin)
    pair per axis, normalised (its continuous 2-D analogue); 'none' -> identity;
  * joint angles: lower + (upper - lower) * sigmoid(logit) per DoF (radians), so always within
    the skeleton's limits;
  * optional per-sample global scale in ``scale_range`` (same sigmoid bound), for subjects whose
    size differs from the skeleton's.
Joints and the root translation are in the frame and units of the training targets (the skeleton
is defined in metres for bodies); the head's bias starts at the rest pose (rotation
``ROOT_INITS[root_init]``, zero translation, angles 0 clipped into their limits, scale
mid-range).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from kinpose_ros.core.kinematics import ForwardKinematics, split_params
from kinpose_ros.core.rotations import rotation_6d_to_matrix
from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.nets.backbones import build_backbone

__all__ = ['MODES', 'ROOT_INITS', 'KinematicRegressor', 'MotionParams', 'joint_loss',
           'parameter_loss']

MODES = ('kinematic', 'direct_joint', 'direct_parameter')

#: Root rotation (target frame <- skeleton root) the head's bias starts from, for a free root.
#: 'facing_camera': a REP-103 body (x forward, y left, z up) standing upright and facing a camera
#: whose targets are in the optical frame (x right, y down, z forward) - the usual depth-camera
#: view, so training starts from people instead of bodies lying along the optical axis.
ROOT_INITS = {
    'identity': np.eye(3),
    'facing_camera': np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]),
}


def _skew(axis: np.ndarray) -> np.ndarray:
    x, y, z = axis
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


class MotionParams:
    """The motion-parameter half of a kinematic net (mixin for ``nn.Module`` subclasses): the
    head's output layout, its rest-pose initialisation, the bounded parameterisation and the
    forward-kinematics layer. The subclass sets ``skeleton``, ``mode``, ``scale_range`` and
    ``root_init``, builds its head, then calls ``_setup_motion()`` and
    ``_init_rest_pose(last_linear_layer)``; ``decode_params(raw)`` gives the forward dict."""

    def _setup_motion(self) -> None:
        self.fk = ForwardKinematics(self.skeleton)
        f32 = torch.float32
        sel = torch.zeros(len(self.skeleton.root_translation_axes), 3, dtype=f32)
        for k, a in enumerate(self.skeleton.root_translation_axes):
            sel[k, a] = 1.0
        self.register_buffer('translation_select', sel, persistent=False)
        self.register_buffer('dof_lower', torch.as_tensor(self.skeleton.dof_lower, dtype=f32),
                             persistent=False)
        dof_range = self.skeleton.dof_upper - self.skeleton.dof_lower
        self.register_buffer('dof_range', torch.as_tensor(dof_range, dtype=f32),
                             persistent=False)
        axes = () if isinstance(self.skeleton.root_rotation, str) else self.fk.tables.root_axes
        self.register_buffer('root_axis_K', torch.as_tensor(
            np.array([_skew(a) for a in axes]).reshape(-1, 3, 3), dtype=f32), persistent=False)
        self.output_names = ('joints', 'root_translation', 'root_rotation', 'joint_angles')
        if self.scale_range is not None:
            self.output_names += ('scale',)

    def _output_layout(self) -> list[tuple[str, int]]:
        """(name, size) slices of the head's output vector, in order."""
        sk = self.skeleton
        if self.mode == 'direct_joint':
            return [('joints', sk.num_joints * 3)]
        rot = {'free': 6, 'none': 0}.get(sk.root_rotation, 2 * sk.root_rotation_size)
        layout = [('translation', len(sk.root_translation_axes)), ('rotation', rot),
                  ('angles', sk.num_dofs)]
        return layout + ([('scale', 1)] if self.scale_range is not None else [])

    def _init_rest_pose(self, last: nn.Linear) -> None:
        nn.init.normal_(last.weight, std=1e-3)
        bias = []
        for name, n in self._layout:
            if name == 'rotation':
                R0 = ROOT_INITS[self.root_init]  # first two columns: the 6-D form
                per = [*R0[:, 0], *R0[:, 1]] if n == 6 else [1.0, 0.0] * (n // 2)
                bias.append(torch.tensor(per[:n]))
            elif name == 'angles':
                sk = self.skeleton
                frac = np.where(sk.dof_upper > sk.dof_lower,
                                -sk.dof_lower / np.maximum(sk.dof_upper - sk.dof_lower, 1e-12),
                                0.5)
                frac = np.clip(frac, 1e-3, 1 - 1e-3)
                bias.append(torch.as_tensor(np.log(frac / (1 - frac)), dtype=torch.float32))
            else:
                bias.append(torch.zeros(n))
        with torch.no_grad():
            last.bias.copy_(torch.cat(bias))

    def _root_rotation(self, raw: torch.Tensor) -> torch.Tensor:
        """Head slice -> (B, 3, 3): 6-D for a free root, (cos, sin) pairs for fixed axes."""
        b = raw.shape[0]
        if self.skeleton.root_rotation == 'free':
            return rotation_6d_to_matrix(raw)
        eye = torch.eye(3, dtype=raw.dtype, device=raw.device).expand(b, 3, 3)
        rot = eye
        for k in range(self.root_axis_K.shape[0]):
            cs = raw[:, 2 * k:2 * k + 2]
            cs = cs / (torch.sqrt((cs * cs).sum(dim=1, keepdim=True)) + 1e-8)
            c, s = cs[:, :1, None], cs[:, 1:, None]
            K = self.root_axis_K[k]
            rot = rot @ (eye + s * K + (1 - c) * (K @ K))
        return rot

    def decode_params(self, raw: torch.Tensor, base_rotation: torch.Tensor | None = None,
                      base_translation: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Head outputs (B, P) in ``_layout`` order -> the forward dict (FK joints, ...); the
        root pose is relative to ``base_rotation`` (B, 3, 3) / ``base_translation`` (B, 3)
        when given."""
        parts, start = {}, 0
        for name, n in self._layout:
            parts[name] = raw[:, start:start + n]
            start += n
        translation = parts['translation'] @ self.translation_select
        rotation = self._root_rotation(parts['rotation'])
        if base_rotation is not None:
            rotation = base_rotation @ rotation
        if base_translation is not None:
            translation = base_translation + translation
        angles = self.dof_lower + self.dof_range * torch.sigmoid(parts['angles'])
        if self.scale_range is None:
            scale = torch.ones_like(raw[:, 0])
            joints, transforms = self.fk(translation, rotation, angles)
        else:
            lo, hi = self.scale_range
            scale = lo + (hi - lo) * torch.sigmoid(parts['scale'][:, 0])
            joints, transforms = self.fk(translation, rotation, angles, scale)
        return {'joints': joints, 'root_translation': translation, 'root_rotation': rotation,
                'joint_angles': angles, 'transforms': transforms, 'scale': scale}

    def export_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Tensor-only outputs for export, in the order of ``output_names``."""
        out = self.forward(x)
        return tuple(out[name] for name in self.output_names)

    def loss(self, outputs: dict[str, torch.Tensor | None],
             target_joints: torch.Tensor | None = None,
             target_params: torch.Tensor | None = None) -> torch.Tensor:
        """The mode's training loss: ``joint_loss`` for 'kinematic' and 'direct_joint';
        ``parameter_loss`` against ``target_params`` (B, P), the skeleton's motion-parameter
        vector (``Skeleton.param_names`` order), for 'direct_parameter'."""
        if self.mode != 'direct_parameter':
            if target_joints is None:
                raise ValueError(f'target_joints: mode {self.mode!r} needs (B, J, 3) targets')
            return joint_loss(outputs['joints'], target_joints)
        if target_params is None or target_params.shape[-1] != self.skeleton.num_params:
            found = None if target_params is None else tuple(target_params.shape)
            raise ValueError(f'target_params: mode direct_parameter needs (B, '
                             f'{self.skeleton.num_params}) motion parameters, got {found}')
        t, R, angles = split_params(self.fk.tables, target_params)
        return parameter_loss(outputs, t, R, angles)



class KinematicRegressor(MotionParams, nn.Module):
    """Backbone + pooled MLP head + (for the kinematic modes) differentiable forward kinematics.

    Args:
        skeleton: a ``Skeleton`` or a name/path for ``Skeleton.load``.
        backbone, width, in_channels: see ``nets.backbones.build_backbone``.
        mode: one of ``MODES``.
        hidden: width of the MLP's hidden layer.
        scale_range: (low, high) to also predict a per-sample global scale; None = skeleton's.
        root_init: key of ``ROOT_INITS``, the root rotation the untrained head predicts.
        spatial: 0 = global average pooling of the last feature map (the paper's pooled head);
            k > 0 = a 1x1 convolution to ``spatial_channels`` channels, average-pooled to a
            k x k grid and flattened, so the head sees where features are (regressing positions
            from a global average must encode them in the channels, which trains slowly).
        geometry_inputs: the last ``geometry_inputs`` of the ``in_channels`` input planes are
            constant geometry planes (``inference.model_card.GEOMETRY_PLANES``: the crop
            centre's ray and depth); the head reads them at one pixel, next to the image
            features, and the backbone sees only the others. A metric crop loses exactly that
            geometry, which bounds any net regressing metres from it (``training.target_frame``).

    ``forward(x (B, C, H, W))`` returns a dict: ``joints`` (B, J, 3); for the kinematic modes also
    ``root_translation`` (B, 3), ``root_rotation`` (B, 3, 3), ``joint_angles`` (B, D) radians,
    ``transforms`` (B, J, 4, 4) joint frames and ``scale`` (B,) (ones without ``scale_range``);
    for 'direct_joint' those are None. ``export_forward`` returns the tensors named by
    ``output_names``.
    """

    def __init__(self, skeleton: Skeleton | str | Path, backbone: str = 'resnet18',
                 width: float = 0.5, in_channels: int = 1, mode: str = 'kinematic',
                 hidden: int = 256, scale_range: tuple[float, float] | None = None,
                 root_init: str = 'identity', spatial: int = 0,
                 spatial_channels: int = 64, geometry_inputs: int = 0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode: expected one of {MODES}, got {mode!r}')
        if spatial < 0 or spatial_channels < 1:
            raise ValueError(f'spatial >= 0 and spatial_channels >= 1 expected, got {spatial}, '
                             f'{spatial_channels}')
        if not 0 <= geometry_inputs < in_channels:
            raise ValueError(f'geometry_inputs: expected 0 <= g < in_channels ({in_channels}), '
                             f'got {geometry_inputs}')
        if root_init not in ROOT_INITS:
            raise ValueError(f'root_init: expected one of {tuple(ROOT_INITS)}, got {root_init!r}')
        sk = skeleton if isinstance(skeleton, Skeleton) else Skeleton.load(skeleton)
        if scale_range is not None and not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f'scale_range: expected 0 < low <= high, got {scale_range}')
        self.skeleton, self.mode, self.in_channels = sk, mode, in_channels
        self.scale_range = None if scale_range is None else tuple(map(float, scale_range))
        self.root_init = root_init
        self.geometry_inputs = int(geometry_inputs)
        self.backbone = build_backbone(backbone, width, in_channels - self.geometry_inputs)
        self._layout = self._output_layout()
        n_out = sum(n for _, n in self._layout)
        self.spatial = int(spatial)
        if self.spatial:  # keep where things are: a coarse grid of reduced features, flattened
            self.reduce = nn.Sequential(
                nn.Conv2d(self.backbone.channels[1], spatial_channels, 1, bias=False),
                nn.BatchNorm2d(spatial_channels), nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(self.spatial), nn.Flatten())
            n_feat = spatial_channels * self.spatial ** 2
        else:
            self.reduce = None
            n_feat = self.backbone.channels[1]
        n_feat += self.geometry_inputs
        self.mlp = nn.Sequential(nn.Linear(n_feat, hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, n_out))
        if mode == 'direct_joint':
            self.output_names: tuple[str, ...] = ('joints',)
            return
        self._setup_motion()
        self._init_rest_pose(self.mlp[-1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | None]:
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != self.in_channels):
            raise ValueError(f'x: expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}')
        g = self.geometry_inputs
        fmap = self.backbone(x[:, :x.shape[1] - g] if g else x)[1]
        feat = fmap.mean(dim=(2, 3)) if self.reduce is None else self.reduce(fmap)
        if g:
            feat = torch.cat([feat, x[:, x.shape[1] - g:, 0, 0]], dim=1)
        raw = self.mlp(feat)
        b = x.shape[0]
        if self.mode == 'direct_joint':
            return {'joints': raw.reshape(b, -1, 3), 'root_translation': None,
                    'root_rotation': None, 'joint_angles': None, 'transforms': None,
                    'scale': None}
        return self.decode_params(raw)


def joint_loss(joints: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Paper Eq. 3: 0.5 * ||joints - target||^2 summed over joints and axes, mean over batch.

    joints, target: (B, J, 3) in the same frame and units.
    """
    if joints.shape != target.shape:
        raise ValueError(f'target_joints: expected {tuple(joints.shape)}, got '
                         f'{tuple(target.shape)}')
    return 0.5 * ((joints - target) ** 2).sum(dim=(1, 2)).mean()


def parameter_loss(outputs: dict[str, torch.Tensor | None], root_translation: torch.Tensor,
                   root_rotation: torch.Tensor, joint_angles: torch.Tensor) -> torch.Tensor:
    """Direct-parameter baseline: 0.5 * (||dt||^2 + ||dR||_F^2 + ||dangles||^2), batch mean.

    Targets: root_translation (B, 3) skeleton units, root_rotation (B, 3, 3), joint_angles (B, D)
    radians. The terms are unweighted across units, as in the paper's baseline.
    """
    dt = outputs['root_translation'] - root_translation
    dR = outputs['root_rotation'] - root_rotation
    da = outputs['joint_angles'] - joint_angles
    per = (dt ** 2).sum(dim=1) + (dR ** 2).sum(dim=(1, 2)) + (da ** 2).sum(dim=1)
    return 0.5 * per.mean()
