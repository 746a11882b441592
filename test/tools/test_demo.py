"""kinpose demo and kinpose bag end to end with the real PoseEstimator (a tiny random model: the
figures are checked for consistency, not accuracy)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def kinpose(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, '-m', 'kinpose_ros.tools.cli', *args], cwd=REPO,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=timeout)


def test_demo_json_and_picture(tiny_model, tmp_path):
    proc = kinpose('demo', '--seconds', '3', '--scenes', '2', '--hold', '10', '--model',
                   str(tiny_model), '--backend', 'onnxruntime-cpu', '--out', str(tmp_path),
                   '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ('frames_in', 'frames_out', 'fps', 'latency_p99_ms', 'map_10cm'):
        assert key in figures
    assert figures['frames_in'] >= 30  # 3 s at 30 Hz, give or take start-up
    assert 0 < figures['frames_out'] <= figures['frames_in'] + 2
    assert figures['fps'] == pytest.approx(figures['frames_out'] / figures['seconds'], rel=0.01)
    assert 0 < figures['latency_p99_ms'] < 2000
    assert 0.0 <= figures['map_10cm'] <= 100.0
    assert figures['clean_exit'] is True
    assert (tmp_path / 'demo.png').stat().st_size > 1000


def test_bag_cli_with_the_real_estimator(tiny_model, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_bag import record, scene

    record(tmp_path / 'in', [scene(2.0), scene(2.2), scene(2.4)])
    proc = kinpose('bag', str(tmp_path / 'in'), str(tmp_path / 'out.mcap'), '--model',
                   str(tiny_model), '--backend', 'onnxruntime-cpu', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures['frames_in'] == 3 and figures['frames_out'] == 3
    assert (tmp_path / 'out' / 'out.mcap').is_file()
