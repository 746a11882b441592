"""Test-session configuration.

Every ROS process started by the tests stays on this machine: loopback discovery only, a private
domain id, and ROS_HOME / ROS_LOG_DIR in a temporary folder. This is set here (before anything
imports rclpy) and never in production code.
"""
import os
import random
import tempfile
from pathlib import Path

import pytest

_ros_tmp = tempfile.mkdtemp(prefix='kinpose_ros_test_')
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'  # older distros; Kilted ignores it
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 200)))
os.environ['ROS_HOME'] = os.path.join(_ros_tmp, 'ros_home')
os.environ['ROS_LOG_DIR'] = os.path.join(_ros_tmp, 'ros_log')
os.environ.setdefault('OMP_NUM_THREADS', '2')

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """../shared/data beside the checkout; tests needing it skip (with the reason) without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'reference data not found at {SHARED_DATA} (only present on dev machines)')
    return SHARED_DATA


@pytest.fixture(scope='session')
def ros_env() -> dict:
    """The sandboxed ROS environment, for subprocesses started by tests."""
    keys = ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY', 'ROS_DOMAIN_ID', 'ROS_HOME',
            'ROS_LOG_DIR')
    return {k: os.environ[k] for k in keys}


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory) -> Path:
    """A random-weight A2J exported to ONNX (+ card): the real estimator code path, small."""
    torch = pytest.importorskip('torch')
    from kinpose_ros.inference.model_export import export_model, random_model

    torch.set_num_threads(1)
    out = Path(tmp_path_factory.mktemp('model')) / 'tiny_a2j.onnx'
    model, config, sk = random_model('a2j', seed=3, input_size=(64, 64), width=0.25,
                                     head_width=16, head_depth=1)
    export_model(model, 'a2j', config, sk, out, dynamic_batch_max=4, check=False)
    return out
