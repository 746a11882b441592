"""TensorRT engines: build from the ONNX file (FP32 / FP16 / INT8), run with preallocated buffers.

``tensorrt`` is imported lazily (``import kinpose_ros.inference.tensorrt`` works without it); on a
Jetson it comes with JetPack (``python3 -c 'import tensorrt'``), on a desktop from NVIDIA's pip
wheels (``pip install tensorrt``); see ``docs/tensorrt.md``. CUDA memory and the stream are
torch's (``torch.cuda``), so no pycuda/cuda-python is needed.

* ``build_engine``: TensorRT Python API (``OnnxParser``, a builder config with a workspace limit,
  a persistent timing cache, one optimisation profile for batch 1..max), INT8 through an entropy
  calibrator (``IInt8EntropyCalibrator2``) fed with crops from ``inference.calibration`` and a
  calibration cache kept beside the engine. Writes ``<engine>.engine`` + sidecar JSON.
* ``TensorRTBackend``: finds the engine for this TensorRT / GPU / ONNX / precision / batch in the
  cache (``engine_cache``), checks its sidecar, builds it when missing (or when ``rebuild``),
  refuses a mismatching one with the command that rebuilds it. Runtime: device and pinned host
  buffers for the maximum batch allocated once, ``execute_async_v3`` on a private CUDA stream,
  one synchronisation per call, no allocation per frame.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from kinpose_ros.inference.backends import BatchedBackend
from kinpose_ros.inference.engine_cache import (
    PRECISIONS,
    EngineMismatchError,
    EngineSidecar,
    RuntimeInfo,
    check_engine,
    default_cache_dir,
    engine_path,
    rebuild_command,
    sidecar_path,
)
from kinpose_ros.inference.model_card import ModelCard

__all__ = ['TensorRTBackend', 'build_engine', 'import_tensorrt']

log = logging.getLogger('kinpose_ros.inference')


def import_tensorrt():
    """The ``tensorrt`` module, or RuntimeError saying how to get it."""
    try:
        import tensorrt as trt  # noqa: PLC0415
    except ImportError as exc:
        raise RuntimeError("TensorRT is not importable: on a Jetson use JetPack's python3 "
                           '(apt package python3-libnvinfer), on a desktop pip install tensorrt; '
                           'see docs/tensorrt.md') from exc
    return trt


def _calibrator(trt, batches, shape: tuple, cache_path: Path):
    """An IInt8EntropyCalibrator2 over ``batches`` (iterable of (B, C, H, W) float32)."""
    import torch  # noqa: PLC0415

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches = iter(batches)
            self.device = torch.empty(shape, dtype=torch.float32, device='cuda')
            self.count = 0

        def get_batch_size(self) -> int:
            return int(shape[0])

        def get_batch(self, names):  # noqa: ARG002 - one input
            try:
                batch = next(self.batches)
            except StopIteration:
                return None
            self.device.copy_(torch.from_numpy(np.ascontiguousarray(batch, np.float32)))
            self.count += 1
            return [int(self.device.data_ptr())]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            cache_path.write_bytes(bytes(cache))

    return EntropyCalibrator()


def build_engine(card: ModelCard, out: str | Path, precision: str = 'fp16',
                 max_batch: int | None = None, workspace_mb: int = 1024,
                 timing_cache: str | Path | None = None, calibration_batches=None,
                 runtime: RuntimeInfo | None = None) -> EngineSidecar:
    """Build ``out`` (.engine) from ``card``'s ONNX file and write its sidecar; returns it.

    Args:
        precision: 'fp32', 'fp16' or 'int8' (INT8 also enables FP16 for layers left in float).
        max_batch: largest batch of the optimisation profile (default: the card's); fixed-batch
            graphs keep their batch.
        workspace_mb: builder workspace memory limit.
        timing_cache: file read before and written after the build (faster rebuilds).
        calibration_batches: for INT8, an iterable of (max_batch, C, H, W) float32 crops, e.g.
            ``inference.calibration.calibration_batches``; the calibration cache
            ``<out>.calib`` is reused when present.

    Raises:
        RuntimeError: TensorRT missing, the parser rejecting the graph (its errors listed), or
            the build failing.
    """
    trt = import_tensorrt()
    from kinpose_ros.inference.model_export import file_sha256  # noqa: PLC0415

    if precision not in PRECISIONS:
        raise ValueError(f'precision: expected one of {PRECISIONS}, got {precision!r}')
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runtime = runtime or RuntimeInfo.current()
    n = int(max_batch or card.max_batch) if card.dynamic_batch else card.max_batch
    c, h, w = card.input.channels, card.input.height, card.input.width
    t0 = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch (the only mode in TensorRT 10)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(card.onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f'TensorRT cannot parse {card.onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if precision in ('fp16', 'int8'):
        config.set_flag(trt.BuilderFlag.FP16)
    cache_bytes = b''
    if timing_cache is not None and Path(timing_cache).is_file():
        cache_bytes = Path(timing_cache).read_bytes()
    tc = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(tc, ignore_mismatch=False)
    inp = network.get_input(0)
    profile = None
    if card.dynamic_batch:
        profile = builder.create_optimization_profile()
        profile.set_shape(inp.name, (1, c, h, w), (min(n, 4), c, h, w), (n, c, h, w))
        config.add_optimization_profile(profile)
    calib_info = {}
    if precision == 'int8':
        if calibration_batches is None:
            raise ValueError('precision int8 needs calibration_batches (see '
                             'inference.calibration.calibration_batches)')
        config.set_flag(trt.BuilderFlag.INT8)
        calib_cache = out.with_suffix('.calib')
        config.int8_calibrator = _calibrator(trt, calibration_batches, (n, c, h, w), calib_cache)
        if profile is not None:
            config.set_calibration_profile(profile)
        calib_info = {'cache': calib_cache.name, 'method': 'entropy2'}
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f'TensorRT failed to build an engine from {card.onnx_path} '
                           f'(precision {precision}, max batch {n}); see the TensorRT log above')
    out.write_bytes(bytes(serialized))
    if timing_cache is not None:
        Path(timing_cache).write_bytes(bytes(config.get_timing_cache().serialize()))
    tensors = [network.get_input(i) for i in range(network.num_inputs)]
    outs = [network.get_output(i) for i in range(network.num_outputs)]
    sidecar = EngineSidecar(
        tensorrt_version=runtime.tensorrt_version, gpu_name=runtime.gpu_name,
        compute_capability=runtime.compute_capability, precision=precision,
        onnx_sha256=file_sha256(card.onnx_path), max_batch=n, onnx_file=card.onnx_path.name,
        inputs=[{'name': t.name, 'shape': [n, c, h, w], 'dtype': str(t.dtype)} for t in tensors],
        outputs=[{'name': t.name, 'shape': [n if d == -1 else int(d) for d in t.shape],
                  'dtype': str(t.dtype)} for t in outs],
        workspace_mb=int(workspace_mb), calibration=calib_info,
        build_seconds=round(time.perf_counter() - t0, 2))
    sidecar.save(sidecar_path(out))
    log.info('built TensorRT engine %s (%s, batch <= %d) in %.1f s', out, precision, n,
             sidecar.build_seconds)
    return sidecar


class TensorRTBackend(BatchedBackend):
    """A TensorRT engine behind the common backend call (see the module docstring).

    Args:
        model: card (or its path) of the ONNX model the engine is built from.
        engine: an explicit engine file (its sidecar must match); default: the cache entry.
        cache_dir: engine cache directory (default ``engine_cache.default_cache_dir()``).
        precision, max_batch, workspace_mb: build settings (see ``build_engine``).
        rebuild: build again when the engine is missing or does not match, instead of raising.
        build: allow building a missing cache entry (default True).
        calibration_batches: INT8 calibration data (needed only when an INT8 build happens).
        device: CUDA device index.
    """

    def __init__(self, model: ModelCard | str | Path, engine: str | Path | None = None,
                 cache_dir: str | Path | None = None, precision: str = 'fp16',
                 max_batch: int | None = None, workspace_mb: int = 1024, rebuild: bool = False,
                 build: bool = True, calibration_batches=None, device: int = 0) -> None:
        card = model if isinstance(model, ModelCard) else ModelCard.load(model)
        trt = import_tensorrt()
        import torch  # noqa: PLC0415

        from kinpose_ros.inference.model_export import file_sha256  # noqa: PLC0415

        runtime = RuntimeInfo.current(device)
        sha = file_sha256(card.onnx_path)
        if card.onnx_sha256 and card.onnx_sha256 != sha:
            raise EngineMismatchError(f'{card.onnx_path} does not match its card (sha256 '
                                      f'{sha[:12]} vs {card.onnx_sha256[:12]}): re-export it')
        n = int(max_batch or card.max_batch)
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = Path(engine) if engine is not None else engine_path(
            cache_dir, card.name, runtime, sha, precision, n)
        try:
            check_engine(path, runtime, sha, card.onnx_path, precision, n, cache_dir)
        except EngineMismatchError as exc:
            if not (rebuild or (build and engine is None and not path.exists())):
                raise
            log.warning('%s: building TensorRT engine %s', exc, path)
            build_engine(card, path, precision, n, workspace_mb, cache_dir / 'timing.cache',
                         calibration_batches, runtime)
        super().__init__(card)
        self.max_batch = n
        self.engine_path, self.precision, self.name = path, precision, f'tensorrt-{precision}'
        self.torch = torch
        self._load(trt, path, device)

    def _load(self, trt, path: Path, device: int) -> None:
        torch = self.torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)  # must outlive the engine it deserialises
        self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise EngineMismatchError(
                f'TensorRT could not deserialise {path} although its sidecar matches; rebuild: '
                f'{rebuild_command(self.card.onnx_path, self.precision, self.max_batch)}')
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream(device=device)
        dev = torch.device('cuda', device)
        c, h, w = self.input_shape
        self.input_name = self.card.input.name
        self.context.set_input_shape(self.input_name, (self.max_batch, c, h, w))
        self._dev, self._host = {}, {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = _TORCH_DTYPES[str(self.engine.get_tensor_dtype(name))]
            self._dev[name] = torch.empty(shape, dtype=getattr(torch, dtype), device=dev)
            self._host[name] = torch.empty(shape, dtype=getattr(torch, dtype), pin_memory=True)
            self.context.set_tensor_address(name, int(self._dev[name].data_ptr()))
        self._batch = self.max_batch

    def _run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        torch = self.torch
        n = crops.shape[0]
        host_in = self._host[self.input_name]
        host_in[:n].numpy()[...] = crops
        if n != self._batch:
            self.context.set_input_shape(self.input_name, (n, *self.input_shape))
            self._batch = n
        with torch.cuda.stream(self.stream):
            self._dev[self.input_name][:n].copy_(host_in[:n], non_blocking=True)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f'TensorRT execution failed for {self.engine_path}')
            for name in self.output_names:
                self._host[name][:n].copy_(self._dev[name][:n], non_blocking=True)
        self.stream.synchronize()
        return {name: self._host[name][:n].numpy().astype(np.float32, copy=True)
                for name in self.output_names}


_TORCH_DTYPES = {'DataType.FLOAT': 'float32', 'DataType.HALF': 'float16',
                 'DataType.INT32': 'int32', 'DataType.INT64': 'int64', 'DataType.BOOL': 'bool',
                 'DataType.INT8': 'int8', 'DataType.UINT8': 'uint8'}
