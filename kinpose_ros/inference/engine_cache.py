"""TensorRT engine cache and sidecars: pure Python, no TensorRT needed to read or check them.

An engine is only valid for the TensorRT version, the GPU (name and compute capability), the
ONNX graph and the build settings it was made with. Each ``<engine>.engine`` is stored with a
sidecar ``<engine>.json`` (``EngineSidecar``) recording all of those plus the I/O tensors, and
engines live in a cache directory under a file name carrying a key derived from them
(``cache_key``). Loading goes through ``check_engine``: an engine without a sidecar, or whose
sidecar differs from the running TensorRT / GPU / ONNX, raises ``EngineMismatchError`` naming each
difference and the command that rebuilds it; nothing is deserialised on a mismatch, so an upgrade
can never make an engine fail silently or produce garbage.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ['PRECISIONS', 'SIDECAR_FORMAT', 'EngineMismatchError', 'EngineSidecar',
           'RuntimeInfo', 'cache_key', 'check_engine', 'default_cache_dir', 'engine_path',
           'find_engine',
           'rebuild_command', 'sidecar_path']

SIDECAR_FORMAT = 'kinpose-tensorrt-engine'
SIDECAR_VERSION = 1
PRECISIONS = ('fp32', 'fp16', 'int8')


class EngineMismatchError(RuntimeError):
    """An engine cannot be used with this TensorRT / GPU / ONNX; the message says how to fix it."""


@dataclass(frozen=True)
class RuntimeInfo:
    """What an engine is bound to on the machine that runs it."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # 'major.minor', e.g. '8.7' (Jetson Orin), '8.9' (RTX 40xx)

    @classmethod
    def current(cls, device: int = 0) -> RuntimeInfo:
        """This process's TensorRT and CUDA device (imports tensorrt and torch)."""
        try:
            import tensorrt as trt  # noqa: PLC0415
            import torch  # noqa: PLC0415
        except ImportError as exc:
            raise RuntimeError(f'TensorRT runtime info needs tensorrt and torch: {exc}') from exc
        if not torch.cuda.is_available():
            raise RuntimeError('TensorRT needs a CUDA device; torch sees none')
        major, minor = torch.cuda.get_device_capability(device)
        return cls(trt.__version__, torch.cuda.get_device_name(device), f'{major}.{minor}')


@dataclass
class EngineSidecar:
    """The JSON stored beside each engine."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    onnx_sha256: str
    max_batch: int
    onnx_file: str = ''
    inputs: list = field(default_factory=list)   # [{'name', 'shape' (max profile), 'dtype'}]
    outputs: list = field(default_factory=list)
    workspace_mb: int = 0
    calibration: dict = field(default_factory=dict)
    build_seconds: float = 0.0
    created: str = ''
    format: str = SIDECAR_FORMAT
    format_version: int = SIDECAR_VERSION

    @property
    def runtime(self) -> RuntimeInfo:
        return RuntimeInfo(self.tensorrt_version, self.gpu_name, self.compute_capability)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.created:
            self.created = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds')
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + '\n',
                        encoding='utf-8')
        return path

    @classmethod
    def load(cls, path: str | Path) -> EngineSidecar:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
            if data.get('format') != SIDECAR_FORMAT:
                raise ValueError(f"format {data.get('format')!r} is not {SIDECAR_FORMAT!r}")
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise EngineMismatchError(f'engine sidecar {path} cannot be read ({exc}); delete the '
                                      'engine and its sidecar and rebuild it') from exc


def default_cache_dir() -> Path:
    """``$KINPOSE_ENGINE_CACHE``, else ``$XDG_CACHE_HOME/kinpose_ros/engines`` (``~/.cache``).

    The one default location, used when a caller names no cache directory; engines are
    machine-specific, so they belong in a per-user cache, not beside the shipped ONNX files.
    """
    if os.environ.get('KINPOSE_ENGINE_CACHE'):
        return Path(os.environ['KINPOSE_ENGINE_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'kinpose_ros' / 'engines'


def cache_key(runtime: RuntimeInfo, onnx_sha256: str, precision: str, max_batch: int) -> str:
    """16 hex digits that change whenever anything binding the engine changes."""
    text = '|'.join([runtime.tensorrt_version, runtime.gpu_name, runtime.compute_capability,
                     onnx_sha256, precision, str(int(max_batch))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def engine_path(cache_dir: str | Path, model_name: str, runtime: RuntimeInfo, onnx_sha256: str,
                precision: str, max_batch: int) -> Path:
    """``<cache_dir>/<model>.<precision>.b<max_batch>.<key>.engine``."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision: expected one of {PRECISIONS}, got {precision!r}')
    key = cache_key(runtime, onnx_sha256, precision, max_batch)
    return Path(cache_dir) / f'{model_name}.{precision}.b{int(max_batch)}.{key}.engine'


