"""Small real models for the inference tests: exported once per session into a temp folder.

Widths of 0.25 and 64x64 crops keep every export and inference call in the milliseconds on two
shared cores; the code paths are those of the full-size models.
"""
from pathlib import Path

import pytest

SMALL = {
    'a2j': dict(input_size=(64, 64), width=0.25, head_width=16, head_depth=1),
    'kinematic': dict(input_size=(64, 64), width=0.25, head_width=16),
    'direct_joint': dict(input_size=(64, 64), width=0.25, head_width=16),
    'lite': dict(input_size=(40, 48)),
}


@pytest.fixture(scope='session')
def small_models(tmp_path_factory) -> dict:
    """family -> {'onnx': Path, 'card': Path, 'checkpoint': Path} (dynamic batch up to 4)."""
    import torch

    from kinpose_ros.inference.model_export import export_model, random_model
    from kinpose_ros.nets.checkpoint import save_checkpoint

    torch.set_num_threads(1)
    root = Path(tmp_path_factory.mktemp('models'))
    models = {}
    for family, kw in SMALL.items():
        model, config, sk = random_model(family, seed=3, **kw)
        onnx_path = root / f'{family}_small.onnx'
        export_model(model, family, config, sk, onnx_path, dynamic_batch_max=4, check=False)
        ckpt = save_checkpoint(root / f'{family}_small.pt', model, family, config, sk,
                               card={'name': f'{family}_small'})
        models[family] = {'onnx': onnx_path, 'card': onnx_path.with_suffix('.json'),
                          'checkpoint': ckpt}
    return models
