#!/usr/bin/env bash
# Build the tf2_msgs stand-in (interfaces/tf2_msgs) with CMake and install it into a venv prefix.
#   usage: scripts/build_interfaces.sh [VENV]      (default .venv)
# Needs the 'ros-wheels-build' extra of setup.py in the venv and cmake + a C/C++ compiler.
# Idempotent: the build tree lives in build/interfaces/tf2_msgs (git-ignored) and a second run
# only re-checks it. Facts behind the flags: docs in ../shared/docs/ros-wheels.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(cd "${1:-${VENV:-.venv}}" && pwd)
SRC=$(pwd)/interfaces/tf2_msgs
BUILD=$(pwd)/build/interfaces/tf2_msgs

for tool in cmake make cc c++; do
  command -v "$tool" >/dev/null || { echo "[interfaces] error: '$tool' not found; install" \
    "cmake and a C/C++ compiler (Debian: apt-get install cmake build-essential)" >&2; exit 1; }
done
[ -x "$VENV/bin/python" ] || { echo "[interfaces] error: no Python at $VENV/bin/python" >&2; exit 1; }

# A build tree configured for another venv or checkout cannot be reused: start it afresh.
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -qxF "CMAKE_INSTALL_PREFIX:PATH=$VENV" \
    "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD"
fi
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$SRC" \
    "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD"
fi

mkdir -p "$BUILD"
export PATH="$VENV/bin:$PATH"
# without it the rosidl typesupports are not found ("No 'rosidl_typesupport_c' found")
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
unset PYTHONHOME

echo "[interfaces] configuring tf2_msgs in $BUILD"
cmake -S "$SRC" -B "$BUILD" -Wno-dev \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$VENV/bin/python" \
  -DBUILD_TESTING=OFF >"$BUILD.configure.log" 2>&1 || {
    tail -n 40 "$BUILD.configure.log" >&2; echo "[interfaces] error: configure failed," \
      "full log: $BUILD.configure.log" >&2; exit 1; }
echo "[interfaces] building and installing into $VENV"
cmake --build "$BUILD" --parallel 2 >"$BUILD.build.log" 2>&1 &&
  cmake --install "$BUILD" >>"$BUILD.build.log" 2>&1 || {
    tail -n 40 "$BUILD.build.log" >&2; echo "[interfaces] error: build failed," \
      "full log: $BUILD.build.log" >&2; exit 1; }
echo "[interfaces] tf2_msgs installed into $VENV"
