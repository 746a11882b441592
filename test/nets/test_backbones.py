"""ResNet backbones: output stride 16, channel widths, dilated layer4, factory errors."""
import pytest
import torch

from kinpose_ros.nets.backbones import BACKBONES, build_backbone

torch.set_num_threads(1)


@pytest.mark.parametrize('name,c3,c4', [('resnet18', 64, 128), ('resnet34', 64, 128),
                                        ('resnet50', 256, 512)])
def test_feature_shapes_stride16(name, c3, c4):
    net = build_backbone(name, width=0.25, in_channels=1).eval()
    with torch.no_grad():
        f3, f4 = net(torch.zeros(2, 1, 96, 64))
    assert net.channels == (c3, c4)
    assert f3.shape == (2, c3, 6, 4)
    assert f4.shape == (2, c4, 6, 4)


def test_parameter_count_matches_imagenet_resnet18_without_fc():
    # torchvision resnet18: 11,689,512 parameters, of which the fc layer holds 513,000.
    net = build_backbone('resnet18', width=1.0, in_channels=3)
    assert sum(p.numel() for p in net.parameters()) == 11_689_512 - 513_000


def test_layer4_dilated_except_first_block():
    for name in BACKBONES:
        net = build_backbone(name, width=0.25)
        first, rest = net.layer4[0], list(net.layer4)[1:]
        assert first.conv2.stride == (1, 1) and first.conv2.dilation == (1, 1)
        assert all(b.conv2.dilation == (2, 2) and b.conv2.padding == (2, 2) for b in rest)


def test_rgbd_input_and_width():
    net = build_backbone('ResNet18', width=0.5, in_channels=4)
    assert net.conv1.in_channels == 4 and net.conv1.out_channels == 32
    assert net.channels == (128, 256)


def test_unknown_name_and_bad_arguments():
    with pytest.raises(ValueError, match='resnet18'):
        build_backbone('vgg16')
    with pytest.raises(ValueError, match='width'):
        build_backbone('resnet18', width=0.0)
    with pytest.raises(ValueError, match='in_channels'):
        build_backbone('resnet18', in_channels=0)
