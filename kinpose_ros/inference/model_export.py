"""Export a network to ``<name>.onnx`` + ``<name>.json`` and check the result.

``export_model`` writes the graph (one pinned opset, ``nets.export.ONNX_OPSET``; decode in the
graph; input ``input``, outputs named by the network), writes the model card beside it, then
checks it: ONNX Runtime against PyTorch on random crops (``verify_export``) and the graph's op
types against TensorRT 10's parser (``tensorrt_ops.check_onnx_ops``). ``export_checkpoint``
does that for a training checkpoint, ``random_model`` makes a random-weight network for tests and
demos before trained models exist.
"""
from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinpose_ros.inference.model_card import (
    CropRule,
    InputSpec,
    ModelCard,
    Normalisation,
    family_outputs,
)

__all__ = ['PARITY_TOLERANCE', 'ExportError', 'ExportReport', 'export_checkpoint',
           'export_model', 'file_sha256', 'random_model', 'verify_export']

# max |ONNX Runtime - PyTorch| per output unit (joints: 1e-3 crop px, 1e-4 m)
PARITY_TOLERANCE = {'crop_px': 1e-3, 'm_crop_centre': 1e-4, 'depth_normalised': 1e-4,
                    'confidence': 1e-4, 'rad': 1e-4, 'rotation_matrix': 1e-4, 'scale': 1e-4}


class ExportError(RuntimeError):
    """An exported graph failed its checks (parity or TensorRT operator support)."""


@dataclass
class ExportReport:
    onnx_path: Path
    card_path: Path
    max_abs_error: dict = field(default_factory=dict)   # output -> max |ORT - torch|
    op_types: list = field(default_factory=list)
    tensorrt_ok: bool = False
    tensorrt_message: str = ''
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {'onnx': str(self.onnx_path), 'card': str(self.card_path),
                'max_abs_error': self.max_abs_error, 'op_types': self.op_types,
                'tensorrt_ok': self.tensorrt_ok, 'tensorrt_message': self.tensorrt_message,
                'seconds': self.seconds}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def random_model(family: str, skeleton='body15', input_size=(160, 160), width: float = 0.5,
                 head_width: int = 128, head_depth: int = 4, seed: int = 0):
    """A random-weight network: returns (model in eval mode, model_config, Skeleton).

    Batch-norm statistics are randomised too, so that the graph's numbers are not trivially
    those of a freshly initialised net (parity checks then exercise every layer).
    """
    import torch  # noqa: PLC0415

    from kinpose_ros.core.skeleton import Skeleton  # noqa: PLC0415
    from kinpose_ros.nets.checkpoint import build_model, random_model_config  # noqa: PLC0415

    sk = skeleton if isinstance(skeleton, Skeleton) else Skeleton.load(skeleton)
    config = random_model_config(family, input_size, width, head_width, head_depth)
    torch.manual_seed(seed)
    model = build_model(family, config, sk)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return model.eval(), config, sk


def _skeleton_field(sk) -> str | dict:
    """The shipped name when ``sk`` equals the shipped skeleton of that name, else inline."""
    from kinpose_ros.core.skeleton import Skeleton  # noqa: PLC0415

    try:
        if Skeleton.load(sk.name).to_dict() == sk.to_dict():
            return sk.name
    except (OSError, ValueError):
        pass
    return sk.to_dict()



def build_card(name: str, family: str, model_config: dict, skeleton, fields: dict | None,
               batch: dict, onnx_file: str, opset: int, commit: str) -> ModelCard:
    """The card of an exported model; ``fields``: card fields known at training time."""
    fields = dict(fields or {})
    inp = dict(fields.pop('input', None) or {})
    norm = Normalisation(**(inp.get('normalisation') or {}))
    h, w = model_config['input_size']
    scales = dict(fields.pop('output_scales', None) or {})
    outputs = family_outputs(family, skeleton.num_joints, skeleton.num_dofs,
                             with_scale=model_config.get('scale_range') is not None,
                             z_scale=float(scales.get('z', 1.0)),
                             with_confidence=model_config.get('trunk') == 'a2j')
    known = {'name', 'description', 'training', 'metrics', 'crop'}
    extra = {k: v for k, v in fields.items() if k in known}
    crop = CropRule(**(extra.pop('crop', None) or {}))
    extra['name'] = extra.get('name') or name
    return ModelCard(
        family=family, skeleton=_skeleton_field(skeleton),
        input=InputSpec(channels=int(model_config.get('in_channels', 1)), height=int(h),
                        width=int(w), normalisation=norm, planes=list(inp.get('planes') or [])),
        outputs=outputs, crop=crop, onnx_file=onnx_file, opset=opset, batch=batch,
        model_config=dict(model_config), commit=commit,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        **extra)


