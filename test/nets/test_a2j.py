"""A2J: anchor lattice, head/anchor alignment, in-graph decode, loss (Eq. 4-7), ONNX round trip."""
import numpy as np
import pytest
import torch

from kinpose_ros.nets.a2j import A2J, a2j_loss, anchor_grid, smooth_l1_tau
from kinpose_ros.nets.export import INPUT_NAME, export_onnx

torch.set_num_threads(1)
J = 3


def small_a2j(size=(64, 64), **kw) -> A2J:
    torch.manual_seed(0)
    args = dict(width=0.25, head_width=16, head_depth=1)
    args.update(kw)
    return A2J(J, size, **args)


@pytest.mark.parametrize('size,count', [((288, 288), 5184), ((192, 192), 2304),
                                        ((160, 160), 1600), ((64, 128), 512)])
def test_anchor_lattice(size, count):
    anchors = anchor_grid(*size).numpy()
    assert anchors.shape == (count, 2)
    # every 4 px from 2, each lattice point exactly once
    u, v = np.meshgrid(np.arange(2, size[1], 4), np.arange(2, size[0], 4))
    expected = {(float(a), float(b)) for a, b in zip(u.ravel(), v.ravel())}
    assert {tuple(map(float, p)) for p in anchors} == expected
    assert len(expected) == count


def test_anchor_grid_rejects_sizes_off_the_feature_grid():
    with pytest.raises(ValueError, match='multiples of 16'):
        anchor_grid(150, 160)


def test_head_channels_land_on_their_anchor():
    """A head value written for (cell, row_in_cell, col_in_cell) reaches that spot's anchor."""
    model = small_a2j((32, 48))
    b, h, w, per = 1, 2, 3, 4
    y = torch.zeros(b, 2 * per * per * J, h, w)
    for k in range(2):
        for r in range(per):
            for c in range(per):
                for j in range(J):
                    ch = ((k * per + r) * per + c) * J + j
                    for cy in range(h):
                        for cx in range(w):
                            # encode the anchor's expected (u, v) for k = 0 / 1
                            y[0, ch, cy, cx] = (cx * 16 + 2 + 4 * c) if k == 0 else (
                                cy * 16 + 2 + 4 * r)
    per_anchor = model._per_anchor(y, 2)  # (B, 2, A, J)
    for j in range(J):
        torch.testing.assert_close(per_anchor[0, :, :, j].t(), model.anchors)


def test_forward_shapes_160_and_288():
    for size, count in (((160, 160), 1600), ((288, 288), 5184)):
        model = small_a2j(size).eval()
        assert model.num_anchors == count
        f3, f4 = model.backbone(torch.zeros(1, 1, *size))
        assert f3.shape[-2:] == f4.shape[-2:] == (size[0] // 16, size[1] // 16)
        with torch.no_grad():
            out = model(torch.randn(2, 1, *size))
        assert out['uv'].shape == (2, J, 2)
        assert out['z'].shape == out['confidence'].shape == (2, J)
        assert out['logits'].shape == out['depths'].shape == out['weights'].shape == (2, count, J)
        assert out['offsets'].shape == (2, count, J, 2)
        conf = out['confidence']
        assert bool(((conf > 0) & (conf <= 1)).all())


def test_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match=r'expected \(B, 1, 64, 64\)'):
        small_a2j()(torch.zeros(1, 1, 64, 80))


