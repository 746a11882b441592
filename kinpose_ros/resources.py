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


def source_commit() -> str:
    """Short commit of the source tree this package runs from ('-dirty' with uncommitted
    changes to tracked files of the kinpose_ros package; 'unknown' outside git): the
    provenance that checkpoints, exported models and model cards record."""
    import subprocess  # noqa: PLC0415

    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(['git', 'rev-parse', '--short=12', 'HEAD'], capture_output=True,
                             text=True, timeout=5, cwd=here)
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no', '--',
                                '.'], capture_output=True, text=True, timeout=5, cwd=here)
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    if rev.returncode != 0:
        return 'unknown'
    return rev.stdout.strip() + ('-dirty' if dirty.stdout.strip() else '')
