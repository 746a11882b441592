"""A plain 5-layer CNN backbone for the toy experiment (Zhou et al. 2016, section 4.1).

The kinematic paper uses "a 5 layer convolutional neural network" with the structure of its
reference [41] (conv layers followed by fully connected layers). ``SmallCNN`` follows that
shape and is cheap enough to train on one CPU thread:

  * stage 1: conv 5x5 stride 2 (128 -> 64 px) + BN + ReLU + max-pool 2;
  * stages 2-4: conv 3x3 + BN + ReLU + max-pool 2; stage 5: conv 3x3 + BN + ReLU;
  * adaptive average pooling to a ``grid`` x ``grid`` map (the identity for 128 x 128 inputs),
    flatten, one fully connected layer + ReLU to ``features`` values.

Channels are (8, 16, 32, 64, 64) times ``width`` (>= 1 each). Unlike the ResNets, the output is
a (B, features, 1, 1) map: the fully connected layer keeps *where* things are, which global
average pooling of a convolutional map would mostly discard (the toy task regresses absolute
image positions). ``forward`` returns that map twice so that it has the ``(layer3, layer4)``
interface of ``nets.backbones.ResNet``; ``KinematicRegressor`` pools it (a no-op here).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ['SmallCNN']

_BASE_CHANNELS = (8, 16, 32, 64, 64)


class SmallCNN(nn.Module):
    """Five conv-BN-ReLU stages + one FC layer; see the module docstring.

    Args:
        width: channel multiplier (> 0).
        in_channels: input planes (1 for the binary toy images).
        features: size of the output feature vector.
        grid: side of the pooled map fed to the FC layer.

    Attributes:
        channels: (features, features), the channels of the two returned maps.
        output_stride: None, the output is a single cell whatever the input size.
    """

    output_stride = None

    def __init__(self, width: float = 1.0, in_channels: int = 1, features: int = 256,
                 grid: int = 4) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f'width: expected a positive channel multiplier, got {width}')
        if in_channels < 1 or features < 1 or grid < 1:
            raise ValueError(f'in_channels/features/grid: expected >= 1, got {in_channels}/'
                             f'{features}/{grid}')
        chans = [max(1, round(c * width)) for c in _BASE_CHANNELS]
        layers: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(chans):
            k, stride = (5, 2) if i == 0 else (3, 1)
            layers += [nn.Conv2d(cin, c, k, stride=stride, padding=k // 2, bias=False),
                       nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if i < len(chans) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(grid), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(cin * grid * grid, features), nn.ReLU(inplace=True))
        self.channels = (features, features)
        self.in_channels = in_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, in_channels, H, W) -> (f, f), f (B, features, 1, 1)."""
        f = self.fc(self.features(x))[:, :, None, None]
        return f, f