def export_model(model, family: str, model_config: dict, skeleton, out: str | Path,
                 batch: int | None = None, dynamic_batch_max: int | None = None,
                 card_fields: dict | None = None, commit: str = 'unknown',
                 check: bool = True, seed: int = 0) -> ExportReport:
    """Write ``out`` (.onnx) and its card, then check them (raises ExportError on failure).

    Exactly one of ``batch`` (a fixed batch size in the graph) and ``dynamic_batch_max`` (a
    symbolic batch; the card records the maximum for engines and chunking) may be given; neither
    means a dynamic batch up to 8.
    """
    import time  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from kinpose_ros.nets.export import ONNX_OPSET, export_onnx  # noqa: PLC0415

    if batch is not None and dynamic_batch_max is not None:
        raise ValueError('batch and dynamic_batch_max: give at most one (fixed or dynamic)')
    size = batch if batch is not None else (dynamic_batch_max or 8)
    if int(size) < 1:
        raise ValueError(f'batch: expected >= 1, got {size}')
    t0 = time.perf_counter()
    out = Path(out)
    if out.suffix != '.onnx':
        raise ValueError(f'out: expected a path ending in .onnx, got {out}')
    out.parent.mkdir(parents=True, exist_ok=True)
    h, w = model_config['input_size']
    example = torch.zeros(int(size), int(model_config.get('in_channels', 1)), int(h), int(w))
    model.eval()
    export_onnx(model, out, example, dynamic_batch=batch is None)
    batch_info = {'dynamic': batch is None, 'max': int(size)}
    card = build_card(out.stem, family, model_config, skeleton, card_fields, batch_info,
                      out.name, ONNX_OPSET, commit)
    card.onnx_sha256 = file_sha256(out)
    card_path = card.save(out.with_suffix('.json'))
    report = ExportReport(out, card_path)
    if check:
        report.max_abs_error = verify_export(model, card, seed=seed)
        from kinpose_ros.inference.tensorrt_ops import check_onnx_ops  # noqa: PLC0415

        ops = check_onnx_ops(out)
        report.op_types, report.tensorrt_ok = ops.op_types, ops.ok
        report.tensorrt_message = ops.message()
        if not ops.ok:
            raise ExportError(f'{out}: {ops.message()}')
    report.seconds = time.perf_counter() - t0
    return report


def verify_export(model, card: ModelCard, seed: int = 0, trials: int = 2) -> dict:
    """Run the ONNX file (ONNX Runtime, CPU) and ``model`` (PyTorch) on the same random crops.

    Crops are uniform in [-1, 1] (the normalised depth range) at batch 1 and the card's maximum;
    geometry planes (``input.planes``) hold plausible constant values (``_PLANE_RANGES``).
    Returns the max absolute difference per output; raises ExportError when one exceeds
    ``PARITY_TOLERANCE`` for its unit.
    """
    import torch  # noqa: PLC0415

    from kinpose_ros.inference.backends import OnnxRuntimeBackend  # noqa: PLC0415

    ort_backend = OnnxRuntimeBackend(card, device='cpu', threads=1)
    rng = np.random.default_rng(seed)
    c, h, w = card.input.channels, card.input.height, card.input.width
    sizes = [card.max_batch] if not card.dynamic_batch else sorted({1, card.max_batch})
    errors: dict = {}
    for _ in range(trials):
        for n in sizes:
            x = rng.uniform(-1.0, 1.0, size=(n, c, h, w)).astype(np.float32)
            planes = list(card.input.planes or [])
            for k, name in enumerate(planes, start=c - len(planes)):  # plausible geometry
                lo, hi = _PLANE_RANGES[name]
                x[:, k] = rng.uniform(lo, hi, size=(n, 1, 1)).astype(np.float32)
            got = ort_backend(x)
            with torch.no_grad():
                ref = model.export_forward(torch.from_numpy(x))
            for spec, r in zip(card.outputs, ref):
                err = float(np.max(np.abs(got[spec.name] - r.numpy()))) if r.numel() else 0.0
                errors[spec.name] = max(errors.get(spec.name, 0.0), err)
    bad = {o.name: errors[o.name] for o in card.outputs
           if errors[o.name] > PARITY_TOLERANCE[o.unit] * o.scale}
    if bad:
        raise ExportError(f'{card.onnx_path}: ONNX Runtime differs from PyTorch beyond tolerance '
                          f'{bad} (tolerances per unit: {PARITY_TOLERANCE})')
    return errors


#: Parity-check values of the geometry planes: rays within +-35 degrees, centres 0.7-6 m away
#: (PLANE_DEPTH_UNIT_M = 4), crop pixels of 0.5-20 image pixels at focal lengths of 250-1000 px.
_PLANE_RANGES = {'ray_x': (-0.7, 0.7), 'ray_y': (-0.5, 0.5), 'centre_depth': (0.18, 1.5),
                 'px_scale_x': (0.0005, 0.08), 'px_scale_y': (0.0005, 0.08)}


def export_checkpoint(checkpoint: str | Path, out: str | Path, batch: int | None = None,
                      dynamic_batch_max: int | None = None, commit: str = 'unknown',
                      check: bool = True) -> ExportReport:
    """Export a training checkpoint (``nets.checkpoint``) to ``out`` + card, then check it."""
    from kinpose_ros.nets.checkpoint import load_checkpoint  # noqa: PLC0415

    model, info = load_checkpoint(checkpoint)
    fields = dict(info.card)
    training = dict(fields.get('training') or {})
    training.setdefault('checkpoint', Path(checkpoint).name)
    fields['training'] = training
    return export_model(model, info.family, info.model_config, info.skeleton, out, batch,
                        dynamic_batch_max, fields, commit, check)
