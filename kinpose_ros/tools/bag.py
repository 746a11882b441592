"""``kinpose bag IN OUT``: replay a rosbag2 recording (.mcap or .db3) through the estimator into
a new MCAP bag with TF, JointState and markers (no ROS install needed; ``rosbags`` from PyPI).

See :mod:`kinpose_ros.ros.bag_replay` for what is written where.
"""
from __future__ import annotations

import argparse
import sys


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='replay a recorded bag through the estimator',
        description='Replay a rosbag2 recording (MCAP or SQLite, a bag folder or its file) '
        'through the pose estimator and write TF, JointState and markers (plus the input depth '
        'and CameraInfo) to a new MCAP bag. OUT.mcap becomes the bag folder OUT/.')
    p.add_argument('bag_in', help='input bag (.mcap / .db3 file or bag folder)')
    p.add_argument('bag_out', help='output bag (OUT.mcap or a folder name; must not exist)')
    p.add_argument('--model', default='', help='model file or card (default: the shipped '
                   'models/a2j_body15.onnx)')
    p.add_argument('--backend', default='auto', help='inference backend (default auto)')
    p.add_argument('--depth-topic', default='', help='default: the only depth Image topic')
    p.add_argument('--camera-info-topic', default='', help='default: the CameraInfo topic '
                   'beside the depth topic')
    p.add_argument('--frame-prefix', default='', help='prefix of the output frame ids')
    p.add_argument('--rep155', action='store_true', help='REP-155 frame names')
    p.add_argument('--no-copy', action='store_true', help='do not copy the input topics')
    p.add_argument('--max-frames', type=int, default=0, help='stop after N depth frames')
    p.add_argument('--slop', type=float, default=0.02, help='depth/CameraInfo sync, seconds')
    p.add_argument('--json', action='store_true', help='print one JSON object as the last line')
    p.set_defaults(func=run)


def _progress_bar(enabled: bool):
    """(update(done, total), close()) with tqdm when available, else a plain counter."""
    if not enabled:
        return (lambda done, total: None), (lambda: None)
    try:
        from tqdm import tqdm  # noqa: PLC0415
    except ImportError:
        def update(done, total):
            if done % 50 == 0 or done == total:
                print(f'\r{done}/{total} frames', end='', file=sys.stderr, flush=True)
        return update, (lambda: print(file=sys.stderr))
    bar = tqdm(unit='frame', file=sys.stderr)

    def update(done, total):
        bar.total = total
        bar.update(done - bar.n)
    return update, bar.close


def run(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415

    from kinpose_ros.ros.bag_replay import replay_bag  # noqa: PLC0415
    from kinpose_ros.ros.params import PoseParams, params_from_dict  # noqa: PLC0415
    from kinpose_ros.ros.person_frames import FrameNaming  # noqa: PLC0415
    from kinpose_ros.ros.pose_node import estimator_from_params  # noqa: PLC0415
    from kinpose_ros.tools.cli import print_json  # noqa: PLC0415

    params: PoseParams = params_from_dict({'model': args.model, 'backend': args.backend})
    estimator = estimator_from_params(params)
    update, close = _progress_bar(not args.json)
    try:
        s = replay_bag(args.bag_in, args.bag_out, estimator, args.depth_topic,
                       args.camera_info_topic, FrameNaming(args.frame_prefix, args.rep155),
                       copy_inputs=not args.no_copy, slop_s=args.slop,
                       max_frames=args.max_frames, progress=update)
    finally:
        close()
    ms = np.array(s.estimator_ms) if s.estimator_ms else np.array([np.nan])
    figures = {'output': str(s.output), 'depth_topic': s.depth_topic,
               'camera_info_topic': s.camera_info_topic, 'frames_in': s.frames_in,
               'frames_out': s.frames_out, 'people': s.people,
               'messages_written': s.messages_written, 'problems': s.problems,
               'estimator_ms_p50': float(np.percentile(ms, 50)),
               'estimator_ms_p99': float(np.percentile(ms, 99)), 'seconds': s.seconds}
    if args.json:
        print_json(figures)
    else:
        print(f'{s.frames_in} depth frames from {s.depth_topic} + {s.camera_info_topic}: '
              f'{s.frames_out} processed, {s.people} people, {s.messages_written} messages '
              f'written to {s.output}/ in {s.seconds:.1f} s')
        if s.problems:
            print(f'input problems: {s.problems}')
    return 0
