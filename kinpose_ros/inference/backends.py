"""Inference backends: one call signature for ONNX Runtime, PyTorch and TensorRT.

Every backend is a callable ``backend(crops) -> {output name: array}``: ``crops`` is
(N, C, H, W) float32 (the card's input), outputs are float32 numpy arrays with the batch first,
decoded in the graph, named and shaped as the card's ``outputs``. ``backend.name`` says what runs
('onnxruntime-cpu', 'onnxruntime-cuda', 'torch-cpu', 'tensorrt-fp16', ...), ``max_batch`` the
largest batch one graph call takes: more crops are split into several calls; a graph with a fixed
batch gets padded. N = 0 returns empty arrays without running anything.

``create_backend(card, 'auto')`` picks TensorRT (GPU + ``tensorrt`` + an engine cached or
buildable), else ONNX Runtime with CUDA, else ONNX Runtime on the CPU, else PyTorch (needs the
training checkpoint); the choice and its reason are logged on ``kinpose_ros.inference``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from kinpose_ros.inference.model_card import ModelCard

__all__ = ['BACKEND_KINDS', 'Availability', 'Backend', 'OnnxRuntimeBackend', 'TorchBackend',
           'choose_backend', 'create_backend', 'ort_providers', 'probe_availability']

log = logging.getLogger('kinpose_ros.inference')
BACKEND_KINDS = ('auto', 'tensorrt', 'onnxruntime', 'onnxruntime-cuda', 'onnxruntime-cpu',
                 'torch')


@runtime_checkable
class Backend(Protocol):
    """What the estimator needs from a backend."""

    name: str
    max_batch: int

    def __call__(self, crops: np.ndarray) -> dict[str, np.ndarray]: ...


def _as_card(model: ModelCard | str | Path) -> ModelCard:
    return model if isinstance(model, ModelCard) else ModelCard.load(model)


class BatchedBackend:
    """Shared input checks, chunking to ``max_batch`` and padding of fixed-batch graphs.

    Subclasses implement ``_run(crops (n, C, H, W) float32 contiguous) -> dict`` for
    ``n <= max_batch`` (exactly ``max_batch`` when the graph's batch is fixed).
    """

    name = 'base'

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.max_batch = card.max_batch
        self.fixed_batch = not card.dynamic_batch
        self.input_shape = (card.input.channels, card.input.height, card.input.width)
        self.output_names = card.output_names
        self._tails = {o.name: tuple(o.shape[1:]) for o in card.outputs}

    def _check(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != self.input_shape:
            raise ValueError(f'crops: expected (N, {", ".join(map(str, self.input_shape))}) '
                             f'for model {self.card.name!r}, got {crops.shape}')
        if crops.dtype != np.float32:
            raise ValueError(f'crops: expected float32, got {crops.dtype}')
        return np.ascontiguousarray(crops)

    def __call__(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        crops = self._check(crops)
        n = crops.shape[0]
        if n == 0:
            return {k: np.zeros((0, *t), np.float32) for k, t in self._tails.items()}
        if n == self.max_batch or (n < self.max_batch and not self.fixed_batch):
            return self._run(crops)
        parts = []
        for start in range(0, n, self.max_batch):
            chunk = crops[start:start + self.max_batch]
            m = chunk.shape[0]
            if self.fixed_batch and m < self.max_batch:
                pad = np.zeros((self.max_batch - m, *self.input_shape), np.float32)
                chunk = np.concatenate([chunk, pad])
            out = self._run(np.ascontiguousarray(chunk))
            parts.append({k: v[:m] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}

    def _run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.card.name!r}, name={self.name!r})'


def ort_providers(device: str) -> list:
    """ONNX Runtime execution providers for ``device`` 'cpu' or 'cuda' (CUDA first, the CPU
    for what it lacks).

    Raises:
        ValueError: another ``device``.
        RuntimeError: 'cuda' and ONNX Runtime has no CUDA execution provider here.
    """
    import onnxruntime as ort  # noqa: PLC0415

    if device not in ('cpu', 'cuda'):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if device == 'cpu':
        return ['CPUExecutionProvider']
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        raise RuntimeError('ONNX Runtime has no CUDAExecutionProvider here (installed '
                           f'providers: {ort.get_available_providers()}); install '
                           "onnxruntime-gpu or use device='cpu'")
    return ['CUDAExecutionProvider', 'CPUExecutionProvider']


class OnnxRuntimeBackend(BatchedBackend):
    """ONNX Runtime on the CPU (``threads`` intra-op threads, None = ORT's default) or CUDA."""

    def __init__(self, model: ModelCard | str | Path, device: str = 'cpu',
                 threads: int | None = None) -> None:
        card = _as_card(model)
        super().__init__(card)
        try:
            import onnxruntime as ort  # noqa: PLC0415
        except ImportError as exc:
            raise RuntimeError('ONNX Runtime is not installed: pip install onnxruntime (CPU) '
                               'or onnxruntime-gpu (CUDA), or the extra kinpose_ros[onnx]'
                               ) from exc
        providers = ort_providers(device)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = int(threads)
        path = card.onnx_path
        if not path.is_file():
            raise FileNotFoundError(f'ONNX file {path} (from card {card.path}) does not exist')
        self.session = ort.InferenceSession(str(path), opts, providers=providers)
        graph_outputs = [o.name for o in self.session.get_outputs()]
        missing = [n for n in self.output_names if n not in graph_outputs]
        if missing:
            raise ValueError(f'{path}: outputs {missing} of the card are not in the graph '
                             f'(graph outputs: {graph_outputs})')
        self.input_name = self.session.get_inputs()[0].name
        if self.input_name != card.input.name:
            raise ValueError(f'{path}: graph input is {self.input_name!r}, card says '
                             f'{card.input.name!r}')
        self.name = f'onnxruntime-{device}'
        self.device = device

    def _run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(list(self.output_names), {self.input_name: crops})
        return dict(zip(self.output_names, values))


class TorchBackend(BatchedBackend):
    """PyTorch eager from a training checkpoint; the caller picks the device ('cpu', 'cuda:0').

    ``card``: the exported model's card when there is one (it must describe the same network);
    otherwise the card is derived from the checkpoint.
    """

    def __init__(self, checkpoint: str | Path, device: str = 'cpu',
                 card: ModelCard | str | Path | None = None, threads: int | None = None) -> None:
        import torch  # noqa: PLC0415

        from kinpose_ros.inference.model_export import build_card  # noqa: PLC0415
        from kinpose_ros.nets.checkpoint import load_checkpoint  # noqa: PLC0415

        model, info = load_checkpoint(checkpoint)
        if card is None:
            batch = {'dynamic': True, 'max': 8}
            card = build_card(Path(checkpoint).stem, info.family, info.model_config,
                              info.skeleton, info.card, batch, '', 17, 'unknown')
        card = _as_card(card)
        if card.family != info.family or list(card.input_size) != list(
                info.model_config['input_size']):
            raise ValueError(f'card {card.name!r} ({card.family}, input {card.input_size}) does '
                             f'not describe checkpoint {checkpoint} ({info.family}, input '
                             f'{info.model_config["input_size"]})')
        super().__init__(card)
        self.fixed_batch = False  # eager PyTorch takes any batch
        if threads:
            torch.set_num_threads(int(threads))
        self.torch = torch
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.name = f'torch-{self.device.type}'

    def _run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(crops).to(self.device, non_blocking=True)
            outs = self.model.export_forward(x)
            return {n: o.float().cpu().numpy() for n, o in zip(self.output_names, outs)}


@dataclass
class Availability:
    """What this process can run; each flag has a reason for the log."""

    gpu: bool = False
    tensorrt: bool = False
    ort: bool = False
    ort_cuda: bool = False
    torch: bool = False
    checkpoint: bool = False
    reasons: dict | None = None


def _probe_gpu() -> tuple[bool, str]:
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        return False, 'torch is not installed (used to find CUDA devices)'
    if not torch.cuda.is_available():
        return False, 'no CUDA device visible to torch'
    return True, f'CUDA device {torch.cuda.get_device_name(0)}'


def probe_availability(checkpoint: str | Path | None = None) -> Availability:
    """Look at this process: GPU (through torch.cuda), tensorrt, onnxruntime (+CUDA EP), torch."""
    reasons = {}
    a = Availability(reasons=reasons)
    a.gpu, reasons['gpu'] = _probe_gpu()
    try:
        import tensorrt  # noqa: F401, PLC0415

        a.tensorrt, reasons['tensorrt'] = True, f'tensorrt {tensorrt.__version__}'
    except ImportError:
        reasons['tensorrt'] = 'tensorrt is not importable'
    try:
        import onnxruntime as ort  # noqa: PLC0415

        a.ort, reasons['ort'] = True, f'onnxruntime {ort.__version__}'
        a.ort_cuda = 'CUDAExecutionProvider' in ort.get_available_providers()
        reasons['ort_cuda'] = 'CUDAExecutionProvider present' if a.ort_cuda else \
            'onnxruntime has no CUDAExecutionProvider'
    except ImportError:
        reasons['ort'] = 'onnxruntime is not installed'
    try:
        import torch  # noqa: F401, PLC0415

        a.torch = True
    except ImportError:
        reasons['torch'] = 'torch is not installed'
    a.checkpoint = checkpoint is not None and Path(checkpoint).is_file()
    reasons['checkpoint'] = f'checkpoint {checkpoint}' if a.checkpoint else \
        'no training checkpoint given (the PyTorch backend needs one)'
    return a


def choose_backend(avail: Availability, force: str = 'auto') -> tuple[str, str]:
    """Pure decision: (kind, reason) with kind in tensorrt | onnxruntime-cuda |
    onnxruntime-cpu | torch. A forced kind that cannot run raises RuntimeError with why."""
    r = avail.reasons or {}
    if force not in BACKEND_KINDS:
        raise ValueError(f'backend: expected one of {BACKEND_KINDS}, got {force!r}')
    can = {
        'tensorrt': (avail.gpu and avail.tensorrt,
                     f"{r.get('gpu', 'gpu?')}; {r.get('tensorrt', 'tensorrt?')}"),
        'onnxruntime-cuda': (avail.gpu and avail.ort_cuda,
                             f"{r.get('gpu', 'gpu?')}; {r.get('ort_cuda', 'ort cuda?')}"),
        'onnxruntime-cpu': (avail.ort, r.get('ort', 'onnxruntime?')),
        'torch': (avail.torch and avail.checkpoint,
                  f"{r.get('torch', 'torch available')}; {r.get('checkpoint', '')}"),
    }
    if force == 'onnxruntime':
        force = 'onnxruntime-cuda' if can['onnxruntime-cuda'][0] else 'onnxruntime-cpu'
    if force != 'auto':
        ok, why = can[force]
        if not ok:
            raise RuntimeError(f'backend {force!r} was requested but cannot run here: {why}')
        return force, f'forced by the caller ({why})'
    skipped = []
    for kind in ('tensorrt', 'onnxruntime-cuda', 'onnxruntime-cpu', 'torch'):
        ok, why = can[kind]
        if ok:
            note = f' (skipped: {"; ".join(skipped)})' if skipped else ''
            return kind, f'automatic: {why}{note}'
        skipped.append(f'{kind}: {why}')
    raise RuntimeError('no inference backend can run here: ' + '; '.join(skipped) +
                       '. Install onnxruntime (pip install onnxruntime) or give a checkpoint')


def create_backend(model: ModelCard | str | Path, backend: str = 'auto',
                   checkpoint: str | Path | None = None, threads: int | None = None,
                   device: str | None = None, engine_options: dict | None = None) -> Backend:
    """A ready backend for the card ``model`` (a card or the path of its .json / .onnx).

    ``backend``: one of ``BACKEND_KINDS`` or an instance (returned as is). ``threads``: CPU
    threads (ONNX Runtime intra-op, torch). ``device``: torch device for 'torch' (default
    'cuda:0' with a GPU else 'cpu'). ``engine_options``: keyword arguments of
    ``TensorRTBackend`` (precision, cache_dir, rebuild, workspace_mb, ...).
    """
    if not isinstance(backend, str):
        return backend
    card = _as_card(model)
    avail = probe_availability(checkpoint)
    kind, reason = choose_backend(avail, backend)
    log.info('inference backend for %s: %s (%s)', card.name, kind, reason)
    if kind == 'tensorrt':
        from kinpose_ros.inference.tensorrt import TensorRTBackend  # noqa: PLC0415

        try:
            return TensorRTBackend(card, **(engine_options or {}))
        except Exception as exc:
            if backend == 'tensorrt':
                raise
            log.warning('TensorRT engine unavailable for %s (%s); falling back', card.name, exc)
            avail.tensorrt = False
            avail.reasons['tensorrt'] = f'engine failed: {exc}'
            kind, reason = choose_backend(avail, 'auto')
            log.info('inference backend for %s: %s (%s)', card.name, kind, reason)
    if kind.startswith('onnxruntime'):
        return OnnxRuntimeBackend(card, device=kind.split('-')[1], threads=threads)
    dev = device or ('cuda:0' if avail.gpu else 'cpu')
    return TorchBackend(checkpoint, device=dev, card=card, threads=threads)
