"""Export: ONNX Runtime equals PyTorch, every op is one TensorRT 10 parses, checkpoints, CLI."""
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from kinpose_ros.inference.model_card import ModelCard
from kinpose_ros.inference.model_export import (
    PARITY_TOLERANCE,
    export_checkpoint,
    export_model,
    random_model,
    verify_export,
)
from kinpose_ros.inference.tensorrt_ops import (
    TENSORRT10_ONNX_OPS,
    check_onnx_ops,
    graph_op_types,
)
from kinpose_ros.nets.checkpoint import load_checkpoint, save_checkpoint
from kinpose_ros.nets.export import ONNX_OPSET

torch.set_num_threads(1)
FAMILIES = ('a2j', 'kinematic', 'direct_joint', 'lite')


@pytest.mark.parametrize('family', FAMILIES)
def test_onnx_runtime_matches_pytorch(small_models, family):
    model, _ = load_checkpoint(small_models[family]['checkpoint'])
    card = ModelCard.load(small_models[family]['card'])
    errors = verify_export(model, card, seed=5)
    assert set(errors) == set(card.output_names)
    for spec in card.outputs:  # joints within 1e-3 px and 1e-4 m
        assert errors[spec.name] <= PARITY_TOLERANCE[spec.unit], spec.name
    assert PARITY_TOLERANCE['crop_px'] == 1e-3 and PARITY_TOLERANCE['m_crop_centre'] == 1e-4


@pytest.mark.parametrize('family', FAMILIES)
def test_graph_ops_are_all_tensorrt_10(small_models, family):
    ops, foreign, opset = graph_op_types(small_models[family]['onnx'])
    assert opset == ONNX_OPSET == 17
    assert not foreign
    assert 'Conv' in ops
    unsupported = [op for op in ops if op not in TENSORRT10_ONNX_OPS]
    assert unsupported == [], f'{family} graph uses ops TensorRT 10 cannot parse: {unsupported}'
    check = check_onnx_ops(small_models[family]['onnx'])
    assert check.ok and check.newer_than_10_0 == []


def test_op_check_flags_unsupported_and_custom_ops(tmp_path):
    nodes = [helper.make_node('Unique', ['x'], ['y']),
             helper.make_node('MyPlugin', ['y'], ['z'], domain='com.example')]
    graph = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info(
        'x', TensorProto.FLOAT, [4])], [helper.make_tensor_value_info('z', TensorProto.FLOAT,
                                                                      [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 21)])
    path = tmp_path / 'bad.onnx'
    onnx.save(model, path)
    check = check_onnx_ops(path)
    assert not check.ok
    assert check.unsupported == ['Unique']
    assert check.foreign_domains == ['com.example::MyPlugin']
    assert not check.opset_ok  # 21 > 20, the newest opset every TensorRT 10 reads
    assert 'Unique' in check.message() and 'opset 21' in check.message()


def test_fixed_batch_export_and_card(tmp_path):
    model, config, sk = random_model('a2j', input_size=(32, 32), width=0.25, head_width=8,
                                     head_depth=1)
    report = export_model(model, 'a2j', config, sk, tmp_path / 'fixed.onnx', batch=2,
                          card_fields={'metrics': {'map_10cm': 0.5}}, commit='abc')
    card = ModelCard.load(report.card_path)
    assert card.batch == {'dynamic': False, 'max': 2}
    assert (card.commit, card.metrics['map_10cm'], card.skeleton) == ('abc', 0.5, 'body15')
    dims = onnx.load(report.onnx_path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 1, 32, 32]
    assert report.tensorrt_ok and report.max_abs_error['uv'] < 1e-3
    with pytest.raises(ValueError, match='give at most one'):
        export_model(model, 'a2j', config, sk, tmp_path / 'x.onnx', batch=2,
                     dynamic_batch_max=4)


def test_export_from_checkpoint_keeps_training_fields(tmp_path):
    model, config, sk = random_model('kinematic', input_size=(32, 32), width=0.25,
                                     head_width=8)
    ckpt = save_checkpoint(tmp_path / 'k.pt', model, 'kinematic', config, sk, card={
        'name': 'kin_test', 'training': {'data': 'synthetic seed 1', 'epochs': 2},
        'input': {'normalisation': {'half_range_m': 1.5}}, 'crop': {'margin': 0.2}},
        epoch=2)
    report = export_checkpoint(ckpt, tmp_path / 'out' / 'kin.onnx', dynamic_batch_max=3)
    card = ModelCard.load(report.card_path)
    assert card.name == 'kin_test' and card.training['epochs'] == 2
    assert card.training['checkpoint'] == 'k.pt'
    assert card.input.normalisation.half_range_m == 1.5 and card.crop.margin == 0.2
    assert card.output_names == ('joints', 'root_translation', 'root_rotation', 'joint_angles')


def test_checkpoint_errors(tmp_path):
    torch.save({'weights': torch.zeros(2)}, tmp_path / 'other.pt')
    with pytest.raises(ValueError, match="expected a dict with format 'kinpose-checkpoint'"):
        load_checkpoint(tmp_path / 'other.pt')
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / 'none.pt')
    model, config, sk = random_model('a2j', input_size=(32, 32), width=0.25, head_width=8,
                                     head_depth=1)
    config['head_width'] = 16  # weights no longer fit the configuration
    save_checkpoint(tmp_path / 'bad.pt', model, 'a2j', config, sk)
    with pytest.raises((ValueError, RuntimeError), match='size mismatch|do not fit'):
        load_checkpoint(tmp_path / 'bad.pt')


def test_cli_export_random(tmp_path, capsys):
    from kinpose_ros.tools.cli import main

    out = tmp_path / 'lite_random.onnx'
    rc = main(['export', '--random', 'lite', '--out', str(out), '--dynamic-batch', '2',
               '--input-size', '32', '40', '--json'])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result['tensorrt_ok'] is True
    assert result['max_abs_error']['uv'] <= 1e-3
    card = ModelCard.load(out)
    assert card.family == 'lite' and card.input_size == (32, 40)
    assert 'RANDOM WEIGHTS' in card.description
    rc = main(['export', '--checkpoint', str(tmp_path / 'missing.pt'), '--out', str(out)])
    assert rc == 2


def test_random_model_changes_batchnorm_statistics():
    model, _, _ = random_model('a2j', input_size=(32, 32), width=0.25, head_width=8,
                               head_depth=1, seed=1)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not np.allclose(bn.running_var.numpy(), 1.0)
