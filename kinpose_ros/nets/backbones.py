"""ResNet backbones (18/34/50) for dense pose heads, written here without torchvision.

Changes from the ImageNet ResNet, after A2J (Xiong et al. 2019, Sec. 3.1.3):
  * ``in_channels`` input planes (1 depth, 3 RGB, 4 RGB-D) instead of 3.
  * layer4 has stride 1 and dilation 2 (its first block undilated, as in the A2J reference code),
    so both returned maps, layer3 and layer4, have output stride 16: an (H, W) input gives
    (ceil(H/16), ceil(W/16)) maps, exactly (H/16, W/16) when H and W are multiples of 16.
  * ``width`` multiplies every channel count (0.5 = half the channels, about a quarter of the
    compute), for CPU and embedded targets.
  * No classifier: ``forward`` returns the layer3 and layer4 feature maps.

Weights start from Kaiming-normal convolutions (fan-out, ReLU) and unit/zero batch norms; no
pretrained weights are loaded (depth input differs from ImageNet anyway). The caller picks the
device.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ['BACKBONES', 'BasicBlock', 'Bottleneck', 'ResNet', 'build_backbone']


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module | None:
    """1x1 projection when the residual changes shape, else None (identity)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34). Output channels = planes."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, dilated) -> 1x1 with a residual (ResNet-50). Output = 4 * planes."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet trunk with output stride 16 returning (layer3, layer4) feature maps.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in layer1..layer4, e.g. (2, 2, 2, 2) for ResNet-18.
        width: channel multiplier (> 0); stage widths are round(64/128/256/512 * width), >= 1.
        in_channels: input planes (1 depth, 3 RGB, 4 RGB-D).

    Attributes:
        channels: (layer3 channels, layer4 channels) of the returned maps.
        output_stride: 16, the input pixels per feature-map cell of both returned maps.
    """

    output_stride = 16

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
                 width: float = 1.0, in_channels: int = 1) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f'width: expected a positive channel multiplier, got {width}')
        if in_channels < 1:
            raise ValueError(f'in_channels: expected >= 1 input planes, got {in_channels}')
        if len(layers) != 4:
            raise ValueError(f'layers: expected 4 block counts, got {tuple(layers)}')
        stem, *planes = (max(1, round(c * width)) for c in (64, 64, 128, 256, 512))
        self.conv1 = nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self._cin = stem
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], stride=2)
        c3 = self._cin
        self.layer4 = self._make_layer(block, planes[3], layers[3], stride=1, dilation=2)
        self.channels = (c3, self._cin)
        self.in_channels = in_channels
        self._init_weights()

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int = 1, dilation: int = 1) -> nn.Sequential:
        # The first block carries the stride (or channel change) and stays undilated, as in A2J.
        mods = [block(self._cin, planes, stride, 1)]
        self._cin = planes * block.expansion
        mods += [block(self._cin, planes, 1, dilation) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, in_channels, H, W) -> (layer3 (B, C3, H/16, W/16), layer4 (B, C4, H/16, W/16))."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        c3 = self.layer3(x)
        return c3, self.layer4(c3)


BACKBONES: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    'resnet18': (BasicBlock, (2, 2, 2, 2)),
    'resnet34': (BasicBlock, (3, 4, 6, 3)),
    'resnet50': (Bottleneck, (3, 4, 6, 3)),
}


def build_backbone(name: str, width: float = 1.0,
                   in_channels: int = 1) -> ResNet | nn.Module:
    """A backbone by name: one of ``BACKBONES`` ('resnet18', 'resnet34', 'resnet50'), or 'cnn5'
    (``nets.small_cnn.SmallCNN``, a plain 5-layer CNN with a (B, C, 1, 1) output).

    Raises:
        ValueError: unknown name (the message lists the known ones), bad width or in_channels.
    """
    key = name.lower()
    if key == 'cnn5':  # the toy experiment's plain 5-layer CNN (not a ResNet)
        from kinpose_ros.nets.small_cnn import SmallCNN  # noqa: PLC0415

        return SmallCNN(width=width, in_channels=in_channels)
    if key not in BACKBONES:
        raise ValueError(f'backbone: unknown name {name!r}; expected one of '
                         f'{sorted(BACKBONES) + ["cnn5"]}')
    block, layers = BACKBONES[key]
    return ResNet(block, layers, width=width, in_channels=in_channels)