def sidecar_path(engine: str | Path) -> Path:
    return Path(engine).with_suffix('.json')


def rebuild_command(onnx_path: str | Path, precision: str, max_batch: int,
                    cache_dir: str | Path | None = None) -> str:
    cmd = (f'kinpose build-engine --onnx {onnx_path} --precision {precision} '
           f'--max-batch {int(max_batch)}')
    return cmd + (f' --cache-dir {cache_dir}' if cache_dir else '')


def mismatches(sidecar: EngineSidecar, runtime: RuntimeInfo, onnx_sha256: str,
               precision: str | None = None, max_batch: int | None = None) -> list[str]:
    """Human-readable differences between an engine's sidecar and what would run it."""
    diffs = []
    pairs = [('TensorRT version', sidecar.tensorrt_version, runtime.tensorrt_version),
             ('GPU', sidecar.gpu_name, runtime.gpu_name),
             ('compute capability', sidecar.compute_capability, runtime.compute_capability),
             ('ONNX sha256', sidecar.onnx_sha256, onnx_sha256)]
    if precision is not None:
        pairs.append(('precision', sidecar.precision, precision))
    for what, built, now in pairs:
        if str(built) != str(now):
            diffs.append(f'{what}: engine built for {built!r}, this process has {now!r}')
    if max_batch is not None and int(sidecar.max_batch) < int(max_batch):
        diffs.append(f'max batch: engine takes up to {sidecar.max_batch}, {max_batch} needed')
    if sidecar.format_version > SIDECAR_VERSION:
        diffs.append(f'sidecar format_version {sidecar.format_version} is newer than this '
                     f'kinpose_ros reads ({SIDECAR_VERSION})')
    return diffs


def check_engine(engine: str | Path, runtime: RuntimeInfo, onnx_sha256: str, onnx_path: str |
                 Path, precision: str | None = None, max_batch: int | None = None,
                 cache_dir: str | Path | None = None) -> EngineSidecar:
    """The sidecar of ``engine`` if it matches; else EngineMismatchError saying how to rebuild.

    Raises:
        EngineMismatchError: the engine or its sidecar is missing, unreadable, or was built for
            another TensorRT version, GPU, compute capability, ONNX file, precision or a smaller
            batch. The message lists each difference, the ``kinpose build-engine`` command that
            rebuilds it, and that ``rebuild=True`` (node parameter ``engine_rebuild``) does it
            automatically.
    """
    engine = Path(engine)
    side = sidecar_path(engine)
    prec = precision or 'fp16'
    how = (f'rebuild it with: {rebuild_command(onnx_path, prec, max_batch or 1, cache_dir)} '
           '(or pass rebuild=True to build it on load)')
    if not engine.is_file():
        raise EngineMismatchError(f'TensorRT engine {engine} does not exist; {how}')
    if not side.is_file():
        raise EngineMismatchError(f'TensorRT engine {engine} has no sidecar {side.name}, so what '
                                  f'it was built for is unknown and it is not loaded; {how}')
    sidecar = EngineSidecar.load(side)
    cmd = rebuild_command(onnx_path, precision or sidecar.precision,
                          max(max_batch or 1, sidecar.max_batch), cache_dir)
    how = f'rebuild it with: {cmd} (or pass rebuild=True to build it on load)'
    diffs = mismatches(sidecar, runtime, onnx_sha256, precision, max_batch)
    if diffs:
        raise EngineMismatchError(f'TensorRT engine {engine} does not match this machine: '
                                  + '; '.join(diffs) + f'. Engines are tied to the TensorRT '
                                  f'version, GPU and ONNX they were built from; {how}')
    return sidecar


def find_engine(cache_dir: str | Path, model_name: str, runtime: RuntimeInfo, onnx_sha256: str,
                precision: str, max_batch: int) -> Path | None:
    """The cached engine for exactly this runtime/ONNX/precision/batch, or None."""
    path = engine_path(cache_dir, model_name, runtime, onnx_sha256, precision, max_batch)
    return path if path.is_file() and sidecar_path(path).is_file() else None
