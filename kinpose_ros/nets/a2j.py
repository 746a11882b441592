"""A2J: anchor-to-joint regression (Xiong et al. 2019) with the decode inside the graph.

Conventions:
  * Input: a crop (B, C, H, W) float32, H and W multiples of 16 (C = 1 for depth).
  * Anchors: a lattice every 4 crop pixels, at u, v in {2, 6, 10, ...} (16 per 16x16 feature cell
    at offsets {2, 6, 10, 14}), stored as the buffer ``anchors`` (A, 2) of (u, v) crop pixels,
    u the column and v the row, with pixel (row r, column c) centred at (u, v) = (c, r) as in
    ``core.camera`` (the A2J lattice, 0.5 px off the cell centres; offsets absorb it).
    A = (H/4) * (W/4): 1,600 at 160x160, 2,304 at 192x192, 5,184 at 288x288. Anchor index
    a = ((cell_row * W/16 + cell_col) * 4 + row_in_cell) * 4 + col_in_cell.
  * Heads: proposal logits P_j(a) from layer3; in-plane offsets O_j(a) (crop pixels) and depths
    D_j(a) from layer4 (both stride 16, so one cell carries its 16 anchors in the channels).
  * Decode (paper Eq. 1-2): w_j = softmax_a P_j(a); uv_j = sum_a w_j(a) (S(a) + O_j(a));
    z_j = sum_a w_j(a) D_j(a). z is in the unit of the depth targets used in training (``target_z``
    of ``a2j_loss``); the project trains it in the normalised depth unit of the crop input,
    (z_m - center_depth_m) / half_range_m, which ``core.depth.CropInfo.denormalise_depth`` turns
    back into metres.
  * Confidence (B, J) in (0, 1]: agreement of the anchor votes. With the weighted RMS distance of
    the votes S(a) + O_j(a) from uv_j, ``spread_j`` in crop pixels, confidence_j =
    exp(-spread_j / (confidence_scale * max(H, W))). 1 when every weighted anchor points at the
    same spot; exp(-1) = 0.37 when the votes scatter by ``confidence_scale`` (default 5 %) of the
    crop. It is a heuristic ranking score, not a calibrated probability.
"""
from __future__ import annotations

import torch
from torch import nn

from kinpose_ros.nets.backbones import build_backbone

__all__ = ['A2J', 'A2J_OUTPUT_NAMES', 'a2j_loss', 'anchor_grid', 'smooth_l1_tau']

ANCHOR_STRIDE = 4  # crop pixels between anchors (paper: S_t = 4)
CELL = 16  # backbone output stride; one cell holds (CELL / ANCHOR_STRIDE)^2 = 16 anchors
A2J_OUTPUT_NAMES = ('uv', 'z', 'confidence')


