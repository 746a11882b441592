"""Train the segmenter's cell classifier (:class:`kinpose_ros.nets.person_cells.PersonCellNet`).

Data: synthetic frames with 0-4 people and clutter from every sensor at its native size and
at 320x240 (the ITOP size), each turned into the segmenter's working grid
(``PersonSegmenter.cell_features``) and a per-cell label: some pixel of the cell's block
shows a person (:func:`cell_labels`). Invalid cells carry no loss. Training uses random crops
of the grids (all grid sizes mix in a batch), flips, binary cross-entropy and AdamW with a
one-cycle schedule; the result is exported to ONNX with dynamic grid size plus a model card.

With ``--offsets`` the net also learns, for each person cell, the offset to its person's
centre (:func:`centre_offsets`; smooth L1, weighed by ``--offset-weight``), the votes with
which the segmenter splits and joins components (``SegmenterConfig.cell_votes``).

``python -m kinpose_ros.training.person_cells --frames 20000 --epochs 22 --offsets --out
models/person_cells`` (the shipped model; about 25 minutes on 2 CPU cores: 2-3 to make the
grids, 22 to train); the segmenter's recall on held-out seeds is ``python -m
kinpose_ros.data.segmentation_eval --model models/person_cells.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from kinpose_ros.data.synth.generator import SynthConfig
from kinpose_ros.data.synth.parallel import map_frames
from kinpose_ros.nets.person_cells import OFFSET_UNIT, PersonCellNet
from kinpose_ros.resources import source_commit

__all__ = ['cell_labels', 'centre_offsets', 'export_person_cells', 'make_cell_data',
           'train_person_cells']

TRAIN_SEED = 500      # data seeds of training: 500 (native sizes) and 501 (320x240)
CROP = (64, 96)       # training crop of the grid (rows, columns)


def cell_labels(person_ids: np.ndarray, step: int, shape: tuple) -> np.ndarray:
    """(Hg, Wg) bool: some pixel of the cell's ``step`` x ``step`` block shows a person.

    Any pixel, not only the centre pixel whose depth the grid takes: a cell on a person's
    outline whose depth is the background's counts as person, so the kept cells of a thin
    limb stay connected for the components. (Labelling by the centre pixel alone, with the
    block only where that pixel has no depth, made a classifier whose cut left the components
    fragmented: recall 0.917 against 0.956 on seeds 20-21, docs/benchmarks.md.)"""
    Hg, Wg = shape
    ids = person_ids[:Hg * step, :Wg * step]
    return (ids.reshape(Hg, step, Wg, step) >= 0).any(axis=(1, 3))


def centre_offsets(person_ids: np.ndarray, people: list, step: int, shape: tuple) -> np.ndarray:
    """(2, Hg, Wg) float32: for a cell whose centre pixel (else any pixel of its block) shows
    a person, the offset in grid cells (rows, columns) from the cell to that person's centre -
    the mean of the person's image joints, hidden ones included, so that every visible part of
    a person votes for the same point; NaN elsewhere."""
    Hg, Wg = shape
    ids = person_ids[:Hg * step, :Wg * step].reshape(Hg, step, Wg, step)
    own = ids[:, step // 2, :, step // 2].astype(np.int32)
    own = np.where(own >= 0, own, ids.max(axis=(1, 3)))
    out = np.full((2, Hg, Wg), np.nan, np.float32)
    rows, cols = np.mgrid[0:Hg, 0:Wg]
    for j, person in enumerate(people):
        on = own == j
        if not on.any():
            continue
        u, v = np.asarray(person.joints_uv, np.float64).mean(axis=0)
        out[0][on] = (v - step // 2) / step - rows[on]
        out[1][on] = (u - step // 2) / step - cols[on]
    return out


def _work(gen, index: int) -> tuple:
    from kinpose_ros.core.segmentation import PersonSegmenter  # noqa: PLC0415

    frame = gen.frame(index)
    feats, step = PersonSegmenter().cell_features(frame.depth_m, frame.intrinsics)
    label = cell_labels(frame.person_ids, step, feats.shape[1:])
    valid = feats[1] > 0
    offsets = centre_offsets(frame.person_ids, frame.people, step, feats.shape[1:])
    offsets[:, ~(label & valid)] = np.nan
    return (feats.astype(np.float16), (label & valid).astype(np.uint8) + 2 * (~valid),
            offsets.astype(np.float16))


def make_cell_data(frames: int, seed: int = TRAIN_SEED, workers: int = 2) -> list:
    """``frames`` (features float16, label uint8: 0 background, 1 person, 2 ignore, centre
    offsets float16 (2, Hg, Wg), NaN off people; :func:`centre_offsets`) grids, half at native
    sensor sizes (seed ``seed``) and half at 320x240 (seed ``seed + 1``)."""
    from tqdm import tqdm  # noqa: PLC0415

    out = []
    half = frames // 2
    for i, size in enumerate((None, (320, 240))):
        cfg = SynthConfig(people=(0, 4), clutter=True, noise=True, image_size=size)
        n = half if i == 0 else frames - half
        it = map_frames(cfg, seed + i, range(n), _work, workers=workers)
        out += list(tqdm(it, total=n, desc=f'cells {"native" if size is None else "320x240"}',
                         leave=False))
    return out


def _batch(data: list, idx: np.ndarray, rng: np.random.Generator) -> tuple:
    """Random crops (flipped half the time) of the grids ``idx``: features, labels and centre
    offsets in :data:`OFFSET_UNIT` (NaN: no offset target); smaller grids are padded with
    ignored cells."""
    h, w = CROP
    x = np.zeros((len(idx), 5, h, w), np.float32)
    y = np.full((len(idx), h, w), 2, np.uint8)
    o = np.full((len(idx), 2, h, w), np.nan, np.float32)
    for b, i in enumerate(idx):
        f, lab = data[i][:2]
        H, W = lab.shape
        y0 = rng.integers(0, max(H - h, 0) + 1)
        x0 = rng.integers(0, max(W - w, 0) + 1)
        fh, fw = min(h, H), min(w, W)
        fc = f[:, y0:y0 + fh, x0:x0 + fw]
        lc = lab[y0:y0 + fh, x0:x0 + fw]
        oc = data[i][2][:, y0:y0 + fh, x0:x0 + fw] if len(data[i]) > 2 else None
        if rng.random() < 0.5:
            fc, lc = fc[:, :, ::-1], lc[:, ::-1]
            if oc is not None:
                oc = oc[:, :, ::-1] * np.array([1, -1], np.float16)[:, None, None]
        x[b, :, :fh, :fw] = fc
        y[b, :fh, :fw] = lc
        if oc is not None:
            o[b, :, :fh, :fw] = oc / OFFSET_UNIT
    return x, y, o


def train_person_cells(data: list, epochs: int, batch: int = 32, lr: float = 3e-3,
                       seed: int = 0, log=print, pos_weight: float = 1.0,
                       offsets: bool = False, offset_weight: float = 0.2):
    """A trained :class:`PersonCellNet` (eval mode) on ``data`` of :func:`make_cell_data`;
    ``pos_weight`` weighs the loss of person cells against background cells. With
    ``offsets`` the net also learns the centre offsets (smooth L1 in :data:`OFFSET_UNIT` on
    person cells, weighed by ``offset_weight``)."""
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = PersonCellNet(offsets=offsets)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(data) // batch
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=total, pct_start=0.1)
    net.train()
    t0 = time.time()
    for epoch in range(epochs):
        order = rng.permutation(len(data))
        losses = []
        for s in range(steps_per_epoch):
            x, y, o = (torch.from_numpy(a) for a in
                       _batch(data, order[s * batch:(s + 1) * batch], rng))
            out = net(x)
            w = (y != 2).float()
            loss = (F.binary_cross_entropy_with_logits(
                out[:, 0], (y == 1).float(), reduction='none',
                pos_weight=torch.tensor(pos_weight)) * w).sum() / w.sum()
            if offsets:
                on = ~torch.isnan(o)
                if on.any():
                    loss = loss + offset_weight * F.smooth_l1_loss(
                        out[:, 1:][on], o[on], beta=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        log(f'epoch {epoch + 1}/{epochs} loss {np.mean(losses):.4f} '
            f'({(time.time() - t0) / 60:.1f} min)')
    return net.eval()


def export_person_cells(net, out: Path, meta: dict) -> tuple:
    """``out.onnx`` (input ``cells`` (1, 5, Hg, Wg), output ``logits`` (1, 1, Hg, Wg) - with
    offsets ``logits`` (1, 3, Hg, Wg), the centre offsets in channels 1-2 -, dynamic grid
    size) and ``out.json``, the card."""
    import torch  # noqa: PLC0415

    from kinpose_ros.core.segmentation import CELL_FEATURES  # noqa: PLC0415

    onnx_path, card_path = out.with_suffix('.onnx'), out.with_suffix('.json')
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 5, 80, 106)
    torch.onnx.export(net, (x,), str(onnx_path), input_names=['cells'],
                      output_names=['logits'], opset_version=17, dynamo=False,
                      dynamic_axes={'cells': {2: 'rows', 3: 'cols'},
                                    'logits': {2: 'rows', 3: 'cols'}})
    card = {'kind': 'person_cells', 'format_version': 1, 'onnx': onnx_path.name,
            'inputs': {'cells': list(CELL_FEATURES)},
            'outputs': {'logits': 'person logit per cell' + (
                f'; channels 1-2: offset to the person centre (rows, columns) / {OFFSET_UNIT} '
                'cells' if net.offsets else '')},
            'offsets': net.offsets, 'offset_unit': OFFSET_UNIT, 'widths': list(net.widths),
            **meta}
    card_path.write_text(json.dumps(card, indent=2) + '\n')
    return onnx_path, card_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--frames', type=int, default=20000)
    ap.add_argument('--epochs', type=int, default=15)
    ap.add_argument('--seed', type=int, default=TRAIN_SEED)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--pos-weight', type=float, default=1.0,
                    help='loss weight of person cells (1: the shipped model)')
    ap.add_argument('--offsets', action='store_true',
                    help="also learn the centre offsets, the segmenter's votes (the shipped "
                    'model)')
    ap.add_argument('--offset-weight', type=float, default=0.2,
                    help='loss weight of the offsets (0.2: the shipped model; 0.5 and 1 cost '
                    'the classification recall, docs/benchmarks.md)')
    ap.add_argument('--out', type=Path, default=Path('models/person_cells'))
    ap.add_argument('--cache', type=Path, default=None,
                    help='npz cache of the generated grids (made when missing)')
    args = ap.parse_args(argv)
    import torch  # noqa: PLC0415

    torch.set_num_threads(2)
    t0 = time.time()
    commit = source_commit()  # the code the data and training come from, read before they run
    if args.cache is not None and args.cache.exists():
        z = np.load(args.cache, allow_pickle=False)
        data = [(z[f'f{i}'], z[f'l{i}'], z[f'o{i}']) for i in range(int(z['n']))]
    else:
        data = make_cell_data(args.frames, args.seed, args.workers)
        if args.cache is not None:
            arrays = {'n': np.array(len(data))}
            for i, (f, lab, off) in enumerate(data):
                arrays[f'f{i}'], arrays[f'l{i}'], arrays[f'o{i}'] = f, lab, off
            np.savez(args.cache, **arrays)
    print(f'{len(data)} grids in {(time.time() - t0) / 60:.1f} min', flush=True)
    net = train_person_cells(data, args.epochs, log=lambda m: print(m, flush=True),
                             pos_weight=args.pos_weight, offsets=args.offsets,
                             offset_weight=args.offset_weight)
    meta = {'training': {'frames': len(data), 'data_seeds': [args.seed, args.seed + 1],
                         'epochs': args.epochs, 'crop': list(CROP),
                         'pos_weight': args.pos_weight, 'offset_weight': args.offset_weight,
                         'minutes': round((time.time() - t0) / 60, 1)},
            'commit': commit}
    paths = export_person_cells(net, args.out, meta)
    print('wrote', *paths)
    return 0


if __name__ == '__main__':
    sys.exit(main())
