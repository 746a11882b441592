"""Low-resolution CPU pose net after DNN33 (Szczuko 2019, "Deep neural networks for human pose
estimation from a very low resolution depth image").

Architecture (paper Sec. 4, Fig. 3): conv 5x5 x 20 -> ReLU -> max-pool 2 -> conv 5x5 x 33 ->
ReLU -> max-pool 2 -> FC 500 -> ReLU -> FC (J * 3). The paper's input is 60 x 50 (W x H; its data
files are 61 x 50) and its feature maps 60x50 -> 30x25 -> 15x13, i.e. 'same' 5x5 convolutions and
pooling that rounds up (``ceil_mode``), reproduced here for any ``input_size``.

Differences from the paper, and why:
  * The last layer is linear (the paper puts ReLU on every neuron, with min-max normalised
    targets in [0, 1]); a linear output keeps targets that leave the [0, 1] range learnable.
  * Outputs decode in the graph to the interface shared with A2J: the FC layer predicts
    (u / W, v / H, z) per joint, so ``uv`` (B, J, 2) is in crop pixels (u column, v row) and ``z``
    (B, J) in the unit of the depth targets (the project's normalised crop depth).
  * The paper subtracts the mean training image from every input: here that image is the
    buffer ``input_mean`` (C, H, W), zero until ``set_input_mean`` is called, subtracted in the
    graph and saved with the weights.
  * ``confidence`` (B, J): with ``confidence_head=False`` (default) all ones, meaning "not
    estimated"; with ``confidence_head=True`` a sigmoid head on the FC 500 features, in (0, 1),
    to be trained by the caller (e.g. against joint visibility).

Parameter count (J = 7, 50 x 60 input): 3.25 M, almost all in FC 500 (13 * 15 * 33 * 500). The
paper quotes 751 k weights, which its stated layer sizes do not reproduce.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ['LITE_OUTPUT_NAMES', 'LiteNet', 'lite_loss']

LITE_OUTPUT_NAMES = ('uv', 'z', 'confidence')


class LiteNet(nn.Module):
    """DNN33-style regression net for very low-resolution depth crops.

    Args:
        num_joints: J.
        input_size: (H, W) in pixels; paper: (50, 60) (data files (50, 61)).
        in_channels: input planes (1 depth).
        conv_channels: filters of the two 5x5 convolutions (DNN20/33/50: (20, 20/33/50)).
        hidden: width of the fully connected hidden layer.
        confidence_head: learn a per-joint confidence (sigmoid) instead of constant ones.

    ``forward(x)`` returns a dict with ``uv`` (B, J, 2) crop pixels, ``z`` (B, J), ``confidence``
    (B, J) and ``raw`` (B, J, 3) = (u / W, v / H, z); ``export_forward(x)`` returns the tuple
    (uv, z, confidence) named by ``output_names``.
    """

    output_names = LITE_OUTPUT_NAMES

    def __init__(self, num_joints: int, input_size: tuple[int, int] = (50, 60),
                 in_channels: int = 1, conv_channels: tuple[int, int] = (20, 33),
                 hidden: int = 500, confidence_head: bool = False) -> None:
        super().__init__()
        height, width = (int(s) for s in input_size)
        if num_joints < 1 or height < 4 or width < 4:
            raise ValueError(f'LiteNet: expected num_joints >= 1 and input_size >= (4, 4), got '
                             f'{num_joints} and {(height, width)}')
        self.num_joints = num_joints
        self.input_size = (height, width)
        self.in_channels = in_channels
        c1, c2 = conv_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
        )
        fh, fw = (math.ceil(math.ceil(s / 2) / 2) for s in (height, width))
        self.feature_size = (fh, fw)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(c2 * fh * fw, hidden),
                                    nn.ReLU(inplace=True))
        self.joints = nn.Linear(hidden, num_joints * 3)
        self.confidence = nn.Linear(hidden, num_joints) if confidence_head else None
        self.register_buffer('input_mean', torch.zeros(in_channels, height, width))
        self.register_buffer('uv_scale', torch.tensor([float(width), float(height)]),
                             persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                nn.init.zeros_(m.bias)

    def set_input_mean(self, mean: torch.Tensor) -> None:
        """Set the image subtracted from every input, (C, H, W) or (H, W) (the training mean)."""
        mean = torch.as_tensor(mean, dtype=self.input_mean.dtype)
        if mean.dim() == 2:
            mean = mean[None]
        if tuple(mean.shape) != tuple(self.input_mean.shape):
            raise ValueError(f'mean: expected shape {tuple(self.input_mean.shape)}, got '
                             f'{tuple(mean.shape)}')
        self.input_mean.copy_(mean.to(self.input_mean.device))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != self.in_channels
                                           or tuple(x.shape[2:]) != self.input_size):
            raise ValueError(f'x: expected (B, {self.in_channels}, {self.input_size[0]}, '
                             f'{self.input_size[1]}), got {tuple(x.shape)}')
        h = self.hidden(self.features(x - self.input_mean))
        raw = self.joints(h).reshape(x.shape[0], self.num_joints, 3)
        uv = raw[..., :2] * self.uv_scale
        z = raw[..., 2]
        if self.confidence is None:
            confidence = torch.ones_like(z)
        else:
            confidence = torch.sigmoid(self.confidence(h))
        return {'uv': uv, 'z': z, 'confidence': confidence, 'raw': raw}

    def export_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tensor-only outputs for export: (uv (B, J, 2), z (B, J), confidence (B, J))."""
        out = self.forward(x)
        return out['uv'], out['z'], out['confidence']


def lite_loss(outputs: dict[str, torch.Tensor], target_uv: torch.Tensor, target_z: torch.Tensor,
              input_size: tuple[int, int]) -> torch.Tensor:
    """0.5 * squared error on (u / W, v / H, z), summed over joints, mean over the batch.

    Args:
        outputs: ``LiteNet.forward`` output. target_uv: (B, J, 2) crop pixels. target_z: (B, J).
        input_size: the net's (H, W), to put u and v on the same scale as the paper's targets.
    """
    uv, z = outputs['uv'], outputs['z']
    if target_uv.shape != uv.shape or target_z.shape != z.shape:
        raise ValueError(f'targets: expected target_uv {tuple(uv.shape)} and target_z '
                         f'{tuple(z.shape)}, got {tuple(target_uv.shape)} and '
                         f'{tuple(target_z.shape)}')
    scale = uv.new_tensor([float(input_size[1]), float(input_size[0])])
    err = torch.cat([(uv - target_uv) / scale, (z - target_z)[..., None]], dim=-1)
    return 0.5 * (err ** 2).sum(dim=(1, 2)).mean()
