"""Which ONNX operators TensorRT 10 parses, as data, and a check of an exported graph against it.

Source: the operator support matrix of onnx/onnx-tensorrt, ``docs/operators.md`` at the
TensorRT 10.15 GA release (the ONNX parser that ships with TensorRT 10.x), rows marked ``Y``.
That release reads opsets 9 to 24; TensorRT 10.0 (the oldest TensorRT 10, and JetPack 6's 10.3
parser is close to it) reads 9 to 20, so the check demands an opset in ``TENSORRT10_OPSETS``.
Operators that a later 10.x added and that 10.0 lacks are listed in ``ADDED_AFTER_10_0`` (from
the same repository's changelog) and reported separately, because a Jetson may run an older
TensorRT 10 than a desktop. Refresh this table when the supported range moves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ['ADDED_AFTER_10_0', 'TENSORRT10_ONNX_OPS', 'TENSORRT10_OPSETS', 'OpCheck',
           'check_onnx_ops', 'graph_op_types']

SOURCE = ('https://github.com/onnx/onnx-tensorrt/blob/main/docs/operators.md '
          '(TensorRT 10.15 GA), rows marked Y')
TENSORRT10_OPSETS = (9, 20)  # inclusive range every TensorRT 10.x parses

TENSORRT10_ONNX_OPS = frozenset({
    'Abs', 'Acos', 'Acosh', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh',
    'Attention', 'AveragePool', 'BatchNormalization', 'BlackmanWindow', 'Cast', 'CastLike',
    'Ceil', 'Celu', 'Clip', 'Concat', 'Constant', 'ConstantOfShape', 'Conv', 'ConvTranspose',
    'Cos', 'Cosh', 'CumSum', 'DeformConv', 'DepthToSpace', 'DequantizeLinear', 'Div', 'Dropout',
    'Einsum', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'EyeLike', 'Flatten', 'Floor', 'Gather',
    'GatherElements', 'GatherND', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool',
    'GlobalMaxPool', 'Greater', 'GreaterOrEqual', 'GridSample', 'GroupNormalization', 'GRU',
    'HammingWindow', 'HannWindow', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'If',
    'ImageScaler', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LayerNormalization',
    'LeakyRelu', 'Less', 'LessOrEqual', 'Log', 'LogSoftmax', 'Loop', 'LRN', 'LSTM',
    'LpNormalization', 'LpPool', 'MatMul', 'Max', 'MaxPool', 'Mean',
    'MeanVarianceNormalization', 'Min', 'Mish', 'Mod', 'Mul', 'Neg', 'NonMaxSuppression',
    'NonZero', 'Not', 'OneHot', 'Or', 'Pad', 'ParametricSoftplus', 'Pow', 'PRelu',
    'QuantizeLinear', 'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike',
    'Range', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp',
    'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare',
    'Relu', 'Reshape', 'Resize', 'ReverseSequence', 'RMSNormalization', 'RNN', 'RoiAlign',
    'RotaryEmbedding', 'Round', 'STFT', 'ScaledTanh', 'Scan', 'Scatter', 'ScatterElements',
    'ScatterND', 'Selu', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Size', 'Slice',
    'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum',
    'Tan', 'Tanh', 'TensorScatter', 'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Trilu',
    'Unsqueeze', 'Upsample', 'Where', 'Xor',
})

# Added to the parser after TensorRT 10.0 (NVIDIA/TensorRT CHANGELOG 10.14: Attention;
# onnx-tensorrt Changelog 10.15: RotaryEmbedding, RMSNormalization, TensorScatter); not an
# exhaustive list of late additions, so shipped graphs stay with long-supported operators.
ADDED_AFTER_10_0 = frozenset({'Attention', 'RMSNormalization', 'RotaryEmbedding',
                              'TensorScatter'})


@dataclass
class OpCheck:
    """Result of :func:`check_onnx_ops` for one graph."""

    op_types: list          # sorted op types of the graph (subgraphs included)
    unsupported: list       # op types TensorRT 10 does not parse
    newer_than_10_0: list   # op types only recent TensorRT 10 releases parse
    foreign_domains: list   # custom-domain ops (need a plugin), as 'domain::Op'
    opset: int
    opset_ok: bool

    @property
    def ok(self) -> bool:
        return not self.unsupported and not self.foreign_domains and self.opset_ok

    def message(self) -> str:
        if self.ok:
            return f'all {len(self.op_types)} op types are supported by TensorRT 10'
        parts = []
        if self.unsupported:
            parts.append(f'unsupported ops {self.unsupported}')
        if self.foreign_domains:
            parts.append(f'custom-domain ops {self.foreign_domains}')
        if not self.opset_ok:
            parts.append(f'opset {self.opset} outside TensorRT 10 range {TENSORRT10_OPSETS}')
        return 'graph not TensorRT 10 compatible: ' + '; '.join(parts) + f' (table: {SOURCE})'


def _walk(graph, found: set, foreign: set) -> None:
    for node in graph.node:
        if node.domain not in ('', 'ai.onnx'):
            foreign.add(f'{node.domain}::{node.op_type}')
        else:
            found.add(node.op_type)
        for attr in node.attribute:
            if attr.HasField('g'):
                _walk(attr.g, found, foreign)
            for sub in attr.graphs:
                _walk(sub, found, foreign)


def graph_op_types(model_or_path) -> tuple[list, list, int]:
    """(sorted ai.onnx op types, sorted custom-domain ops, ai.onnx opset) of an ONNX model."""
    import onnx  # noqa: PLC0415 - optional dependency (extra 'onnx')

    model = onnx.load(str(model_or_path)) if isinstance(model_or_path, (str, Path)) \
        else model_or_path
    found: set = set()
    foreign: set = set()
    _walk(model.graph, found, foreign)
    opset = next((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')), 0)
    return sorted(found), sorted(foreign), int(opset)


def check_onnx_ops(model_or_path) -> OpCheck:
    """Compare an ONNX graph's op types and opset with TensorRT 10's parser."""
    ops, foreign, opset = graph_op_types(model_or_path)
    lo, hi = TENSORRT10_OPSETS
    return OpCheck(op_types=ops, unsupported=[o for o in ops if o not in TENSORRT10_ONNX_OPS],
                   newer_than_10_0=[o for o in ops if o in ADDED_AFTER_10_0],
                   foreign_domains=foreign, opset=opset, opset_ok=lo <= opset <= hi)
