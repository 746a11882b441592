#!/usr/bin/env bash
# Create / update the project-local .venv. Idempotent: a second run only re-checks (about 2 s).
#   * torch==2.13.0 first (the exact pin picks the local CPU wheel; other specs pull CUDA builds)
#   * the package (editable) with the extras of setup.py
#   * ROS 2 wheels only when rclpy is not importable already (a sourced ROS install wins)
#   * the tf2_msgs stand-in (interfaces/tf2_msgs) built only when tf2_msgs is not importable
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PIP="$PY -m pip --disable-pip-version-check -q"

if [ ! -x "$PY" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "[setup] installing torch==2.13.0"
  $PIP install 'torch==2.13.0'
fi

echo "[setup] installing kinpose_ros (editable) with extras all,dev"
$PIP install -e '.[all,dev]' 2>&1 | grep -v 'is ignored: it is neither a file nor a directory' || true

if "$PY" -c 'import rclpy' 2>/dev/null; then
  echo "[setup] rclpy importable: using it"
else
  echo "[setup] rclpy not importable: installing ROS 2 Kilted wheels into $VENV"
  $PIP install -e '.[ros-wheels]' 2>&1 | grep -v 'is ignored' || true
fi

if "$PY" -c 'import tf2_msgs.msg' 2>/dev/null; then
  echo "[setup] tf2_msgs importable"
else
  echo "[setup] building the tf2_msgs stand-in from interfaces/tf2_msgs"
  $PIP install -e '.[ros-wheels-build]' 2>&1 | grep -v 'is ignored' || true
  scripts/build_interfaces.sh "$VENV"
  "$PY" -c 'from tf2_msgs.msg import TFMessage'
fi
"$PY" -c 'import kinpose_ros, numpy, yaml, torch, onnxruntime' && echo "[setup] ok"
