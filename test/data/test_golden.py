"""Golden reproduction of A2J's published tables from its released predictions."""
import json

import numpy as np
import pytest

from kinpose_ros.data.golden import golden_itop, golden_nyu
from kinpose_ros.tools.cli import main

# A2J paper / ../shared/data/README.md, ITOP side per-joint mAP@10cm (%)
ITOP_PER_JOINT = [98.5, 99.2, 96.5, 96.0, 79.4, 78.5, 69.6, 67.1, 98.5, 91.9, 89.8, 91.3, 90.2,
                  87.4, 86.4]


def test_itop_side_reproduces_88_02(shared_data):
    res = golden_itop(shared_data)
    assert res.map_percent == pytest.approx(88.02, abs=0.01)
    np.testing.assert_allclose(res.per_joint_map_percent, ITOP_PER_JOINT, atol=0.1)
    assert res.n_frames == 4863


def test_nyu_reproduces_8_61_mm(shared_data):
    assert golden_nyu(shared_data).mean_error_mm == pytest.approx(8.61, abs=0.01)


def test_cli_golden_json_last_line(shared_data, capsys):
    assert main(['eval', '--golden', 'itop', '--json', '--data-dir', str(shared_data)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out['map_10cm'] == pytest.approx(88.02, abs=0.01)
    assert main(['eval', '--golden', 'nyu', '--json', '--data-dir', str(shared_data)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out['mean_error_mm'] == pytest.approx(8.61, abs=0.01)
