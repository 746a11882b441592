"""``kinpose toy``: a tiny training run of every method, the CLI, the report."""
import argparse
import json

import numpy as np
import pytest
import torch

from kinpose_ros.tools import toy
from kinpose_ros.tools.toy import METHODS, ToyConfig, run_experiment
from kinpose_ros.tools.toy_report import render_report, write_report

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def tiny() -> dict:
    cfg = ToyConfig(train=512, test=64, epochs=2, batch=32)
    return run_experiment([1, 2], list(METHODS), cfg, log=lambda _: None)


def test_tiny_run_every_method_and_level(tiny):
    assert sorted(tiny['levels']) == [1, 2]
    for level, by_method in tiny['levels'].items():
        assert list(by_method) == list(METHODS)
        for m in by_method.values():
            assert np.isfinite([m['joint_error_px'], m['angle_error_deg'], m['bone_std_px'],
                                m['final_loss']]).all()
            assert 0 < m['joint_error_px'] < 128 * np.sqrt(2)
            assert 0 <= m['angle_error_deg'] <= 180
            assert len(m['angle_error_deg_per_angle']) == 2 * level
        # FK outputs have the skeleton's bone lengths whatever the training did
        assert by_method['kinematic']['bone_std_px'] < 1e-4
        assert by_method['direct_parameter']['bone_std_px'] < 1e-4
        # freely regressed joints have no rigid bones
        assert by_method['direct_joint']['bone_std_px'] > 0.05
    # the acceptance on small settings: direct joint's spread >= 5 % of 45 px at level 1
    assert tiny['levels'][1]['direct_joint']['bone_std_px'] >= 0.05 * 45.0


def test_report_tables_acceptance_and_kept_discussion(tiny, tmp_path):
    out = tmp_path / 'docs' / 'toy.md'
    write_report(out, dict(tiny, command='kinpose toy --levels 1 2'))
    text = out.read_text()
    assert '| 1 | direct joint |' in text and '| 2 | direct parameter |' in text
    assert 'joint 5.1 px, bone std 5.3 px' in text
    assert "Kinematic joint's bone-length std < 1e-4 px at every level: yes" in text
    assert text.rstrip().endswith('regenerated._')
    out.write_text(text.replace('_Not written yet', 'Hand-written notes. _Not written yet'))
    write_report(out, tiny)
    assert out.read_text().count('Hand-written notes.') == 1


def test_acceptance_lines_follow_the_numbers():
    def result(std_dj):
        m = {'joint_error_px': 5.0, 'angle_error_deg': 3.0, 'bone_length_px': 45.0,
             'bone_std_px': 0.0}
        return {'settings': ToyConfig().__dict__, 'levels': {1: {
            'direct_joint': dict(m, bone_std_px=std_dj), 'kinematic': m}}}
    assert 'bone length: yes (2.30 px = 5.1 %' in render_report(result(2.3))
    assert 'bone length: NO (2.20 px = 4.9 %' in render_report(result(2.2))


def test_cli_json_last_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    toy.add_parser(parser.add_subparsers(), 'toy')
    args = parser.parse_args(['toy', '--levels', '1', '--methods', 'kinematic', '--train', '64',
                              '--test', '16', '--epochs', '1', '--batch', '32', '--out',
                              str(tmp_path / 't.md'), '--json'])
    assert args.func(args) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res['levels']['1']['kinematic']['bone_std_px'] < 1e-4
    assert res['command'].startswith('kinpose toy --levels 1 --methods kinematic --train 64')
    assert (tmp_path / 't.md').is_file()
    bad = parser.parse_args(['toy', '--train', '1'])
    with pytest.raises(ValueError, match='--train'):
        bad.func(bad)
