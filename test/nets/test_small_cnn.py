"""SmallCNN ('cnn5'): shapes, widths, factory hook, use inside KinematicRegressor."""
import pytest
import torch

from kinpose_ros.nets.backbones import build_backbone
from kinpose_ros.nets.kinematic import KinematicRegressor
from kinpose_ros.nets.small_cnn import SmallCNN

torch.set_num_threads(1)


def test_output_is_one_cell_for_any_input_size():
    net = SmallCNN().eval()
    assert net.channels == (256, 256)
    with torch.no_grad():
        for hw in ((128, 128), (96, 64)):
            f3, f4 = net(torch.zeros(2, 1, *hw))
            assert f3.shape == (2, 256, 1, 1) and f4 is f3


def test_width_and_channels():
    net = SmallCNN(width=0.5, in_channels=3, features=32)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 32]
    assert convs[0].in_channels == 3 and convs[0].stride == (2, 2)
    assert net.channels == (32, 32)
    with pytest.raises(ValueError, match='width'):
        SmallCNN(width=0)


def test_factory_hook_and_error_lists_it():
    assert isinstance(build_backbone('cnn5', width=0.5), SmallCNN)
    with pytest.raises(ValueError, match='cnn5'):
        build_backbone('vgg16')


def test_features_keep_position():
    # a dot moved by 32 px (a multiple of the stride) changes the features: the FC layer sees
    # where it is, unlike global average pooling of a conv map
    torch.manual_seed(0)
    net = SmallCNN().eval()
    a, b = torch.zeros(2, 1, 1, 128, 128)
    a[..., 40:44, 40:44] = 1
    b[..., 72:76, 72:76] = 1
    with torch.no_grad():
        fa, fb = net(a)[0], net(b)[0]
    assert float((fa - fb).norm()) > 1e-3 * float(fa.norm())


@pytest.mark.parametrize('mode', ['kinematic', 'direct_joint', 'direct_parameter'])
def test_kinematic_regressor_with_cnn5(mode):
    torch.manual_seed(0)
    net = KinematicRegressor('toy_level2', backbone='cnn5', width=0.5, hidden=32, mode=mode)
    out = net(torch.rand(3, 1, 128, 128))
    assert out['joints'].shape == (3, 6, 3)
    out['joints'].sum().backward()
    assert net.backbone.fc[0].weight.grad is not None
