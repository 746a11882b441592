"""Backends: same outputs as PyTorch, chunking/padding, input checks, and the automatic choice."""
import logging

import numpy as np
import pytest
import torch

from kinpose_ros.inference.backends import (
    Availability,
    Backend,
    OnnxRuntimeBackend,
    TorchBackend,
    choose_backend,
    create_backend,
    probe_availability,
)
from kinpose_ros.inference.model_card import ModelCard
from kinpose_ros.inference.model_export import PARITY_TOLERANCE, export_model, random_model

torch.set_num_threads(1)


def crops_for(card: ModelCard, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, card.input.channels, *card.input_size)).astype(np.float32)


def available_backends(files: dict) -> list:
    """Every backend this machine can run for one model (TensorRT only with GPU + tensorrt)."""
    backends = [OnnxRuntimeBackend(files['card'], 'cpu', threads=1)]
    avail = probe_availability(files['checkpoint'])
    if avail.ort_cuda and avail.gpu:
        backends.append(OnnxRuntimeBackend(files['card'], 'cuda'))
    if avail.tensorrt and avail.gpu:
        from kinpose_ros.inference.tensorrt import TensorRTBackend

        backends.append(TensorRTBackend(files['card'], precision='fp32'))
    return backends


@pytest.mark.parametrize('family', ['a2j', 'kinematic', 'direct_joint', 'lite'])
def test_every_backend_matches_pytorch(small_models, family):
    files = small_models[family]
    reference = TorchBackend(files['checkpoint'], device='cpu', card=files['card'])
    assert reference.name == 'torch-cpu' and isinstance(reference, Backend)
    x = crops_for(reference.card, 3, seed=1)
    want = reference(x)
    for backend in available_backends(files):
        got = backend(x)
        assert set(got) == set(reference.card.output_names)
        for spec in reference.card.outputs:
            assert got[spec.name].shape == (3, *spec.shape[1:])
            assert got[spec.name].dtype == np.float32
            err = np.abs(got[spec.name] - want[spec.name]).max()
            assert err <= PARITY_TOLERANCE[spec.unit], (backend.name, spec.name, err)


def test_torch_backend_without_card_derives_it(small_models):
    backend = TorchBackend(small_models['a2j']['checkpoint'])
    assert backend.card.family == 'a2j' and backend.card.output_names == ('uv', 'z',
                                                                          'confidence')
    with pytest.raises(ValueError, match='does not describe checkpoint'):
        TorchBackend(small_models['a2j']['checkpoint'], card=small_models['lite']['card'])


def test_chunks_above_max_batch_and_empty_batch(small_models):
    backend = OnnxRuntimeBackend(small_models['a2j']['card'], threads=1)
    assert backend.max_batch == 4
    x = crops_for(backend.card, 6, seed=2)
    whole = backend(x)
    parts = [backend(x[:4]), backend(x[4:])]
    for name in backend.output_names:
        np.testing.assert_allclose(whole[name], np.concatenate([p[name] for p in parts]),
                                   atol=1e-5)
    empty = backend(x[:0])
    assert empty['uv'].shape == (0, 15, 2) and empty['z'].shape == (0, 15)


