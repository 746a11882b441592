"""A small fully convolutional net that scores the segmenter's grid cells as person or not.

The rule-based segmenter (:mod:`kinpose_ros.core.segmentation`) separates surfaces by depth
continuity and size; it fails where a person touches a wall, furniture or a pillar at the same
depth (one component) or stands flush against a wall (the wall's plane removal erases them).
Which cells belong to a person is a question of local shape that a small net answers well: it
runs on the segmenter's working grid (106 x 80 cells at 320x240) with the planes of
``core.segmentation.CELL_FEATURES`` and removes the cells it scores below
``SegmenterConfig.cell_threshold`` before the components are formed.

Layout (about 9 M multiply-adds at 106 x 80, under a millisecond on one CPU thread): a
stride-2 stem, depthwise-separable blocks at 1/2, 1/4 and 1/8 of the grid (dilated at 1/8 so
that the receptive field spans a whole near person), a light decoder adding the 1/4 and 1/2
features back, and a bilinear upsampling of the logits to the grid. Grid sides need not be
multiples of 8 (the decoder resizes to each skip's size).

With ``offsets=True`` the head has two more channels: for a person cell, the offset in grid
cells (rows, columns) from the cell to its person's centre (the mean of the person's image
joints, hidden ones included), in units of :data:`OFFSET_UNIT` cells. Cells of one person
vote for one centre wherever the person is cut apart, and cells of two people touching at the
same depth vote for two (instance votes, as in Panoptic-DeepLab; the segmenter's
``SegmenterConfig.cell_votes``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['OFFSET_UNIT', 'PersonCellNet']

OFFSET_UNIT = 16.0
"""Grid cells per unit of the offset channels."""


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1,
             groups: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation, groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _SepBlock(nn.Module):
    """Residual depthwise 3x3 + pointwise 1x1."""

    def __init__(self, c: int, dilation: int = 1) -> None:
        super().__init__()
        self.dw = _conv_bn(c, c, 3, 1, dilation, groups=c)
        self.pw = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.pw(self.dw(x)))


class PersonCellNet(nn.Module):
    """Person logits (B, 1, Hg, Wg) of grid features (B, in_channels, Hg, Wg).

    Args:
        in_channels: input planes (5: ``core.segmentation.CELL_FEATURES``).
        widths: channels at 1/2, 1/4 and 1/8 of the grid.
        offsets: also output the centre offsets (channels 1-2: rows, columns / OFFSET_UNIT).
    """

    def __init__(self, in_channels: int = 5, widths: tuple = (16, 32, 48),
                 offsets: bool = False) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.in_channels = in_channels
        self.widths = tuple(widths)
        self.offsets = bool(offsets)
        self.stem = _conv_bn(in_channels, c1, 3, 2)
        self.s1 = _SepBlock(c1)
        self.down2 = _conv_bn(c1, c2, 3, 2)
        self.s2 = nn.Sequential(_SepBlock(c2), _SepBlock(c2, 2))
        self.down3 = _conv_bn(c2, c3, 3, 2)
        self.s3 = nn.Sequential(_SepBlock(c3, 2), _SepBlock(c3, 4), _SepBlock(c3, 2))
        self.up3 = nn.Sequential(nn.Conv2d(c3, c2, 1, bias=False), nn.BatchNorm2d(c2))
        self.d2 = _SepBlock(c2)
        self.up2 = nn.Sequential(nn.Conv2d(c2, c1, 1, bias=False), nn.BatchNorm2d(c1))
        self.d1 = _SepBlock(c1)
        self.head = nn.Conv2d(c1, 1, 1)
        # offsets from the 1/4 decoder through their own block: person centres need no fine
        # detail, and sharing the last layers with the classification cost it recall
        self.off_head = nn.Sequential(_SepBlock(c2), nn.Conv2d(c2, 2, 1)) if offsets else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        f1 = self.s1(self.stem(x))
        f2 = self.s2(self.down2(f1))
        f3 = self.s3(self.down3(f2))
        g2 = self.d2(F.relu(f2 + F.interpolate(self.up3(f3), size=f2.shape[-2:],
                                               mode='bilinear', align_corners=False)))
        g1 = self.d1(F.relu(f1 + F.interpolate(self.up2(g2), size=f1.shape[-2:],
                                               mode='bilinear', align_corners=False)))
        out = F.interpolate(self.head(g1), size=size, mode='bilinear', align_corners=False)
        if self.off_head is None:
            return out
        off = F.interpolate(self.off_head(g2), size=size, mode='bilinear', align_corners=False)
        return torch.cat([out, off], dim=1)
