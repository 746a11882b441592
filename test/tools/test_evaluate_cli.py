"""``kinpose eval``: JSON output of the golden runs, array inputs, argument errors."""
import json

import numpy as np
import pytest

from kinpose_ros.tools.cli import main


def _last_json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_eval_golden_itop_json(shared_data, capsys):
    assert main(['eval', '--golden', 'itop', '--json', '--data-dir', str(shared_data)]) == 0
    data = _last_json(capsys)
    assert data['map_10cm'] == pytest.approx(88.02, abs=0.01)
    assert data['joint_names'][0] == 'Head' and len(data['per_joint_map_10cm']) == 15


def test_eval_golden_nyu_json(shared_data, capsys):
    assert main(['eval', '--golden', 'nyu', '--json', '--data-dir', str(shared_data)]) == 0
    data = _last_json(capsys)
    assert data['mean_error_mm'] == pytest.approx(8.61, abs=0.01)
    assert 'map_10cm' not in data and len(data['per_joint_error_mm']) == 14


def test_eval_golden_default_data_dir(shared_data, capsys):
    # no --data-dir: found relative to the checkout (<repo>/../shared/data)
    assert main(['eval', '--golden', 'itop', '--json']) == 0
    assert _last_json(capsys)['map_10cm'] == pytest.approx(88.02, abs=0.01)


def test_eval_golden_nyu_table(shared_data, capsys):
    assert main(['eval', '--golden', 'nyu', '--data-dir', str(shared_data)]) == 0
    overall = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith('overall')]
    assert overall and float(overall[0].split()[-1]) == pytest.approx(8.61, abs=0.01)


def test_eval_arrays(tmp_path, capsys):
    gt = np.zeros((4, 2, 3))
    pred = gt.copy()
    pred[:, 0, 2] = [0.02, 0.05, 0.10, 0.30]  # 2 of 4 strictly below 10 cm
    np.save(tmp_path / 'pred.npy', pred)
    np.save(tmp_path / 'gt.npy', gt)
    argv = ['eval', '--pred', str(tmp_path / 'pred.npy'), '--gt', str(tmp_path / 'gt.npy'),
            '--joint-names', 'a,b', '--plot', str(tmp_path / 'p.png'), '--json']
    assert main(argv) == 0
    data = _last_json(capsys)
    assert data['map_10cm'] == pytest.approx(75.0)
    assert data['per_joint_map_10cm'] == pytest.approx([50.0, 100.0])
    assert data['per_joint_error_mm'] == pytest.approx([117.5, 0.0])
    assert (tmp_path / 'p.png').stat().st_size > 0


def test_eval_arrays_need_gt(tmp_path, capsys):
    np.save(tmp_path / 'pred.npy', np.zeros((1, 2, 3)))
    assert main(['eval', '--pred', str(tmp_path / 'pred.npy')]) == 2
    assert '--gt' in capsys.readouterr().err


def test_eval_model_needs_data(capsys):
    assert main(['eval', '--model', 'model.onnx']) == 2
    assert '--model needs --data' in capsys.readouterr().err
