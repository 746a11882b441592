"""A2J + kinematic head: anchor-to-joint regression feeding the kinematic paper's FK layer.

The issue's "hybrid (A2J features + kinematic head)". A2J (``nets.a2j``) localises the joints on
the depth crop by dense anchor voting, which a global regression head does poorly; the crop's
geometry planes (``inference.model_card.GEOMETRY_PLANES``: the crop centre's ray and depth and
the crop's pixel size) let the graph unproject A2J's (u, v, z) *exactly* into metres relative to
the crop centre point - the frame of the kinematic family's targets, with none of the
weak-perspective gap of a metric crop (``training.target_frame``). An MLP reads those joints
and A2J's per-joint confidence and predicts the motion parameters (root translation and 6-D
rotation, bounded joint angles, a body scale), and the parameter-free FK layer turns them into
the output joints (``nets.kinematic.MotionParams``): every output is a valid skeleton and the
joint angles come from the network itself. The MLP acts as a learned inverse kinematics with a
pose prior: it pulls noisy joints onto plausible skeletons.

Input: (B, 1 + 5, H, W): the normalised depth crop, then the planes in ``PLANES`` order. The
A2J part can start from a trained A2J checkpoint and stay frozen (``freeze_a2j``), so only the
head trains - minutes on a CPU - and A2J's own accuracy is kept; training uses the joint loss of
the paper's Eq. 3 on the FK output.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kinpose_ros.core.skeleton import Skeleton
from kinpose_ros.inference.model_card import PLANE_DEPTH_UNIT_M
from kinpose_ros.nets.a2j import A2J
from kinpose_ros.nets.kinematic import ROOT_INITS, MotionParams

__all__ = ['PLANES', 'A2JKinematic']

#: The geometry planes the hybrid needs, in this order after the depth plane.
PLANES = ('ray_x', 'ray_y', 'centre_depth', 'px_scale_x', 'px_scale_y')


class A2JKinematic(MotionParams, nn.Module):
    """A2J, exact in-graph unprojection, an MLP head and forward kinematics.

    Args:
        skeleton: a ``Skeleton`` or a name/path for ``Skeleton.load``.
        input_size: (H, W) crop size (multiples of 16).
        in_channels: 1 + len(PLANES) = 6.
        geometry_inputs: len(PLANES) = 5 (the planes after the depth plane).
        backbone, width, head_width, head_depth: the A2J part (``nets.a2j.A2J``).
        z_unit_m: metres per unit of A2J's depth output (the A2J training's ``z_unit_m``).
        hidden: width of the head's two hidden layers.
        scale_range, root_init: see ``nets.kinematic.KinematicRegressor``.
        freeze_a2j: keep the A2J part fixed (eval mode, no gradients) while training.
        canonical: the head sees the joints in the body frame A2J's root and hips span and
            predicts the root rotation and translation relative to that frame (``root_init``
            must be 'identity'), so it learns the joint angles free of the global pose.

    ``forward(x)`` returns the kinematic dict (``joints`` (B, J, 3) metres relative to the crop
    centre point, ``root_translation``, ``root_rotation``, ``joint_angles``, ``transforms``,
    ``scale``) plus ``a2j_joints`` (B, J, 3), A2J's unprojected joints in the same frame, and
    ``confidence`` (B, J), A2J's per-joint confidence (also a graph output).
    """

    def __init__(self, skeleton: Skeleton | str | Path, input_size: tuple[int, int] = (128, 128),
                 in_channels: int = 6, geometry_inputs: int = 5, backbone: str = 'resnet18',
                 width: float = 0.375, head_width: int = 96, head_depth: int = 2,
                 z_unit_m: float = 0.02, hidden: int = 512,
                 scale_range: tuple[float, float] | None = None,
                 root_init: str = 'facing_camera', freeze_a2j: bool = True,
                 canonical: bool = False) -> None:
        super().__init__()
        if geometry_inputs != len(PLANES) or in_channels != 1 + len(PLANES):
            raise ValueError(f'A2JKinematic needs in_channels {1 + len(PLANES)} (depth + planes '
                             f'{PLANES}) and geometry_inputs {len(PLANES)}, got {in_channels} '
                             f'and {geometry_inputs}')
        if root_init not in ROOT_INITS:
            raise ValueError(f'root_init: expected one of {tuple(ROOT_INITS)}, got {root_init!r}')
        if scale_range is not None and not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f'scale_range: expected 0 < low <= high, got {scale_range}')
        sk = skeleton if isinstance(skeleton, Skeleton) else Skeleton.load(skeleton)
        self.skeleton, self.mode, self.in_channels = sk, 'kinematic', in_channels
        self.geometry_inputs = geometry_inputs
        self.scale_range = None if scale_range is None else tuple(map(float, scale_range))
        self.root_init, self.z_unit_m, self.freeze_a2j = root_init, float(z_unit_m), freeze_a2j
        self.canonical = bool(canonical)
        if self.canonical:
            names = sk.joint_names
            try:
                self._frame_idx = [names.index(n) for n in (sk.frame_names[0], 'l_hip', 'r_hip')]
            except ValueError as exc:
                raise ValueError(f'canonical: needs the root joint and l_hip / r_hip in the '
                                 f'skeleton, got {names}') from exc
            if root_init != 'identity':
                raise ValueError("canonical: the head predicts a rotation relative to the "
                                 "body frame of the A2J joints; use root_init 'identity'")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.a2j = A2J(sk.num_joints, self.input_size, backbone, width, head_width, head_depth,
                       in_channels=1)
        if freeze_a2j:
            self.a2j.requires_grad_(False)
        self._layout = self._output_layout()
        n_out = sum(n for _, n in self._layout)
        J = sk.num_joints
        n_in = (7 if self.canonical else 4) * J
        self.mlp = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, n_out))
        self._setup_motion()
        self.output_names += ('confidence',)  # A2J's per-joint confidence, for the estimator
        self._init_rest_pose(self.mlp[-1])

    def train(self, mode: bool = True) -> A2JKinematic:
        super().train(mode)
        if self.freeze_a2j:
            self.a2j.eval()  # frozen: batch-norm statistics stay those of the A2J training
        return self

    def unproject(self, uv: torch.Tensor, z: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
        """A2J's crop pixels ``uv`` (B, J, 2) and depth ``z`` (B, J) (``z_unit_m`` units about
        the centre depth) -> (B, J, 3) metres relative to the crop centre point, in crop axes;
        ``planes`` (B, 5) in ``PLANES`` order."""
        h, w = self.input_size
        ray_x, ray_y = planes[:, 0:1], planes[:, 1:2]
        zc = planes[:, 2:3] * PLANE_DEPTH_UNIT_M
        dz = z * self.z_unit_m
        depth = zc + dz
        x = (ray_x + (uv[..., 0] - (0.5 * w - 0.5)) * planes[:, 3:4]) * depth - ray_x * zc
        y = (ray_y + (uv[..., 1] - (0.5 * h - 0.5)) * planes[:, 4:5]) * depth - ray_y * zc
        return torch.stack([x, y, dz], dim=-1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != self.in_channels):
            raise ValueError(f'x: expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}')
        planes = x[:, 1:, 0, 0]
        if self.freeze_a2j and self.training:
            with torch.no_grad():
                uv, z, conf = self.a2j.export_forward(x[:, :1])
        else:
            uv, z, conf = self.a2j.export_forward(x[:, :1])
        joints = self.unproject(uv, z, planes)
        if not self.canonical:
            feat = torch.cat([(joints * 2.0).flatten(1), conf], dim=1)  # about unit scale
            out = self.decode_params(self.mlp(feat))
            out.update(a2j_joints=joints, confidence=conf)
            return out
        r0, t0 = self.body_frame(joints)
        local = (joints - t0[:, None]) @ r0  # joints in the body frame of A2J's root and hips
        feat = torch.cat([(local * 2.0).flatten(1), (joints * 2.0).flatten(1), conf], dim=1)
        out = self.decode_params(self.mlp(feat), r0, t0)
        out.update(a2j_joints=joints, confidence=conf)
        return out

    def body_frame(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, 3) rotation target <- body frame (x forward, y left, z up) and (B, 3) origin,
        from the root joint and the two hips of ``joints`` (B, J, 3): y along r_hip -> l_hip, z
        from the hips' midpoint to the root, made orthogonal to y, x = y x z."""
        root, left, right = (joints[:, i] for i in self._frame_idx)
        y = left - right
        y = y / (y.norm(dim=1, keepdim=True) + 1e-6)
        up = root - 0.5 * (left + right)
        up = up - (up * y).sum(dim=1, keepdim=True) * y
        z = up / (up.norm(dim=1, keepdim=True) + 1e-6)
        x = torch.cross(y, z, dim=1)
        return torch.stack([x, y, z], dim=2), root
