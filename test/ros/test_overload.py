"""Overload: input at 10x the node's capacity for 10 s keeps latency bounded and memory flat,
and the dropped frames are counted and reported.

The camera is the console script in its own process (200 Hz); the node runs here with an
estimator that takes 50 ms per frame (capacity 20 Hz).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from scene import CentroidEstimator, box_depth_m
from tf2_msgs.msg import TFMessage

from kinpose_ros.core.depth import encode_depth
from kinpose_ros.ros.conversions import tf_qos
from kinpose_ros.ros.messages import stamp_to_seconds
from kinpose_ros.ros.pose_node import PoseNode

pytestmark = [pytest.mark.ros, pytest.mark.slow]
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DELAY_S = 0.05          # capacity 20 Hz
INPUT_HZ = 200.0        # 10x
DURATION_S = 10.0


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS')


def test_ten_times_capacity_for_ten_seconds(tmp_path, ros_env):
    np.save(tmp_path / 'scene.npy', encode_depth(box_depth_m(), '16UC1'))
    env = dict(os.environ, **ros_env)
    camera = subprocess.Popen(
        [sys.executable, '-m', 'kinpose_ros.ros.synthetic_camera_node', '--ros-args',
         '-p', 'source:=files', '-p', f'path:={tmp_path / "scene.npy"}', '-p', 'fx:=70.0',
         '-p', 'cx:=39.5', '-p', 'cy:=29.5', '-p', f'rate_hz:={INPUT_HZ}'],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = PoseNode(CentroidEstimator(delay_s=DELAY_S), context=ctx,
                    parameter_overrides=[Parameter('publish.markers', value=False)])
    listener = rclpy.create_node('overload_listener', context=ctx)
    ages_ms, diagnostics = [], []

    def on_tf(msg):
        ages_ms.append((time.time() - stamp_to_seconds(msg.transforms[0].header.stamp)) * 1e3)
    listener.create_subscription(TFMessage, '/tf', on_tf, tf_qos())
    listener.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    executor.add_node(listener)
    try:
        deadline = time.monotonic() + 20
        while node.stats.total('processed') < 3 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert node.stats.total('processed') >= 3, 'no frames from the camera process'
        start_counts = node.figures()
        start, memory = time.monotonic(), []
        n_ages = len(ages_ms)
        while time.monotonic() - start < DURATION_S:
            executor.spin_once(timeout_sec=0.01)
            if not memory or time.monotonic() - start > len(memory):
                memory.append(rss_mb())
        end_counts = node.figures()
    finally:
        camera.send_signal(signal.SIGINT)
        camera.wait(15)
        executor.shutdown()
        node.destroy_node()
        listener.destroy_node()
        rclpy.shutdown(context=ctx)
    elapsed = time.monotonic() - start
    frames_in = end_counts['depth_in'] - start_counts['depth_in']
    processed = end_counts['processed'] - start_counts['processed']
    dropped = end_counts['dropped'] - start_counts['dropped']
    print(f'in {frames_in / elapsed:.0f} Hz, processed {processed / elapsed:.1f} Hz, dropped '
          f'{dropped}, latency p99 {end_counts["latency_ms_p99"]:.0f} ms, age p99 '
          f'{np.percentile(ages_ms[n_ages:], 99):.0f} ms, rss {memory[0]:.0f} -> '
          f'{memory[-1]:.0f} MB')
    assert frames_in / elapsed > 0.6 * INPUT_HZ, 'the camera did not overload the node'
    # the node keeps working at its capacity and drops the rest, counting them
    assert processed / elapsed > 0.7 / DELAY_S
    assert dropped > 0.5 * frames_in
    # latency bounded by about two processing times, not growing with the backlog
    assert end_counts['latency_ms_p99'] < 4 * DELAY_S * 1e3
    assert np.percentile(ages_ms[n_ages:], 99) < 6 * DELAY_S * 1e3
    # memory flat: no queue grows
    assert memory[-1] - memory[1] < 20, f'RSS grew {memory[1]:.1f} -> {memory[-1]:.1f} MB'
    # reported: counted in the diagnostics
    values = {k.key: k.value for k in diagnostics[-1].status[0].values}
    assert int(values['dropped']) > 0
