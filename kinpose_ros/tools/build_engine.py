"""``kinpose build-engine``: a TensorRT engine (+ sidecar) for an exported model, in the cache.

Needs a CUDA GPU and TensorRT (JetPack on a Jetson, ``pip install tensorrt`` on a desktop);
without them it exits with status 2 and says so. See docs/tensorrt.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers, name: str) -> None:
    p = subparsers.add_parser(
        name, help='build a TensorRT engine for a model',
        description='Build a TensorRT engine from <model>.onnx (with its card beside it) into the '
        'engine cache, keyed by TensorRT version, GPU, ONNX sha256, precision and batch; the '
        'engine is stored with a sidecar JSON recording all of them.')
    p.add_argument('--onnx', type=Path, required=True, help='exported model (.onnx or card .json)')
    p.add_argument('--precision', choices=('fp32', 'fp16', 'int8'), default='fp16')
    p.add_argument('--max-batch', type=int, default=None,
                   help="largest batch (people per call); default: the card's")
    p.add_argument('--workspace-mb', type=int, default=1024, help='builder workspace limit')
    p.add_argument('--cache-dir', type=Path, default=None,
                   help='engine cache (default $KINPOSE_ENGINE_CACHE or '
                   '~/.cache/kinpose_ros/engines)')
    p.add_argument('--out', type=Path, default=None,
                   help='write the engine here instead of the cache entry')
    p.add_argument('--calib-data', default='synthetic',
                   help="INT8 calibration crops: 'synthetic' or a folder of depth frames")
    p.add_argument('--calib-camera', default=None,
                   help='core.camera SENSOR_PRESETS name of the folder frames (e.g. itop)')
    p.add_argument('--calib-batches', type=int, default=32)
    p.add_argument('--json', action='store_true', help='print one JSON object as the last line')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from kinpose_ros.core.camera import SENSOR_PRESETS
    from kinpose_ros.inference.calibration import calibration_batches
    from kinpose_ros.inference.engine_cache import RuntimeInfo, default_cache_dir, engine_path
    from kinpose_ros.inference.model_card import ModelCard
    from kinpose_ros.inference.model_export import file_sha256
    from kinpose_ros.inference.tensorrt import build_engine, import_tensorrt
    from kinpose_ros.tools.cli import print_json

    card = ModelCard.load(args.onnx)
    import_tensorrt()
    runtime = RuntimeInfo.current()
    n = int(args.max_batch or card.max_batch)
    cache = args.cache_dir or default_cache_dir()
    out = args.out or engine_path(cache, card.name, runtime, file_sha256(card.onnx_path),
                                  args.precision, n)
    calib = None
    if args.precision == 'int8':
        intr = None
        if args.calib_camera is not None:
            if args.calib_camera not in SENSOR_PRESETS:
                raise ValueError(f'--calib-camera: expected one of {sorted(SENSOR_PRESETS)}, '
                                 f'got {args.calib_camera!r}')
            intr = SENSOR_PRESETS[args.calib_camera]
        calib = calibration_batches(card, args.calib_data, n, args.calib_batches, intr)
    sidecar = build_engine(card, out, args.precision, n, args.workspace_mb,
                           Path(cache) / 'timing.cache', calib, runtime)
    result = {'engine': str(out), **asdict(sidecar)}
    if args.json:
        print_json(result)
    else:
        print(f'wrote {out} ({sidecar.precision}, batch <= {sidecar.max_batch}, TensorRT '
              f'{sidecar.tensorrt_version}, {sidecar.gpu_name}) in {sidecar.build_seconds} s')
    return 0
