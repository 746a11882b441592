"""Per-epoch training metrics: a CSV table and a PNG of the curves (matplotlib, Agg).

Both are rewritten from the run's history (kept inside the checkpoint) after every epoch, so a
resumed run never duplicates or loses a row.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ['COLUMNS', 'plot_curves', 'write_csv']

COLUMNS = ('epoch', 'step', 'lr', 'train_loss', 'val_map_10cm', 'val_mpjpe_mm',
           'val_pck_2d_5pct', 'epoch_seconds', 'samples_per_second')


def write_csv(path: str | Path, history: list[dict]) -> Path:
    """Write ``history`` (one dict per epoch, keys of ``COLUMNS``) as CSV; missing = empty."""
    path = Path(path)
    tmp = path.with_suffix('.csv.tmp')
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction='ignore')
        writer.writeheader()
        for row in history:
            writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
    tmp.replace(path)
    return path


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ''
    return f'{value:.6g}' if isinstance(value, float) else str(value)


def plot_curves(path: str | Path, history: list[dict], title: str = '') -> Path:
    """PNG with train loss (log scale), val mAP@10cm (%) and val MPJPE (mm) against epoch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [r['epoch'] for r in history]
    fig = Figure(figsize=(12, 3.4))
    FigureCanvasAgg(fig)
    panels = (('train_loss', 'train loss', True), ('val_map_10cm', 'val mAP@10cm (%)', False),
              ('val_mpjpe_mm', 'val MPJPE (mm)', False))
    for i, (key, label, log) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        pts = [(e, r.get(key)) for e, r in zip(epochs, history)
               if isinstance(r.get(key), (int, float)) and math.isfinite(r.get(key))]
        if pts:
            ax.plot(*zip(*pts), marker='o', markersize=3)
        if log and pts and all(v > 0 for _, v in pts):
            ax.set_yscale('log')
        ax.set_xlabel('epoch')
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    return path
