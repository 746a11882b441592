"""Where the package's data lives (skeleton YAMLs, configs, shipped models).

Search order: ``$KINPOSE_SHARE``; the source tree (when running from a checkout or an editable
install); ``<prefix>/share/kinpose_ros`` of this interpreter; then every ``AMENT_PREFIX_PATH``
entry (a colcon install). Nothing here reads absolute paths of its own.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = 'kinpose_ros'


def share_dirs() -> list[Path]:
    candidates = []
    if os.environ.get('KINPOSE_SHARE'):
        candidates.append(Path(os.environ['KINPOSE_SHARE']))
    candidates.append(Path(__file__).resolve().parents[1])
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / PACKAGE)
    return [c for c in candidates if (c / 'config').is_dir()]


def find(relative: str) -> Path:
    """Absolute path of ``relative`` (e.g. ``config/skeletons/body15.yaml``) in the share dirs.

    Raises FileNotFoundError naming every place that was searched.
    """
    dirs = share_dirs()
    for d in dirs:
        path = d / relative
        if path.exists():
            return path
    searched = ', '.join(str(d) for d in dirs) or '(no share directory found)'
    raise FileNotFoundError(f'{relative!r} not found in the kinpose_ros share directories: '
                            f'{searched}; set KINPOSE_SHARE or reinstall the package')
