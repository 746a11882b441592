"""LiteNet (DNN33): paper feature sizes, decode to crop pixels, mean image, ONNX round trip."""
import numpy as np
import pytest
import torch

from kinpose_ros.nets.export import INPUT_NAME, export_onnx
from kinpose_ros.nets.lite import LiteNet, lite_loss

torch.set_num_threads(1)


@pytest.mark.parametrize('size,feat', [((50, 60), (13, 15)), ((50, 61), (13, 16))])
def test_feature_maps_follow_the_paper(size, feat):
    net = LiteNet(7, size)
    assert net.feature_size == feat
    with torch.no_grad():
        assert net.features(torch.zeros(1, 1, *size)).shape == (1, 33, *feat)
        out = net(torch.randn(2, 1, *size))
    assert out['uv'].shape == (2, 7, 2) and out['z'].shape == (2, 7)
    torch.testing.assert_close(out['confidence'], torch.ones(2, 7))


def test_parameter_count_dnn33():
    net = LiteNet(7, (50, 60))
    expected = (5 * 5 * 20 + 20) + (5 * 5 * 20 * 33 + 33) + (13 * 15 * 33 * 500 + 500) + (
        500 * 21 + 21)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_decode_to_crop_pixels_and_mean_subtraction():
    net = LiteNet(2, (50, 60))
    with torch.no_grad():
        net.joints.weight.zero_()
        net.joints.bias.copy_(torch.tensor([0.5, 0.25, 0.1, 1.0, 0.0, -0.3]))
        out = net(torch.randn(1, 1, 50, 60))
    torch.testing.assert_close(out['uv'], torch.tensor([[[30.0, 12.5], [60.0, 0.0]]]))
    torch.testing.assert_close(out['z'], torch.tensor([[0.1, -0.3]]))
    mean = torch.rand(50, 60)
    net = LiteNet(2, (50, 60))
    with torch.no_grad():
        ref = net(torch.zeros(1, 1, 50, 60))['uv']
        net.set_input_mean(mean)
        torch.testing.assert_close(net(mean[None, None])['uv'], ref)
    assert 'input_mean' in net.state_dict()
    with pytest.raises(ValueError, match='mean'):
        net.set_input_mean(torch.zeros(50, 61))


def test_confidence_head_and_loss():
    net = LiteNet(3, (50, 60), confidence_head=True)
    out = net(torch.randn(2, 1, 50, 60))
    conf = out['confidence']
    assert conf.shape == (2, 3) and bool(((conf > 0) & (conf < 1)).all())
    loss = lite_loss(out, out['uv'].detach() + torch.tensor([6.0, 0.0]), out['z'].detach(),
                     (50, 60))
    # each of 3 joints off by 6 px = 0.1 of the width: 0.5 * 3 * 0.01
    assert float(loss.detach()) == pytest.approx(0.015, rel=1e-4)
    loss.backward()
    assert float(net.features[0].weight.grad.abs().sum()) > 0


def test_onnx_round_trip(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    net = LiteNet(7, (50, 61), confidence_head=True).eval()
    net.set_input_mean(torch.rand(1, 50, 61))
    path = tmp_path / 'lite.onnx'
    names = export_onnx(net, path, torch.randn(1, 1, 50, 61))
    x = torch.randn(4, 1, 50, 61)
    got = ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).run(
        None, {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        ref = net.export_forward(x)
    assert names == ('uv', 'z', 'confidence')
    np.testing.assert_allclose(got[0] / 61, ref[0].numpy() / 61, atol=1e-4)
    for a, b in zip(got[1:], ref[1:]):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)