def test_fixed_batch_graph_is_padded(tmp_path):
    model, config, sk = random_model('lite', input_size=(24, 32))
    export_model(model, 'lite', config, sk, tmp_path / 'fixed.onnx', batch=3, check=False)
    backend = OnnxRuntimeBackend(tmp_path / 'fixed.json', threads=1)
    assert backend.fixed_batch and backend.max_batch == 3
    x = crops_for(backend.card, 5, seed=3)
    out = backend(x)
    assert out['uv'].shape == (5, 15, 2)
    with torch.no_grad():
        ref = model.export_forward(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(out['uv'], ref, atol=1e-3)


@pytest.mark.parametrize('bad,match', [
    (np.zeros((2, 64, 64), np.float32), r'crops: expected \(N, 1, 64, 64\)'),
    (np.zeros((2, 1, 32, 64), np.float32), r'got \(2, 1, 32, 64\)'),
    (np.zeros((2, 1, 64, 64), np.float64), 'expected float32, got float64'),
])
def test_wrong_input_raises(small_models, bad, match):
    backend = OnnxRuntimeBackend(small_models['a2j']['card'], threads=1)
    with pytest.raises(ValueError, match=match):
        backend(bad)


def test_missing_onnx_and_cuda_requests(small_models, tmp_path):
    card = ModelCard.load(small_models['a2j']['card'])
    card.path = tmp_path / card.path.name  # the card now points at a folder without the ONNX
    with pytest.raises(FileNotFoundError, match='does not exist'):
        OnnxRuntimeBackend(card)
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda'"):
        OnnxRuntimeBackend(small_models['a2j']['card'], device='gpu')


def everything(**kw) -> Availability:
    flags = dict(gpu=True, tensorrt=True, ort=True, ort_cuda=True, torch=True, checkpoint=True)
    flags.update(kw)
    return Availability(**flags, reasons={})


@pytest.mark.parametrize('avail,kind', [
    (everything(), 'tensorrt'),
    (everything(tensorrt=False), 'onnxruntime-cuda'),
    (everything(gpu=False), 'onnxruntime-cpu'),
    (everything(tensorrt=False, ort_cuda=False), 'onnxruntime-cpu'),
    (everything(gpu=False, ort=False), 'torch'),
])
def test_automatic_choice_order(avail, kind):
    assert choose_backend(avail)[0] == kind


def test_forced_choice_and_nothing_available():
    assert choose_backend(everything(), 'onnxruntime-cpu')[0] == 'onnxruntime-cpu'
    assert choose_backend(everything(gpu=False), 'onnxruntime')[0] == 'onnxruntime-cpu'
    assert choose_backend(everything(), 'onnxruntime')[0] == 'onnxruntime-cuda'
    with pytest.raises(RuntimeError, match="backend 'tensorrt' was requested but cannot run"):
        choose_backend(everything(tensorrt=False), 'tensorrt')
    with pytest.raises(RuntimeError, match='no inference backend can run here'):
        choose_backend(everything(gpu=False, ort=False, checkpoint=False))
    with pytest.raises(ValueError, match='backend: expected one of'):
        choose_backend(everything(), 'tflite')


def test_auto_choice_on_this_machine_is_logged(small_models, caplog):
    avail = probe_availability()
    if avail.tensorrt and avail.gpu:
        pytest.skip('this machine has TensorRT and a GPU; the CPU fallback is not what runs')
    caplog.set_level(logging.INFO, logger='kinpose_ros.inference')
    backend = create_backend(small_models['a2j']['card'], 'auto', threads=1)
    expected = 'onnxruntime-cuda' if (avail.gpu and avail.ort_cuda) else 'onnxruntime-cpu'
    assert backend.name == expected
    message = ' '.join(r.getMessage() for r in caplog.records)
    assert f'a2j_small: {expected}' in message
    assert 'tensorrt' in message  # the reason names why TensorRT was skipped
    torch_backend = create_backend(small_models['a2j']['card'], 'torch',
                                   checkpoint=small_models['a2j']['checkpoint'])
    assert torch_backend.name.startswith('torch-')
    with pytest.raises(RuntimeError, match='no training checkpoint given'):
        create_backend(small_models['a2j']['card'], 'torch')


def test_tensorrt_backend_on_gpu(small_models, tmp_path):
    avail = probe_availability()
    if not (avail.gpu and avail.tensorrt):
        pytest.skip(f'TensorRT backend needs a CUDA GPU and tensorrt: '
                    f'{avail.reasons["gpu"]}; {avail.reasons["tensorrt"]}')
    from kinpose_ros.inference.tensorrt import TensorRTBackend

    files = small_models['a2j']
    backend = TensorRTBackend(files['card'], cache_dir=tmp_path, precision='fp32')
    x = crops_for(backend.card, 4)
    ref = TorchBackend(files['checkpoint'], card=files['card'])(x)
    got = backend(x)
    assert np.abs(got['uv'] - ref['uv']).max() < 1e-2
    again = TensorRTBackend(files['card'], cache_dir=tmp_path, precision='fp32', build=False)
    assert again.engine_path == backend.engine_path
