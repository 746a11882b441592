#!/usr/bin/env bash
# Create / update the project-local .venv. Idempotent: a second run only re-checks (about 2 s).
#   * torch==2.13.0 first (the exact pin picks the local CPU wheel; other specs pull CUDA builds)
#   * the package (editable) with the extras of setup.py, re-run only when setup.py / setup.cfg
#     changed since the last successful install (a stamp in the venv records their hash)
#   * ROS 2 wheels only when rclpy is not importable already (a sourced ROS install wins)
#   * the tf2_msgs stand-in (interfaces/tf2_msgs) built only when tf2_msgs is not importable
# The `kinpose` command is run as `python -m kinpose_ros.tools.cli` by the Makefile: where pip puts
# console scripts depends on the pip/setuptools editable mode (setup.cfg sends them to
# lib/kinpose_ros for `ros2 run`), so nothing here relies on .venv/bin/kinpose.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PIP="$PY -m pip --disable-pip-version-check -q"
PIP_STAMP="$VENV/.kinpose-pip-stamp"

# pip install "$@", hiding the mirror's harmless 'is ignored' lines but keeping pip's exit status
pip_install() {
  local log rc=0
  log=$(mktemp)
  $PIP install "$@" >"$log" 2>&1 || rc=$?
  grep -v 'is ignored: it is neither a file nor a directory' "$log" || true
  rm -f "$log"
  return "$rc"
}

if [ ! -x "$PY" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi

if ! "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' 2>/dev/null
then
  echo "[setup] installing torch==2.13.0"
  pip_install 'torch==2.13.0'
fi

want=$(cat setup.py setup.cfg | sha256sum | cut -d' ' -f1)
if [ "$(cat "$PIP_STAMP" 2>/dev/null)" = "$want" ] && "$PY" -c 'import kinpose_ros' 2>/dev/null
then
  echo "[setup] kinpose_ros (editable) up to date with setup.py"
else
  echo "[setup] installing kinpose_ros (editable) with extras all,dev"
  rm -f "$PIP_STAMP"
  pip_install -e '.[all,dev]'
  echo "$want" >"$PIP_STAMP"
fi

if "$PY" -c 'import rclpy' 2>/dev/null; then
  echo "[setup] rclpy importable: using it"
else
  echo "[setup] rclpy not importable: installing ROS 2 Kilted wheels into $VENV"
  pip_install -e '.[ros-wheels]'
fi

if "$PY" -c 'import tf2_msgs.msg' 2>/dev/null; then
  echo "[setup] tf2_msgs importable"
else
  echo "[setup] building the tf2_msgs stand-in from interfaces/tf2_msgs"
  pip_install -e '.[ros-wheels-build]'
  scripts/build_interfaces.sh "$VENV"
  "$PY" -c 'from tf2_msgs.msg import TFMessage'
fi
"$PY" -c 'import kinpose_ros, numpy, yaml, torch, onnxruntime' && echo "[setup] ok"
