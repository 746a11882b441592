"""core/, nets/, data/ and inference/ work without ROS: no rclpy, no message packages.

Two checks: every module of those packages imports in a Python where rclpy, tf2_ros and every
``*_msgs`` package are blocked; and no file there names them in an import statement, not even
inside a function (which an import test cannot see).
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROS_FREE = ('core', 'nets', 'data', 'inference')

_BLOCKED_IMPORT = """
import importlib.abc, importlib, pkgutil, sys


def ros(name):
    root = name.partition('.')[0]
    return root in ('rclpy', 'tf2_ros', 'rosidl_runtime_py') or root.endswith('_msgs')


class BlockRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if ros(name):
            raise ImportError(f'{name} is blocked: ROS-free code must not import it')
        return None


sys.meta_path.insert(0, BlockRos())
for name in [n for n in sys.modules if ros(n)]:
    del sys.modules[name]
import kinpose_ros
assert 'rclpy' not in sys.modules
names = ['kinpose_ros']
for sub in PACKAGES:
    pkg = importlib.import_module('kinpose_ros.' + sub)
    names.append(pkg.__name__)
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')]
for name in names:
    importlib.import_module(name)
leaked = sorted(n for n in sys.modules if ros(n))
assert not leaked, leaked
print('imported', len(names), 'modules')
"""


def test_ros_free_packages_import_with_ros_blocked():
    code = f'PACKAGES = {ROS_FREE!r}\n' + _BLOCKED_IMPORT
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f'import with ROS blocked failed:\n{proc.stdout}\n{proc.stderr}'
    assert 'imported' in proc.stdout


def _ros_imports(path: Path) -> list[str]:
    """'<file>:<line> <module>' for every import of rclpy, tf2_ros or a *_msgs package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            root = module.partition('.')[0]
            if root in ('rclpy', 'tf2_ros') or root.endswith('_msgs'):
                found.append(f'{path.relative_to(REPO)}:{node.lineno} {module}')
    return found


def test_no_ros_import_statements_in_ros_free_packages():
    files = [p for sub in ROS_FREE for p in sorted((REPO / 'kinpose_ros' / sub).rglob('*.py'))]
    assert files, 'no source files found: wrong repository layout?'
    offenders = [hit for path in files for hit in _ros_imports(path)]
    assert not offenders, 'ROS imports in ROS-free packages:\n' + '\n'.join(offenders)


@pytest.mark.parametrize('source, expected', [
    ('import rclpy\n', ['rclpy']),
    ('def f():\n    from sensor_msgs.msg import Image\n', ['sensor_msgs.msg']),
    ('import numpy, tf2_ros.buffer\n', ['tf2_ros.buffer']),
    ('from . import camera\nimport numpy as np\n', []),
])
def test_static_check_detects_ros_imports(tmp_path, source, expected, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], 'REPO', tmp_path)
    path = tmp_path / 'module.py'
    path.write_text(source)
    assert [hit.split(' ')[1] for hit in _ros_imports(path)] == expected
