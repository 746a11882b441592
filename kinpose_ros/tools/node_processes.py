"""Starting ROS nodes as child processes for the demo and the benchmarks.

:func:`sandbox_env` is the environment those processes (and the calling process, before it
initialises rclpy) run in: discovery on loopback only, a private domain id, logs in a temporary
folder. It belongs to the tools, never to node code: a deployed node uses the user's settings.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def sandbox_env(domain_id: int | None = None, base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) confined to this machine and a private
    domain (``domain_id`` or a random one in 100..200), with ROS_HOME/ROS_LOG_DIR in a new
    temporary folder."""
    env = dict(os.environ if base is None else base)
    tmp = tempfile.mkdtemp(prefix='kinpose_ros_')
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOCALHOST_ONLY='1',
               ROS_DOMAIN_ID=str(domain_id if domain_id is not None
                                 else random.Random().randint(100, 200)),
               ROS_HOME=os.path.join(tmp, 'ros_home'), ROS_LOG_DIR=os.path.join(tmp, 'log'))
    return env


class NodeProcess:
    """``python -m <module> --ros-args <ros_args>`` with its output collected on a thread."""

    def __init__(self, module: str, ros_args: list[str], env: dict, name: str = '') -> None:
        self.name = name or module.rsplit('.', 1)[-1]
        self.proc = subprocess.Popen(
            [sys.executable, '-m', module, '--ros-args', *ros_args], env=env,
            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return ''.join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> bool:
        """True once ``text`` appears in the output; False on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        return any(text in line for line in self.lines)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGINT, then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        return self.proc.returncode

    def tail(self, lines: int = 20) -> str:
        return ''.join(self.lines[-lines:])
