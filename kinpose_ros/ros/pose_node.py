"""``pose_node``: depth (+ CameraInfo, + optional RGB) in; TF, JointState, markers, URDF out.

Wiring only: parameters (:mod:`~kinpose_ros.ros.params`), input checks
(:mod:`~kinpose_ros.ros.frame_input`), time sync (:mod:`~kinpose_ros.ros.time_sync`), the
newest-frame worker thread (:mod:`~kinpose_ros.ros.frame_queue`), the estimator (anything with
``skeleton`` and ``__call__(depth_m, intrinsics, rgb=None, stamp=None) -> FrameResult``, by
default ``kinpose_ros.inference.estimator.PoseEstimator``) and the publishers
(:mod:`~kinpose_ros.ros.pose_outputs`).

Threads: subscription callbacks only check headers, sync and hand the set to the worker (never
block); decoding, inference and publishing run on the worker thread. Shut down with SIGINT or
SIGTERM (rclpy's signal handlers end ``spin``; ``destroy_node`` joins the worker).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from kinpose_ros.inference.types import FrameResult
from kinpose_ros.ros.frame_input import (
    CameraModelCache,
    DepthSettings,
    InputError,
    ProblemLog,
    check_image_header,
    decode_depth_frame,
    decode_rgb_frame,
)
from kinpose_ros.ros.frame_queue import LatestFrameWorker
from kinpose_ros.ros.messages import diagnostics_message, stamp_to_seconds
from kinpose_ros.ros.node_stats import PipelineStats
from kinpose_ros.ros.params import PoseParams, declare_and_read
from kinpose_ros.ros.pose_outputs import PoseOutputs
from kinpose_ros.ros.time_sync import ApproximateTimeSync

DEFAULT_MODEL = 'models/a2j_body15.onnx'


@dataclass
class SyncedFrame:
    depth: Image
    info: CameraInfo
    rgb: Image | None
    received: float  # time.monotonic() when the depth image arrived


def estimator_from_params(params: PoseParams) -> Any:
    """The default estimator: ``PoseEstimator`` for ``params.model`` (default: the shipped
    model) with the node's backend, people, tracking and filter settings."""
    from kinpose_ros.inference.estimator import EstimatorConfig, PoseEstimator  # noqa: PLC0415
    from kinpose_ros.resources import find  # noqa: PLC0415

    model = params.model or str(find(DEFAULT_MODEL))
    f, t = params.filter, params.tracking
    config = EstimatorConfig(
        max_people=params.max_people,
        min_person_score=params.min_person_score if params.min_person_score >= 0 else None,
        cell_model=params.cell_model or 'none', cell_mode=params.cell_mode,
        backend=params.backend, threads=params.threads or None,
        track_gate_m=t.gate_m, track_max_age_s=t.max_age_s, smoothing=f.enabled,
        position_min_cutoff_hz=f.position_min_cutoff_hz, position_beta=f.position_beta,
        angle_min_cutoff_hz=f.angle_min_cutoff_hz, angle_beta=f.angle_beta,
        derivative_cutoff_hz=f.derivative_cutoff_hz)
    return PoseEstimator(model, config)


