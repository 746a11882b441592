"""End to end on the CPU in seconds: train the tiny config, resume exactly, evaluate the
checkpoint and its ONNX export through ``kinpose eval --model``."""
import argparse
import csv
import json
import math
import shutil

import pytest
import torch

from kinpose_ros.training.config import load_config
from kinpose_ros.training.trainer import Trainer, run_training

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """(3-epoch config, a run stopped after epoch 2 (as if killed), an uninterrupted run)."""
    cfg = load_config('tiny')
    cfg.threads, cfg.epochs = 1, 3
    two = tmp_path_factory.mktemp('two')
    Trainer(cfg, two, progress=False).fit(until=2)
    three = tmp_path_factory.mktemp('three')
    run_training(cfg, three, progress=False)
    return cfg, two, three


def test_two_epochs_write_checkpoints_csv_and_png(tiny_run):
    _, two, _ = tiny_run
    for name in ('last.pt', 'best.pt', 'metrics.csv', 'metrics.png', 'config.yaml'):
        assert (two / name).is_file(), name
    rows = list(csv.DictReader(open(two / 'metrics.csv')))
    assert [int(r['epoch']) for r in rows] == [1, 2]
    for r in rows:
        assert math.isfinite(float(r['train_loss'])) and float(r['train_loss']) > 0
        assert 0.0 <= float(r['val_map_10cm']) <= 100.0 and float(r['val_mpjpe_mm']) > 0
    assert (two / 'metrics.png').read_bytes()[:4] == b'\x89PNG'


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(tiny_run):
    from kinpose_ros.nets.checkpoint import load_checkpoint

    _, two, _ = tiny_run
    data = torch.load(two / 'last.pt', map_location='cpu', weights_only=True)
    assert data['epoch'] == 2 and data['family'] == 'a2j' and data['step'] == 4
    assert data['card']['output_scales']['z'] == pytest.approx(50.0)
    assert data['card']['input']['normalisation']['center'] == 'proposal_centroid'
    assert 'state' in data['optimizer'] and len(data['history']) == 2
    model, info = load_checkpoint(two / 'last.pt')
    assert info.model_config['input_size'] == [64, 64] and info.skeleton.name == 'body15'


def test_resume_continues_at_epoch_3_with_identical_state(tiny_run, tmp_path):
    cfg3, two_done, three = tiny_run
    two = tmp_path / 'run'
    shutil.copytree(two_done, two)
    trainer = Trainer(cfg3, two, progress=False)
    trainer.load(two / 'last.pt')
    assert trainer.epoch == 2
    trainer.fit(resume=True)
    assert trainer.epoch == 3
    resumed = torch.load(two / 'last.pt', weights_only=True)
    straight = torch.load(three / 'last.pt', weights_only=True)
    assert resumed['epoch'] == straight['epoch'] == 3
    for key, value in straight['state_dict'].items():
        assert torch.equal(resumed['state_dict'][key], value), key
    for pid, state in straight['optimizer']['state'].items():
        for key, value in state.items():
            assert torch.equal(resumed['optimizer']['state'][pid][key], value), (pid, key)
    assert [r['epoch'] for r in resumed['history']] == [1, 2, 3]
    assert resumed['history'][-1]['train_loss'] == straight['history'][-1]['train_loss']


def _eval_json(model, capsys, *extra: str) -> dict:
    from kinpose_ros.tools import evaluate

    parser = argparse.ArgumentParser()
    evaluate.add_parser(parser.add_subparsers(), 'eval')
    args = parser.parse_args(['eval', '--model', str(model), '--data',
                              'fabricated:seed=77,n=5,size=[96,72]', '--json', *extra])
    assert evaluate.run(args) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_model_on_checkpoint_and_onnx_export_agree(tiny_run, tmp_path, capsys):
    from kinpose_ros.inference.model_card import ModelCard
    from kinpose_ros.inference.model_export import export_checkpoint

    _, _, three = tiny_run
    torch_figs = _eval_json(three / 'last.pt', capsys)
    report = export_checkpoint(three / 'last.pt', tmp_path / 'tiny.onnx', check=False)
    onnx_figs = _eval_json(report.onnx_path, capsys, '--record', 'heldout')
    for figs in (torch_figs, onnx_figs):
        assert figs['n_people'] == 5 and len(figs['per_joint_map_10cm']) == 15
        for key in ('map_10cm', 'mean_error_mm', 'pck_2d_5pct', 'bone_std_mm'):
            assert math.isfinite(figs[key]), key
    assert onnx_figs['backend'].startswith('onnxruntime')
    assert onnx_figs['mean_error_mm'] == pytest.approx(torch_figs['mean_error_mm'], abs=0.1)
    # --record stored the figures in the (still valid) card, training's validation kept apart
    card = ModelCard.load(report.card_path)
    assert card.metrics['heldout']['map_10cm'] == pytest.approx(onnx_figs['map_10cm'])
    assert card.metrics['validation']['epoch'] == 3
    assert card.metrics['validation']['data'] == 'fabricated seed 1000, 6 frames'