def numpy_decode(anchors, logits, offsets, depths):
    """Reference decode: logits (B, A, J), offsets (B, A, J, 2), depths (B, A, J)."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    w = e / e.sum(axis=1, keepdims=True)
    votes = anchors[None, :, None, :] + offsets
    uv = np.einsum('baj,bajk->bjk', w, votes)
    z = np.einsum('baj,baj->bj', w, depths)
    spread = np.sqrt(np.einsum('baj,baj->bj', w, ((votes - uv[:, None]) ** 2).sum(-1)))
    return uv, z, spread


def test_decode_matches_numpy():
    model = small_a2j()
    rng = np.random.default_rng(1)
    a = model.num_anchors
    logits = rng.normal(0, 3, (2, a, J))
    offsets = rng.normal(0, 10, (2, a, J, 2))
    depths = rng.normal(0, 5, (2, a, J))
    uv, z, spread = numpy_decode(model.anchors.double().numpy(), logits, offsets, depths)
    t = [torch.tensor(v, dtype=torch.float32) for v in (logits, offsets, depths)]
    out = model.decode(t[0], t[1].permute(0, 3, 1, 2), t[2])
    np.testing.assert_allclose(out['uv'].numpy(), uv, atol=1e-3)
    np.testing.assert_allclose(out['z'].numpy(), z, atol=1e-4)
    np.testing.assert_allclose(out['spread'].numpy(), spread, atol=1e-3)
    np.testing.assert_allclose(out['confidence'].numpy(), np.exp(-spread / (0.05 * 64)),
                               atol=1e-5)


def test_smooth_l1_tau_known_values():
    x = torch.tensor([0.0, 0.5, -0.5, 2.0, 1.0])
    torch.testing.assert_close(smooth_l1_tau(x, 1.0), torch.tensor([0.0, 0.125, 0.125, 1.5, 0.5]))
    torch.testing.assert_close(smooth_l1_tau(torch.tensor([1.0, 4.0]), 3.0),
                               torch.tensor([1 / 6, 2.5]))


def exact_heads(model, target_anchor_idx, target_z):
    """Heads that put all weight on one anchor per joint, zero offsets, depth = target."""
    a = model.num_anchors
    logits = torch.full((1, a, J), -50.0)
    logits[0, target_anchor_idx, torch.arange(J)] = 50.0
    depths = target_z[:, None, :].expand(1, a, J).clone()
    return logits, torch.zeros(1, 2, a, J), depths


def test_loss_zero_at_exact_target_and_paper_value_off_target():
    model = small_a2j()
    idx = torch.tensor([0, 37, 100])
    target_uv = model.anchors[idx][None]
    target_z = torch.tensor([[1.0, -2.0, 0.5]])
    out = model.decode(*exact_heads(model, idx, target_z))
    out['anchor_uv'] = torch.matmul(model.anchors.t(), out['weights']).transpose(1, 2)
    loss = a2j_loss(out, target_uv, target_z)
    assert float(loss['loss']) < 1e-6
    # u off by 2 px on joint 0 (L_1 = 1.5 in both uv and surrounding terms), z off by 1 on joint 1
    # (L_3 = 1/6): loss = 3 * (0.5 * 1.5 + 1/6) + 1.5
    shifted = target_uv.clone()
    shifted[0, 0, 0] += 2.0
    z2 = target_z.clone()
    z2[0, 1] += 1.0
    loss = a2j_loss(out, shifted, z2)
    assert float(loss['loss']) == pytest.approx(3 * (0.5 * 1.5 + 1 / 6) + 1.5, abs=1e-5)


def test_gradients_reach_backbone_and_all_heads():
    model = small_a2j()
    out = model(torch.randn(2, 1, 64, 64))
    loss = a2j_loss(out, torch.rand(2, J, 2) * 64, torch.randn(2, J))['loss']
    loss.backward()
    for mod in (model.backbone.conv1, model.proposal_head[-1], model.offset_head[-1],
                model.depth_head[-1]):
        assert mod.weight.grad is not None and float(mod.weight.grad.abs().sum()) > 0


def test_loss_shape_error():
    model = small_a2j()
    out = model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match='target_uv'):
        a2j_loss(out, torch.zeros(1, J, 3), torch.zeros(1, J))


def test_onnx_round_trip_matches_pytorch(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    model = small_a2j((64, 96)).eval()
    path = tmp_path / 'a2j.onnx'
    names = export_onnx(model, path, torch.randn(1, 1, 64, 96))
    assert names == ('uv', 'z', 'confidence')
    assert not model.training
    x = torch.randn(3, 1, 64, 96)  # batch differs from the export example: dynamic axis
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    assert [o.name for o in sess.get_outputs()] == list(names)
    got = sess.run(None, {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        ref = model.export_forward(x)
    # uv as a fraction of the crop width, z and confidence directly
    np.testing.assert_allclose(got[0] / 96, ref[0].numpy() / 96, atol=1e-4)
    np.testing.assert_allclose(got[1], ref[1].numpy(), atol=1e-4)
    np.testing.assert_allclose(got[2], ref[2].numpy(), atol=1e-4)