class PoseNode(Node):
    """The pose node; ``estimator`` overrides the one built from the parameters."""

    def __init__(self, estimator: Any = None, node_name: str = 'pose_node', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = p = declare_and_read(self)
        self.estimator = estimator if estimator is not None else estimator_from_params(p)
        self.stats = PipelineStats()
        self.problems = ProblemLog(self.get_logger().warning, p.warn_throttle_s)
        self.outputs = PoseOutputs(self, self.estimator.skeleton, p)
        self._cameras = CameraModelCache()  # used on the worker thread only
        self._depth_settings = DepthSettings(p.depth.max_pixels, p.depth.invalid_value,
                                             p.depth.unit_m)
        self._sync = ApproximateTimeSync(3 if p.topics.use_rgb else 2, p.sync.slop_s,
                                         p.sync.queue_size, self._on_synced)
        self._worker = LatestFrameWorker(self._process, p.queue.depth, self._on_worker_error)
        self._last_depth = self._unsynced_since = None  # monotonic times
        self._last_depth_stamp = self._last_info_stamp = None
        qos = qos_profile_sensor_data
        self.create_subscription(Image, p.topics.depth, self._on_depth, qos)
        self.create_subscription(CameraInfo, p.topics.camera_info, self._on_info, qos)
        if p.topics.use_rgb:
            self.create_subscription(Image, p.topics.rgb, self._on_rgb, qos)
        self.create_timer(1.0, self._on_timer)
        self.get_logger().info(
            f'pose_node: skeleton {self.estimator.skeleton.name}, depth '
            f'{self.resolve_topic_name(p.topics.depth)} + '
            f'{self.resolve_topic_name(p.topics.camera_info)}'
            + (f' + {self.resolve_topic_name(p.topics.rgb)}' if p.topics.use_rgb else ''))

    # ------------------------------------------------------------ callbacks (executor thread)
    def _on_depth(self, msg: Image) -> None:
        now = time.monotonic()
        self.stats.count('depth_in')
        self._last_depth, self._last_depth_stamp = now, stamp_to_seconds(msg.header.stamp)
        if self._unsynced_since is None:
            self._unsynced_since = now
        try:
            check_image_header(msg, 'depth image', self.params.depth.max_pixels)
        except InputError as exc:
            self.problems.report(exc.kind, str(exc))
            return
        self._sync.add(0, self._last_depth_stamp, (msg, now))

    def _on_info(self, msg: CameraInfo) -> None:
        self._last_info_stamp = stamp_to_seconds(msg.header.stamp)
        self._sync.add(1, self._last_info_stamp, msg)

    def _on_rgb(self, msg: Image) -> None:
        self._sync.add(2, stamp_to_seconds(msg.header.stamp), msg)

    def _on_synced(self, depth, info: CameraInfo, rgb: Image | None = None) -> None:
        msg, received = depth
        self._unsynced_since = None
        self.stats.count('synced')
        if not self._worker.submit(SyncedFrame(msg, info, rgb, received)):
            self.stats.count('dropped')

    # ------------------------------------------------------------ worker thread
    def _process(self, frame: SyncedFrame) -> None:
        t0 = time.monotonic()
        header = Header(stamp=frame.depth.header.stamp, frame_id=frame.depth.header.frame_id)
        try:
            intrinsics = self._cameras.get(frame.info)
            depth = decode_depth_frame(frame.depth, intrinsics, self._depth_settings)
        except InputError as exc:
            self.problems.report(exc.kind, str(exc))
            if exc.kind == 'no_valid_depth':  # a real (empty) scene: people have left
                self.outputs.publish(FrameResult(people=[], timings_ms={}), header)
            return
        rgb = None
        if frame.rgb is not None and self.params.publish.overlay:
            try:
                rgb = decode_rgb_frame(frame.rgb, intrinsics.size, self.params.depth.max_pixels)
            except InputError as exc:
                self.problems.report(exc.kind, str(exc))
        t1 = time.monotonic()
        result = self.estimator(depth, intrinsics, rgb=rgb,
                                stamp=stamp_to_seconds(header.stamp))
        t2 = time.monotonic()
        if result.dropped_reason:
            self.problems.report('estimator', f'estimator skipped the frame: '
                                 f'{result.dropped_reason}')
        skipped = self.outputs.publish(result, header, depth, intrinsics, rgb)
        for pid, reason in skipped:
            self.problems.report('invalid_pose', f'person {pid} left out of TF: {reason}')
        t3 = time.monotonic()
        self.stats.count('processed')
        self.stats.count('people', len(result.people))
        for stage, ms in (('queue', (t0 - frame.received) * 1e3), ('decode', (t1 - t0) * 1e3),
                          ('estimator', (t2 - t1) * 1e3), ('publish', (t3 - t2) * 1e3),
                          ('latency', (t3 - frame.received) * 1e3)):
            self.stats.add_ms(stage, ms)
        for stage, ms in result.timings_ms.items():
            self.stats.add_ms(f'estimator.{stage}', ms)

    def _on_worker_error(self, exc: BaseException) -> None:
        self.problems.report('estimator_error', f'frame failed: {type(exc).__name__}: {exc}')

    # ------------------------------------------------------------ timer
    def _on_timer(self) -> None:
        now, p = time.monotonic(), self.params
        # depth keeps arriving, but none of it paired with CameraInfo for the timeout
        waiting = (self._unsynced_since is not None and now - self._last_depth < 1.5
                   and now - self._unsynced_since > p.camera_info_timeout_s)
        if waiting and self._last_info_stamp is None:
            self.problems.report('camera_info_missing', (
                f'depth images arrive on {self.resolve_topic_name(p.topics.depth)} but no '
                f'CameraInfo on {self.resolve_topic_name(p.topics.camera_info)}: nothing is '
                'published until it does'))
        elif waiting:
            self.problems.report('not_synced', (
                f'depth and CameraInfo do not sync: last stamps differ by '
                f'{abs(self._last_depth_stamp - self._last_info_stamp):.3f} s, more than '
                f'sync.slop_s = {p.sync.slop_s}'))
        if p.publish.diagnostics:
            self.outputs.publish_diagnostics(self._diagnostics())

    def figures(self) -> dict:
        """Everything measured so far (counters, rates, latency percentiles, problems)."""
        out = self.stats.snapshot()
        out.update(dropped=self._worker.dropped, sync_evicted=self._sync.evicted,
                   worker_errors=self._worker.errors)
        out.update({f'problem.{k}': v for k, v in self.problems.counts.items()})
        return out

    def _diagnostics(self):
        values = self.figures()
        problems = {k: v for k, v in values.items() if k.startswith('problem.')}
        level, message = DiagnosticStatus.OK, 'ok'
        if problems:
            level, message = DiagnosticStatus.WARN, 'bad input: ' + ', '.join(
                k.split('.', 1)[1] for k in problems)
        elif values.get('dropped', 0):
            message = f'dropping frames to stay current ({values["dropped"]} so far)'
        header = Header(stamp=self.get_clock().now().to_msg())
        return diagnostics_message(header, f'{self.get_name()}: pose estimation', level,
                                   message, values, hardware_id=self.params.topics.depth)

    # ------------------------------------------------------------ lifecycle
    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Block until the worker has nothing queued or running (tests, benchmarks)."""
        return self._worker.wait_idle(timeout_s)

    def destroy_node(self) -> None:
        self._worker.stop()
        self.outputs.destroy()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Console script ``pose_node`` (``ros2 run kinpose_ros pose_node``)."""
    from kinpose_ros.ros.node_main import run_node  # noqa: PLC0415

    return run_node(PoseNode, 'pose_node', args=args)


if __name__ == '__main__':
    sys.exit(main())