def anchor_grid(height: int, width: int) -> torch.Tensor:
    """Anchor (u, v) crop pixels (A, 2) in the head's channel order, for an (H, W) crop.

    Raises:
        ValueError: H or W not a positive multiple of 16.
    """
    if height <= 0 or width <= 0 or height % CELL or width % CELL:
        raise ValueError(f'input_size: expected (H, W) positive multiples of {CELL}, '
                         f'got {(height, width)}')
    per = CELL // ANCHOR_STRIDE
    offs = torch.arange(per, dtype=torch.float32) * ANCHOR_STRIDE + ANCHOR_STRIDE / 2
    cy = torch.arange(height // CELL, dtype=torch.float32) * CELL
    cx = torch.arange(width // CELL, dtype=torch.float32) * CELL
    # index order (cell_row, cell_col, row_in_cell, col_in_cell)
    v = cy[:, None, None, None] + offs[None, None, :, None]
    u = cx[None, :, None, None] + offs[None, None, None, :]
    v, u = torch.broadcast_tensors(v, u)
    return torch.stack([u.reshape(-1), v.reshape(-1)], dim=-1)


class _Head(nn.Sequential):
    """depth x (conv3x3 + BN + ReLU) then a 3x3 output conv with ``out_channels`` channels."""

    def __init__(self, cin: int, width: int, depth: int, out_channels: int) -> None:
        mods: list[nn.Module] = []
        for i in range(depth):
            mods += [nn.Conv2d(cin if i == 0 else width, width, 3, padding=1, bias=False),
                     nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        mods.append(nn.Conv2d(width if depth else cin, out_channels, 3, padding=1))
        super().__init__(*mods)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Small outputs at the start: near-uniform anchor weights, near-zero offsets and depths.
        nn.init.normal_(mods[-1].weight, std=0.01)
        nn.init.zeros_(mods[-1].bias)


class A2J(nn.Module):
    """Anchor-to-joint regression network with in-graph decode.

    Args:
        num_joints: J, joints per person.
        input_size: (H, W) crop size in pixels, multiples of 16.
        backbone: 'resnet18' | 'resnet34' | 'resnet50' (see ``nets.backbones``).
        width: backbone channel multiplier.
        head_width: channels of the intermediate head convolutions (paper: 256).
        head_depth: intermediate convolutions per head (paper: 4).
        in_channels: input planes (1 depth, 3 RGB, 4 RGB-D).
        confidence_scale: vote spread, as a fraction of max(H, W), at which confidence = exp(-1).

    ``forward(x)`` returns a dict: ``uv`` (B, J, 2) crop pixels, ``z`` (B, J) in the unit of the
    depth targets, ``confidence`` (B, J) in (0, 1], and for training ``logits`` (B, A, J),
    ``offsets`` (B, A, J, 2) crop pixels, ``depths`` (B, A, J), ``weights`` (B, A, J) (softmax of
    logits over A), ``anchor_uv`` (B, J, 2) = sum_a w_j(a) S(a) for the surrounding loss and
    ``spread`` (B, J) crop pixels. ``export_forward(x)`` returns only the tuple
    (uv, z, confidence), named by ``output_names``, for ONNX export.
    """

    output_names = A2J_OUTPUT_NAMES

    def __init__(self, num_joints: int, input_size: tuple[int, int] = (160, 160),
                 backbone: str = 'resnet18', width: float = 0.5, head_width: int = 128,
                 head_depth: int = 4, in_channels: int = 1,
                 confidence_scale: float = 0.05) -> None:
        super().__init__()
        if num_joints < 1:
            raise ValueError(f'num_joints: expected >= 1, got {num_joints}')
        if confidence_scale <= 0:
            raise ValueError(f'confidence_scale: expected > 0, got {confidence_scale}')
        height, width_px = (int(s) for s in input_size)
        self.register_buffer('anchors', anchor_grid(height, width_px), persistent=False)
        self.num_joints = num_joints
        self.input_size = (height, width_px)
        self.in_channels = in_channels
        self.confidence_scale = float(confidence_scale)
        self.backbone = build_backbone(backbone, width, in_channels)
        c3, c4 = self.backbone.channels
        per_cell = (CELL // ANCHOR_STRIDE) ** 2
        self.proposal_head = _Head(c3, head_width, head_depth, per_cell * num_joints)
        self.offset_head = _Head(c4, head_width, head_depth, per_cell * num_joints * 2)
        self.depth_head = _Head(c4, head_width, head_depth, per_cell * num_joints)

    @property
    def num_anchors(self) -> int:
        return self.anchors.shape[0]

    def _per_anchor(self, y: torch.Tensor, k: int) -> torch.Tensor:
        """Head map (B, k*16*J, h, w) -> (B, k, A, J), anchors in the order of ``anchor_grid``.

        Channel c of the output convolution is ((kk * 4 + row_in_cell) * 4 + col_in_cell) * J + j.
        Coordinate-major (k first) keeps the decode's broadcasts on leading axes, which ONNX
        Runtime runs much faster than broadcasts on a trailing axis of size 2.
        """
        b, _, h, w = y.shape
        per = CELL // ANCHOR_STRIDE
        y = y.reshape(b, k, per, per, self.num_joints, h, w)
        # -> (B, k, h, w, row_in_cell, col_in_cell, J)
        return y.permute(0, 1, 5, 6, 2, 3, 4).reshape(b, k, -1, self.num_joints)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> logits (B, A, J), offsets (B, 2, A, J) px (u, v), depths (B, A, J)."""
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != self.in_channels
                                           or tuple(x.shape[2:]) != self.input_size):
            raise ValueError(f'x: expected (B, {self.in_channels}, {self.input_size[0]}, '
                             f'{self.input_size[1]}), got {tuple(x.shape)}')
        f3, f4 = self.backbone(x)
        b = x.shape[0]
        logits = self._per_anchor(self.proposal_head(f3), 1).reshape(b, -1, self.num_joints)
        offsets = self._per_anchor(self.offset_head(f4), 2)
        depths = self._per_anchor(self.depth_head(f4), 1).reshape(b, -1, self.num_joints)
        return logits, offsets, depths

    def decode(self, logits: torch.Tensor, offsets: torch.Tensor,
               depths: torch.Tensor) -> dict[str, torch.Tensor]:
        """Heads -> 'uv' (B, J, 2), 'z', 'confidence', 'spread' (B, J), 'weights' (B, A, J).

        Args: logits (B, A, J), offsets (B, 2, A, J) crop pixels, depths (B, A, J).
        """
        weights = torch.softmax(logits, dim=1)
        anchors_t = self.anchors.t()  # (2, A)
        votes = anchors_t[None, :, :, None] + offsets  # (B, 2, A, J)
        uv_t = (weights[:, None] * votes).sum(dim=2)  # (B, 2, J)
        z = (weights * depths).sum(dim=1)
        sq = ((votes - uv_t[:, :, None]) ** 2).sum(dim=1)  # (B, A, J)
        spread = torch.sqrt((weights * sq).sum(dim=1) + 1e-12)
        scale = self.confidence_scale * max(self.input_size)
        confidence = torch.exp(-spread / scale)
        return {'uv': uv_t.transpose(1, 2), 'z': z, 'confidence': confidence, 'spread': spread,
                'weights': weights}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, offsets, depths = self.heads(x)
        out = self.decode(logits, offsets, depths)
        anchor_uv = torch.matmul(self.anchors.t(), out['weights']).transpose(1, 2)
        out.update(logits=logits, offsets=offsets.permute(0, 2, 3, 1), depths=depths,
                   anchor_uv=anchor_uv)
        return out

    def export_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tensor-only outputs for export: (uv (B, J, 2), z (B, J), confidence (B, J))."""
        out = self.decode(*self.heads(x))
        return out['uv'], out['z'], out['confidence']


def smooth_l1_tau(x: torch.Tensor, tau: float) -> torch.Tensor:
    """Paper Eq. 5, elementwise: x^2 / (2 tau) where |x| < tau, else |x| - tau / 2."""
    ax = x.abs()
    return torch.where(ax < tau, 0.5 * ax * ax / tau, ax - 0.5 * tau)


def a2j_loss(outputs: dict[str, torch.Tensor], target_uv: torch.Tensor, target_z: torch.Tensor,
             alpha: float = 0.5, lam: float = 3.0,
             tau1: float = 1.0, tau2: float = 3.0) -> dict[str, torch.Tensor]:
    """A2J training loss, paper Eq. 4-7: loss = lam * loss1 + loss2, averaged over the batch.

    loss1 = alpha * sum_j L_tau1(uv_j - T_j^i) + sum_j L_tau2(z_j - T_j^d)   (Eq. 4)
    loss2 = sum_j L_tau1(sum_a w_j(a) S(a) - T_j^i)                            (Eq. 6)
    L_tau is applied per coordinate and summed over u, v. Depth uses L_tau2 as in the paper (the
    reference code's plain L1 for depth is its issue #50). tau1 is in crop pixels and tau2 in the
    depth target's unit, which should be comparable to a pixel, as the paper's are (bodies: 2 cm,
    z * 50; hands: 1 mm): a depth target in [-1, 1] would sit deep in the quadratic zone of
    tau2 = 3 and be under-weighted against uv, so scale it (and the output) accordingly.

    Args:
        outputs: ``A2J.forward`` output; uses 'uv', 'z' and 'anchor_uv' (sum_a w_j(a) S(a)).
        target_uv: (B, J, 2) crop pixels. target_z: (B, J), same unit as the depth head.

    Returns:
        dict with 'loss' (scalar to minimise), 'loss1' and 'loss2' (batch means).
    """
    uv, z, anchor_uv = outputs['uv'], outputs['z'], outputs['anchor_uv']
    if target_uv.shape != uv.shape or target_z.shape != z.shape:
        raise ValueError(f'targets: expected target_uv {tuple(uv.shape)} and target_z '
                         f'{tuple(z.shape)}, got {tuple(target_uv.shape)} and '
                         f'{tuple(target_z.shape)}')
    loss1 = (alpha * smooth_l1_tau(uv - target_uv, tau1).sum(dim=(1, 2))
             + smooth_l1_tau(z - target_z, tau2).sum(dim=1))
    loss2 = smooth_l1_tau(anchor_uv - target_uv, tau1).sum(dim=(1, 2))
    loss1, loss2 = loss1.mean(), loss2.mean()
    return {'loss': lam * loss1 + loss2, 'loss1': loss1, 'loss2': loss2}
