"""`colcon build` of the package into tmp_path gives the layout `ros2 run` / `ros2 launch` expect.

Also checks that interfaces/ (the tf2_msgs stand-in, built only by scripts/build_interfaces.sh) is
ignored by colcon even when named as a base path: in a ROS workspace it would shadow the real one.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = 'kinpose_ros'
SCRIPTS = ('kinpose', 'pose_node', 'synthetic_camera_node')
COLCON = 'import sys; from colcon_core.command import main; sys.exit(main())'


@pytest.mark.skipif(importlib.util.find_spec('colcon_core') is None,
                    reason='colcon is not installed (pip install colcon-core colcon-ros '
                           'colcon-python-setup-py, in the dev extra)')
def test_colcon_build_install_layout(tmp_path):
    env = dict(os.environ, COLCON_HOME=str(tmp_path / 'colcon_home'))
    env.pop('COLCON_DEFAULTS_FILE', None)
    cmd = [sys.executable, '-c', COLCON, '--log-base', str(tmp_path / 'log'), 'build',
           '--base-paths', str(REPO), str(REPO / 'interfaces'),
           '--build-base', str(tmp_path / 'build'), '--install-base', str(tmp_path / 'install')]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f'colcon build failed:\n{proc.stdout[-4000:]}\n{proc.stderr}'

    prefix = tmp_path / 'install' / PACKAGE
    assert sorted(p.name for p in (tmp_path / 'install').iterdir() if p.is_dir()) == [PACKAGE], \
        'colcon built more than kinpose_ros (is interfaces/COLCON_IGNORE missing?)'
    share = prefix / 'share' / PACKAGE
    assert (share / 'package.xml').read_text() == (REPO / 'package.xml').read_text()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE).is_file()
    for script in SCRIPTS:
        assert (prefix / 'lib' / PACKAGE / script).is_file(), f'lib/{PACKAGE}/{script} missing'
    site = list(prefix.glob(f'lib/python3*/site-packages/{PACKAGE}/__init__.py'))
    assert len(site) == 1, f'python package not installed under {prefix}/lib/python3*/'
    for data_dir in ('launch', 'config'):
        sources = [p for p in (REPO / data_dir).rglob('*') if p.is_file()]
        if sources:
            assert (share / data_dir).is_dir(), f'share/{PACKAGE}/{data_dir} missing'
        missing = [str(p.relative_to(REPO)) for p in sources
                   if not (share / p.relative_to(REPO)).is_file()]
        assert not missing, f'not installed under share/{PACKAGE}: {missing}'
