"""Tensor-only ONNX export of the pose networks (one pinned opset, fixed I/O names).

Every network in ``kinpose_ros.nets`` has ``output_names`` (a tuple of str) and
``export_forward(x) -> tuple[Tensor, ...]`` returning those outputs in that order, with the decode
inside the graph. ``ExportAdapter`` turns that into a plain module for the exporters;
``export_onnx`` writes the file with the batch axis dynamic. onnx / onnxruntime are needed only by
the caller that runs the file; torch alone writes it.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ['INPUT_NAME', 'ONNX_OPSET', 'ExportAdapter', 'export_onnx']

ONNX_OPSET = 17
INPUT_NAME = 'input'


class ExportAdapter(nn.Module):
    """Wraps a pose network so that ``forward`` is its ``export_forward`` (tensors only)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, 'export_forward') or not hasattr(model, 'output_names'):
            raise TypeError(f'model: expected a kinpose_ros.nets network with export_forward and '
                            f'output_names, got {type(model).__name__}')
        self.model = model
        self.output_names = tuple(model.output_names)
        self.train(model.training)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.export_forward(x))


def export_onnx(model: nn.Module, path: str | Path, example_input: torch.Tensor,
                opset: int = ONNX_OPSET, dynamic_batch: bool = True) -> tuple[str, ...]:
    """Write ``model`` (in eval mode) to an ONNX file; returns the output names.

    Args:
        model: a network with ``export_forward`` and ``output_names``; its train/eval mode is
            restored afterwards.
        path: destination .onnx file; its folder must exist.
        example_input: (B, C, H, W) tensor on the model's device; H and W are fixed in the graph.
        dynamic_batch: make axis 0 of the input and of every output symbolic ('batch').

    The TorchScript exporter (``dynamo=False``) is used: it handles the in-graph decode at opset 17
    and needs no extra package (the torch.export-based one needs ``onnxscript``). Its deprecation
    warning and the tracer's warnings about shape checks are silenced here, not in every caller.
    """
    adapter = ExportAdapter(model)
    was_training = model.training
    names = adapter.output_names
    axes = {n: {0: 'batch'} for n in (INPUT_NAME, *names)} if dynamic_batch else None
    adapter.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            # input-shape checks in the networks are constants in a traced graph, by design
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(adapter, (example_input,), str(path), opset_version=opset,
                              input_names=[INPUT_NAME], output_names=list(names),
                              dynamic_axes=axes, dynamo=False)
    finally:
        model.train(was_training)
    return names
