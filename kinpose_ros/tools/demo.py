"""``kinpose demo`` (what ``make demo`` runs): the whole ROS pipeline for about ten seconds.

Starts ``pose_node`` and ``synthetic_camera_node`` as child processes (console-script modules)
on loopback in a private domain, listens in this process, and prints frames in/out, output rate,
end-to-end latency (image stamp -> TF arrival) p50/p99 and mAP@10cm against the camera's ground
truth; writes ``<out>/demo.png`` (depth with the true skeleton in white and the estimate in
colour) and, with ``--gif``, ``<out>/demo.gif``. The model is ``--model``, else the shipped
``models/a2j_body15.onnx``, else a RANDOM-WEIGHT A2J exported on the fly (said loudly: its poses
are meaningless, its speed is that of the real network).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

SHIPPED = 'models/a2j_body15.onnx'
CAMERA_FRAME = 'camera_depth_optical_frame'
RANDOM_BANNER = ('!' * 78 + '\n!! NO TRAINED MODEL: models/a2j_body15.onnx is not shipped in this '
                 'checkout.\n!! Using a RANDOM-WEIGHT A2J exported just now: speed figures are '
                 'real,\n!! poses and accuracy (mAP) are MEANINGLESS.\n' + '!' * 78)


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='run camera + pose node for ~10 s and score them',
        description='Start synthetic_camera_node and pose_node on loopback (private domain), '
        'measure rate, latency and mAP@10cm against ground truth, draw a PNG.')
    p.add_argument('--seconds', type=float, default=10.0, help='measurement window (s)')
    p.add_argument('--rate', type=float, default=30.0, help='camera rate (Hz)')
    p.add_argument('--hold', type=int, default=15, help='publications per synthetic scene')
    p.add_argument('--scenes', type=int, default=12, help='synthetic scenes (looped)')
    p.add_argument('--people', type=int, default=1, help='people per scene (max)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--model', default='', help='model file or card (default: shipped, else '
                   'random weights)')
    p.add_argument('--backend', default='auto', help='inference backend (default auto)')
    p.add_argument('--out', default='out/demo', help='folder for demo.png (and demo.gif)')
    p.add_argument('--gif', action='store_true', help='also write a short GIF')
    p.add_argument('--domain-id', type=int, default=None, help='ROS_DOMAIN_ID (default: a '
                   'random private one)')
    p.add_argument('--json', action='store_true', help='print one JSON object as the last line')
    p.set_defaults(func=run)


def resolve_model(model: str, tmp: Path) -> tuple[Path, str, bool]:
    """(model path, note, random weights?): ``model``, else the shipped one, else a random
    A2J (ResNet-18 half width, heads 128, 160x160 crops) exported into ``tmp``."""
    if model:
        return Path(model), f'given: {model}', False
    from kinpose_ros.resources import find  # noqa: PLC0415

    try:
        return find(SHIPPED), f'shipped {SHIPPED}', False
    except FileNotFoundError:
        pass
    from kinpose_ros.inference.model_export import export_model, random_model  # noqa: PLC0415

    net, config, sk = random_model('a2j', 'body15', (160, 160), 0.5, 128, 4, seed=0)
    out = tmp / 'a2j_random.onnx'
    export_model(net, 'a2j', config, sk, out, dynamic_batch_max=8, check=False)
    return out, 'RANDOM-WEIGHT A2J (no shipped model)', True


def start_pipeline(env: dict, model: Path, backend: str, camera_args: list[str],
                   pose_args: list[str] = ()) -> tuple:
    """(pose node process, camera process), the pose node ready before the camera starts."""
    from kinpose_ros.tools.node_processes import NodeProcess  # noqa: PLC0415

    pose = NodeProcess('kinpose_ros.ros.pose_node',
                       ['-p', f'model:={model}', '-p', f'backend:={backend}', *pose_args], env)
    if not pose.wait_for('pose_node: skeleton', 300):
        pose.stop()
        raise RuntimeError(f'pose_node did not start:\n{pose.tail()}')
    camera = NodeProcess('kinpose_ros.ros.synthetic_camera_node', camera_args, env)
    if not camera.wait_for('synthetic camera:', 180):
        camera.stop()
        pose.stop()
        raise RuntimeError(f'synthetic_camera_node did not start:\n{camera.tail()}')
    return pose, camera


def spin_for(executor, seconds: float, until=None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until is not None and until():
            return True
        executor.spin_once(timeout_sec=0.02)
    return until() if until is not None else True


def run(args: argparse.Namespace) -> int:
    from kinpose_ros.tools.node_processes import sandbox_env  # noqa: PLC0415

    env = sandbox_env(args.domain_id)
    os.environ.update({k: env[k] for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY',
                                           'ROS_DOMAIN_ID', 'ROS_HOME', 'ROS_LOG_DIR')})
    with tempfile.TemporaryDirectory(prefix='kinpose_demo_') as tmp:
        model, note, is_random = resolve_model(args.model, Path(tmp))
        if is_random:
            print(RANDOM_BANNER, flush=True)
        camera_args = ['-p', f'rate_hz:={args.rate}', '-p', f'hold_frames:={args.hold}',
                       '-p', f'synth.count:={args.scenes}', '-p', f'synth.seed:={args.seed}',
                       '-p', f'synth.people_max:={args.people}', '-p', f'frame_id:={CAMERA_FRAME}']
        figures = measure(env, model, args.backend, camera_args, args)
    figures.update(model=str(model) if not is_random else 'random', model_note=note,
                   random_weights=is_random)
    report(figures, args)
    return 0


def measure(env: dict, model: Path, backend: str, camera_args: list, args) -> dict:
    """Run the pipeline, observe ``args.seconds``, return the figures (and draw)."""
    import numpy as np  # noqa: PLC0415
    import rclpy  # noqa: PLC0415
    from rclpy.executors import SingleThreadedExecutor  # noqa: PLC0415

    from kinpose_ros.evaluation import map_at  # noqa: PLC0415
    from kinpose_ros.ros.demo_observer import DemoObserver  # noqa: PLC0415

    pose, camera = start_pipeline(env, model, backend, camera_args)
    rclpy.init()
    observer = DemoObserver(CAMERA_FRAME, keep_images=30)
    executor = SingleThreadedExecutor()
    executor.add_node(observer)
    try:
        if not spin_for(executor, 60, lambda: observer.tf and observer.truth):
            raise RuntimeError('no output from the pose node within 60 s:\n'
                               f'{pose.tail()}\n{camera.tail()}')
        start_ns = time.time_ns()
        t0 = time.monotonic()
        spin_for(executor, args.seconds)
        elapsed = time.monotonic() - t0
        frames_in = sum(1 for s in observer.truth if s >= start_ns)
        frames_out = sum(1 for s in observer.tf if s >= start_ns)
        lat = observer.latencies_ms(start_ns)
        pred, gt, scored = observer.scored_pairs(start_ns)
        # percent, like `kinpose eval` and the model cards
        mAP = 100.0 * map_at(pred, gt, 0.10)[0] if len(pred) else float('nan')
        figures = {
            'seconds': round(elapsed, 2), 'frames_in': frames_in, 'frames_out': frames_out,
            'fps': frames_out / elapsed, 'input_fps': frames_in / elapsed,
            'latency_p50_ms': float(np.percentile(lat, 50)) if len(lat) else float('nan'),
            'latency_p99_ms': float(np.percentile(lat, 99)) if len(lat) else float('nan'),
            'map_10cm': float(mAP), 'scored_frames': scored, 'scored_people': len(pred),
            'node_dropped': observer.diagnostics.get('dropped', '?'),
        }
        figures['png'] = str(draw(observer, Path(args.out), args.gif))
    finally:
        executor.shutdown()
        observer.destroy_node()
        rclpy.try_shutdown()
        rc_cam, rc_pose = camera.stop(), pose.stop()
    figures['clean_exit'] = rc_cam == 0 and rc_pose == 0
    return figures


def draw(observer, out: Path, gif: bool) -> Path | None:
    """demo.png: the newest frame with depth, truth and estimate (2x, nearest); the GIF: every
    kept frame."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    from kinpose_ros.core.skeleton import Skeleton  # noqa: PLC0415
    from kinpose_ros.ros.conversions import (  # noqa: PLC0415
        camera_info_to_intrinsics,
        depth_image_to_metres,
    )
    from kinpose_ros.ros.demo_observer import people_from_tf  # noqa: PLC0415
    from kinpose_ros.ros.overlay import colourise_depth, draw_skeleton, person_rgb  # noqa: PLC0415

    if observer.camera_info is None:
        return None
    K = camera_info_to_intrinsics(observer.camera_info)
    sk = Skeleton.load('body15')
    frames, best = [], None
    for s, msg in observer.images.items():
        if s not in observer.truth:
            continue
        if s in observer.tf:
            best = len(frames)
        img = colourise_depth(depth_image_to_metres(msg))
        names, truth = observer.truth[s]
        bones = sk.bones if names == sk.joint_names else []
        for joints in truth:
            draw_skeleton(img, joints, bones, K, (255, 255, 255), radius_px=2.0)
        if s in observer.tf:
            for pid, joints in people_from_tf(observer.tf[s][1], CAMERA_FRAME, names).items():
                draw_skeleton(img, joints, bones, K, person_rgb(pid), radius_px=3.0)
        frames.append(Image.fromarray(np.repeat(np.repeat(img, 2, 0), 2, 1)))
    if not frames:
        return None
    out.mkdir(parents=True, exist_ok=True)
    frames[-1 if best is None else best].save(out / 'demo.png')
    if gif and len(frames) > 1:
        frames[0].save(out / 'demo.gif', save_all=True, append_images=frames[1:], duration=100,
                       loop=0)
    return out / 'demo.png'


def report(figures: dict, args: argparse.Namespace) -> None:
    from kinpose_ros.tools.cli import print_json  # noqa: PLC0415

    if args.json:
        print_json({k: figures[k] for k in ('frames_in', 'frames_out', 'fps', 'latency_p99_ms',
                                            'map_10cm')} | figures)
        return
    print(f'model: {figures["model_note"]}')
    print(f'frames in {figures["frames_in"]}, out {figures["frames_out"]} in '
          f'{figures["seconds"]} s: {figures["fps"]:.1f} fps (camera {figures["input_fps"]:.1f})')
    print(f'latency image stamp -> TF: p50 {figures["latency_p50_ms"]:.1f} ms, p99 '
          f'{figures["latency_p99_ms"]:.1f} ms')
    print(f'mAP@10cm {figures["map_10cm"]:.1f} % over {figures["scored_people"]} people in '
          f'{figures["scored_frames"]} frames' + (' (RANDOM WEIGHTS: meaningless)'
                                                  if figures['random_weights'] else ''))
    print(f'picture: {figures["png"]}')
    sys.stdout.flush()
