"""The person-score sweep tool: a threshold table over the shipped model's proposals."""
import json

import numpy as np
import pytest

from kinpose_ros.tools.person_score import main, threshold_table


def test_threshold_table_counts():
    # (true person, visible fraction, score): two visible people, one half-visible, two phantoms
    rows = np.array([[1, 0.9, 0.5], [1, 0.8, 0.01], [1, 0.4, 0.3], [0, 0, 0.04], [0, 0, np.nan]])
    t0, t1 = threshold_table(rows, 2, [0.0, 0.02])
    assert t0 == {'threshold': 0.0, 'true_kept': 1.0, 'visible_true_kept': 1.0,
                  'phantoms_per_frame': 1.0}
    assert t1['true_kept'] == pytest.approx(2 / 3) and t1['visible_true_kept'] == 0.5
    assert t1['phantoms_per_frame'] == 0.5  # NaN scores count as 0


@pytest.mark.parametrize('mode', ['gate', 'union'])
def test_sweep_runs_end_to_end(capsys, mode):
    pytest.importorskip('onnxruntime')
    assert main(['--seed', '7', '--frames', '3', '--cell-model', 'default', '--cell-mode', mode,
                 '--thresholds', '0', '0.02', '--json']) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['cell_mode'] == mode and out['frames'] == 3
    assert 0 < out['visible_true_people'] <= out['true_people']
    t0, t1 = out['thresholds']
    assert t1['phantoms_per_frame'] <= t0['phantoms_per_frame']
    assert t1['true_kept'] <= t0['true_kept'] == 1.0
