"""The segmenter's cell classifier at run time: ONNX Runtime on one CPU thread.

``PersonCellScorer(card)`` is the ``cell_scorer`` of
:class:`kinpose_ros.core.segmentation.PersonSegmenter`: it maps the (5, Hg, Wg) grid features
of ``core.segmentation.CELL_FEATURES`` to (Hg, Wg) person probabilities. The shipped model is
``models/person_cells.json`` (card) + ``.onnx`` (see ``models/README.md``); train another with
``python -m kinpose_ros.training.person_cells``. A model trained with ``--offsets`` (card
``"offsets": true``, the shipped one) also gives every cell the offset to its person's centre,
the votes of ``SegmenterConfig.cell_votes``: the scorer then returns ``(probabilities,
offsets)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ['DEFAULT_CELL_MODEL', 'PersonCellScorer', 'cell_scorer_for', 'default_cell_scorer']

DEFAULT_CELL_MODEL = 'models/person_cells.json'


class PersonCellScorer:
    """Person probability of the segmenter's grid cells (see the module docstring).

    Args:
        card: path of the model card JSON (``kind: person_cells``).
        threads: ONNX Runtime intra-op threads. 1: the pose network's session runs right
            after on the same cores, and with 2 the classifier's spinning threads doubled the
            network's time (with spinning off, waking them cost more than they saved;
            docs/benchmarks.md, session 5).
        device: ``'cpu'`` or ``'cuda'`` (ONNX Runtime's CUDA execution provider, for a robot
            whose pose network runs on the GPU: the classifier's 0.6-1.4 ms on a CPU core is
            most of the segmenter's time; not measured here, no GPU was available).

    Raises:
        FileNotFoundError: the card or its ONNX file is missing.
        ValueError: the card is not a person-cell card or its inputs differ from this
            version's ``CELL_FEATURES``, or ``device`` is unknown.
        RuntimeError: ``device='cuda'`` and ONNX Runtime has no CUDA execution provider.
    """

    def __init__(self, card: str | Path, threads: int = 1, device: str = 'cpu') -> None:
        import onnxruntime as ort  # noqa: PLC0415

        from kinpose_ros.core.segmentation import CELL_FEATURES  # noqa: PLC0415
        from kinpose_ros.inference.backends import ort_providers  # noqa: PLC0415

        path = Path(card)
        if not path.is_file():
            raise FileNotFoundError(f'person-cell model card {path} does not exist')
        meta = json.loads(path.read_text())
        if meta.get('kind') != 'person_cells':
            raise ValueError(f'{path}: not a person-cell model card (kind {meta.get("kind")!r})')
        if meta.get('format_version', 0) > 1:
            raise ValueError(f'{path}: format_version {meta["format_version"]} is newer than '
                             'this kinpose_ros reads (1); update kinpose_ros')
        if list(meta.get('inputs', {}).get('cells', [])) != list(CELL_FEATURES):
            raise ValueError(f'{path}: input planes {meta.get("inputs")} differ from '
                             f'{list(CELL_FEATURES)}')
        onnx_path = path.parent / meta['onnx']
        if not onnx_path.is_file():
            raise FileNotFoundError(f'ONNX file {onnx_path} (from card {path}) does not exist')
        providers = ort_providers(device)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=providers)
        self.device = device
        self.card = meta
        self.path = path
        self.offsets = bool(meta.get('offsets', False))
        self._unit = float(meta.get('offset_unit', 1.0))

    def __call__(self, features: np.ndarray):
        """(Hg, Wg) float32 person probabilities of (5, Hg, Wg) features; for a model with
        offsets the tuple (probabilities, (2, Hg, Wg) float32 offsets in grid cells from each
        cell to its person's centre, rows and columns).

        Raises:
            ValueError: ``features`` is not (5, Hg, Wg) with Hg, Wg >= 8.
        """
        f = np.asarray(features)
        if f.ndim != 3 or f.shape[0] != 5 or min(f.shape[1:]) < 8:
            raise ValueError('person-cell features must be (5, rows, cols) with rows, cols >= '
                             f'8 (PersonSegmenter.cell_features), got shape {f.shape}')
        x = np.ascontiguousarray(f[None], np.float32)
        out = self.session.run(None, {'cells': x})[0][0]
        prob = out[0]  # sigmoid in place (the output is ours)
        np.negative(prob, out=prob)
        np.exp(prob, out=prob)
        prob += 1.0
        np.reciprocal(prob, out=prob)
        if self.offsets:
            off = out[1:3]
            off *= np.float32(self._unit)
            return prob, off
        return prob


def default_cell_scorer(device: str = 'cpu') -> PersonCellScorer | None:
    """The shipped classifier, or None where ONNX Runtime or the model is missing."""
    from kinpose_ros import resources  # noqa: PLC0415

    try:
        import onnxruntime  # noqa: F401, PLC0415
        return PersonCellScorer(resources.find(DEFAULT_CELL_MODEL), device=device)
    except (ImportError, FileNotFoundError):
        return None


def cell_scorer_for(model: str | None, device: str = 'cpu') -> PersonCellScorer | None:
    """The cell classifier a command or config asks for: None, ``''`` or ``'none'`` -> None
    (depth rules only); ``'default'`` -> the shipped one (None where ONNX Runtime or the model
    is missing); else the path of a card. ``device`` as for :class:`PersonCellScorer`."""
    if not model or model.lower() == 'none':
        return None
    if model == 'default':
        return default_cell_scorer(device)
    return PersonCellScorer(model, device=device)
