"""The console scripts as users start them: real PoseEstimator inside pose_node, clean exit on
SIGINT and SIGTERM."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]


class Process:
    """A console script with its output collected on a thread (so pipes never fill)."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.1)
        return any(text in line for line in self.lines)

    @property
    def output(self):
        return ''.join(self.lines)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_pose_node_starts_with_a_model_and_exits_cleanly(tiny_model, ros_env, sig):
    env = dict(os.environ, **ros_env)
    p = Process([sys.executable, '-m', 'kinpose_ros.ros.pose_node', '--ros-args',
                 '-p', f'model:={tiny_model}', '-p', 'backend:=onnxruntime-cpu',
                 '-p', 'threads:=1'], env)
    try:
        assert p.wait_for('pose_node: skeleton body15', 180), p.output
        time.sleep(0.5)
        p.proc.send_signal(sig)
        rc = p.proc.wait(20)
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
    assert rc == 0, p.output
    assert 'Traceback' not in p.output, p.output


def test_pose_node_reports_a_missing_model(tmp_path, ros_env):
    env = dict(os.environ, **ros_env)
    p = Process([sys.executable, '-m', 'kinpose_ros.ros.pose_node', '--ros-args',
                 '-p', f'model:={tmp_path / "none.onnx"}'], env)
    rc = p.proc.wait(120)
    p._reader.join(5)
    assert rc == 1 and 'cannot start' in p.output and 'none' in p.output, p.output


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_camera_node_exits_cleanly(tmp_path, ros_env, sig):
    import numpy as np
    np.save(tmp_path / 'd.npy', np.full((24, 32), 2000, np.uint16))
    env = dict(os.environ, **ros_env)
    p = Process([sys.executable, '-m', 'kinpose_ros.ros.synthetic_camera_node', '--ros-args',
                 '-p', 'source:=files', '-p', f'path:={tmp_path / "d.npy"}', '-p', 'fx:=30.0',
                 '-p', 'cx:=15.5', '-p', 'cy:=11.5'], env)
    try:
        assert p.wait_for('synthetic camera: 1 frames', 60), p.output
        time.sleep(0.5)  # as for pose_node: signal a node that is spinning, not starting
        p.proc.send_signal(sig)
        rc = p.proc.wait(20)
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
    assert rc == 0 and 'Traceback' not in p.output, p.output


RACE = """
import sys
import rclpy
from kinpose_ros.ros.node_main import run_node

def spin_then_fail(node):
    if sys.argv[1] == 'race':
        rclpy.shutdown()  # what the SIGINT/SIGTERM handler does while a timer publishes
    raise RuntimeError("Failed to publish: publisher's context is invalid")

sys.exit(run_node(lambda: rclpy.create_node('race_probe'), 'race_probe', spin=spin_then_fail))
"""


@pytest.mark.parametrize('case, code, text', [('race', 0, ''), ('error', 1, 'stopped')])
def test_run_node_exit_code_when_spinning_fails(ros_env, case, code, text):
    # a publish that fails because a signal shut the context down is the requested exit (the
    # SIGTERM flake of test_camera_node_exits_cleanly); the same error on a live context is not
    env = dict(os.environ, **ros_env)
    p = subprocess.run([sys.executable, '-c', RACE, case], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == code, p.stdout + p.stderr
    assert text in p.stderr and 'Traceback' not in p.stderr, p.stderr
