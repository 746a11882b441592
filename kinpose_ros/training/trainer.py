"""The training loop: epochs of augmented crops, validation, a checkpoint every epoch.

Files in the run folder (``--out``, default ``runs/<name>``):
  * ``last.pt``: checkpoint after the latest epoch (``nets.checkpoint`` format, loads with
    ``torch.load(weights_only=True)``) plus the optimiser state, the epoch, the global step,
    the training config and the metric history, so ``--resume`` continues exactly;
  * ``best.pt``: the checkpoint with the best validation mAP@10cm so far;
  * ``metrics.csv`` and ``metrics.png``: per-epoch curves (``curves``); ``config.yaml``.

Determinism: sample i of epoch e is a pure function of (seed, e, i) (``dataset``), the sample
order of epoch e comes from a generator seeded with (seed, e), and the network has no dropout;
with the same thread count a resumed run reproduces an uninterrupted one bit for bit on the CPU.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import yaml

from kinpose_ros.resources import source_commit
from kinpose_ros.training.config import TrainConfig
from kinpose_ros.training.distributed import DistInfo, all_mean, barrier, setup_distributed
from kinpose_ros.training.families import card_fields, family_loss, model_config

__all__ = ['Trainer', 'lr_at']


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate at optimisation ``step`` (0-based): linear warm-up, then cosine or step."""
    o = cfg.optim
    if o.warmup_steps and step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.schedule == 'step':
        return o.lr * o.gamma ** ((step // max(1, steps_per_epoch)) // max(1, o.step_epochs))
    total = max(1, cfg.epochs * steps_per_epoch - o.warmup_steps)
    t = min(1.0, (step - o.warmup_steps) / total)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def load_initial_weights(model: torch.nn.Module, path: str | Path, prefix: str = '') -> int:
    """Copy the weights of checkpoint ``path`` into ``model`` under ``prefix`` (e.g. a trained
    A2J into the hybrid's ``a2j.``); every checkpoint tensor must find its place. Returns the
    number of tensors copied."""
    if not Path(path).is_file():
        raise FileNotFoundError(f'model.init_checkpoint {path} does not exist: train that run '
                                f'first (e.g. kinpose train --config '
                                f'config/train/a2j_body15.yaml for the A2J hybrid)')
    data = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(data, dict) or 'state_dict' not in data:
        raise ValueError(f'model.init_checkpoint {path}: not a kinpose checkpoint')
    own = model.state_dict()
    state = {prefix + k: v for k, v in data['state_dict'].items()}
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise ValueError(f'model.init_checkpoint {path}: {len(bad)} tensors do not fit the model '
                         f'under prefix {prefix!r}, e.g. {bad[:3]}')
    own.update(state)
    model.load_state_dict(own)
    return len(state)


class Trainer:
    """One training run. ``Trainer(cfg, out_dir, device).fit(resume=...)``.

    Args:
        cfg: the run's configuration.
        out_dir: the run folder (created).
        device: 'cpu' or 'cuda' (under torchrun: each process's ``cuda:LOCAL_RANK``).
        progress: tqdm bars (on stderr; sparse updates when stderr is not a terminal).
    """

    def __init__(self, cfg: TrainConfig, out_dir: str | Path, device: str = 'cpu',
                 progress: bool = True) -> None:
        from kinpose_ros.core.skeleton import Skeleton
        from kinpose_ros.nets.checkpoint import build_model
        from kinpose_ros.training.dataset import PersonCropDataset
        from kinpose_ros.training.sources import build_source

        self.cfg, self.out = cfg, Path(out_dir)
        self.dist, self.device = setup_distributed(device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.progress = progress and self.dist.is_main
        self.skeleton = Skeleton.load(cfg.skeleton)
        self.family = cfg.model.family
        self.model_config = model_config(cfg)
        torch.manual_seed(cfg.seed)
        self.model = build_model(self.family, self.model_config, self.skeleton)
        if cfg.model.init_checkpoint:
            load_initial_weights(self.model, cfg.model.init_checkpoint, cfg.model.init_prefix)
        self.model = self.model.to(self.device)
        self.net = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == 'cuda' else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        opt = torch.optim.AdamW if cfg.optim.name == 'adamw' else torch.optim.Adam
        self.optimizer = opt(self.model.parameters(), lr=cfg.optim.lr,
                             weight_decay=cfg.optim.weight_decay)
        self.dataset = PersonCropDataset(build_source(cfg.data, self.skeleton), cfg)
        self.val_source = build_source(cfg.val, self.skeleton) if cfg.val.samples else None
        self.steps_per_epoch = len(self.dataset) // (cfg.batch_size * self.dist.world_size)
        if self.steps_per_epoch < 1:
            raise ValueError(f'data.samples ({len(self.dataset)}) must hold at least one batch '
                             f'of {cfg.batch_size} per process ({self.dist.world_size})')
        self.epoch, self.step, self.history, self.best = 0, 0, [], -1.0
        self.commit = source_commit()

    # ---- checkpoints ---------------------------------------------------------------------
    def _save(self, path: Path, metrics: dict) -> None:
        from kinpose_ros.nets.checkpoint import save_checkpoint

        v = self.cfg.val
        metrics = dict(metrics, data=f'{v.source} seed {v.seed}, {v.samples} frames',
                       epoch=self.epoch) if metrics else {}
        training = {'config': self.cfg.to_dict(), 'epochs': self.epoch, 'commit': self.commit,
                    'samples_seen': self.step * self.cfg.batch_size * self.dist.world_size,
                    'data': f'{self.cfg.data.source} (seed {self.cfg.data.seed})'}
        tmp = path.with_suffix('.pt.tmp')
        save_checkpoint(tmp, self.model, self.family, self.model_config, self.skeleton,
                        card_fields(self.cfg, training, {'validation': metrics}),
                        epoch=self.epoch,
                        step=self.step, optimizer=self.optimizer.state_dict(),
                        train_config=self.cfg.to_dict(), history=self.history,
                        best_map=self.best)
        tmp.replace(path)

    def load(self, path: str | Path) -> None:
        """Restore weights, optimiser, epoch, step and history from a checkpoint."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'--resume: no checkpoint {path}; train without --resume '
                                    'first')
        data = torch.load(path, map_location='cpu', weights_only=True)
        if data.get('family') != self.family or data.get('model_config') != self.model_config:
            raise ValueError(f'--resume: {path} holds a {data.get("family")} model with '
                             f'{data.get("model_config")}, the config asks for {self.family} '
                             f'with {self.model_config}')
        self.model.load_state_dict(data['state_dict'])
        self.optimizer.load_state_dict(data['optimizer'])
        self.epoch, self.step = int(data['epoch']), int(data['step'])
        self.history = list(data.get('history') or [])
        self.best = float(data.get('best_map', -1.0))

    # ---- one epoch ---------------------------------------------------------------------
    def _loader(self, epoch: int) -> torch.utils.data.DataLoader:
        self.dataset.set_epoch(epoch)
        g = torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch)
        order = torch.randperm(len(self.dataset), generator=g).tolist()
        order = order[self.dist.rank::self.dist.world_size]
        w = self.cfg.data.workers
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=self.cfg.batch_size, sampler=order, drop_last=True,
            num_workers=w, pin_memory=self.device.type == 'cuda',
            prefetch_factor=4 if w else None)

    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        """Returns (mean train loss over the epoch, seconds)."""
        from tqdm import tqdm

        self.net.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        batches = self._loader(epoch)
        tty = sys.stderr.isatty()
        bar = tqdm(batches, total=self.steps_per_epoch, desc=f'epoch {epoch + 1}/'
                   f'{self.cfg.epochs}', unit='batch', disable=not self.progress,
                   mininterval=0.5 if tty else 60.0, dynamic_ncols=tty)
        for batch in bar:
            lr = lr_at(self.cfg, self.step, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group['lr'] = lr
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            outputs = self.net(batch['input'])
            loss = family_loss(self.family, self.model, outputs, batch)
            if not torch.isfinite(loss):
                raise RuntimeError(f'epoch {epoch + 1}, step {self.step}: the loss is {loss}; '
                                   'lower optim.lr or check the data')
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.optim.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
            self.optimizer.step()
            self.step += 1
            total, n = total + loss.item(), n + 1
            bar.set_postfix(loss=f'{total / n:.4g}', lr=f'{lr:.2e}', refresh=False)
        bar.close()
        return all_mean(total / max(n, 1), self.dist, self.device), time.perf_counter() - t0

    def validate(self) -> dict:
        """Validation figures of the current weights on ``cfg.val`` ({} without val data)."""
        if self.val_source is None:
            return {}
        from kinpose_ros.inference.model_export import build_card
        from kinpose_ros.training.model_eval import evaluate_frames

        card = build_card(self.cfg.name, self.family, self.model_config, self.skeleton,
                          card_fields(self.cfg), {'dynamic': True, 'max': 64}, '', 17, '')
        self.model.eval()
        names = card.output_names

        def run(crops):
            with torch.inference_mode():
                outs = self.model.export_forward(torch.from_numpy(crops).to(self.device))
            return {k: v.float().cpu().numpy() for k, v in zip(names, outs)}

        figures, _ = evaluate_frames(run, card, self.val_source, int(self.cfg.val.samples),
                                     self.skeleton, batch=64, name='validation',
                                     progress=self.progress)
        return figures

    # ---- the run -----------------------------------------------------------------------
    def fit(self, resume: bool = False, until: int | None = None) -> list[dict]:
        """Train from the current epoch to ``cfg.epochs`` (or stop after epoch ``until``, as an
        interruption would; the schedule still spans ``cfg.epochs``); returns the history."""
        from kinpose_ros.training.curves import plot_curves, write_csv

        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / 'config.yaml').write_text(yaml.safe_dump(self.cfg.to_dict(),
                                                                 sort_keys=False))
        if resume:
            self.load(self.out / 'last.pt')
        if self.dist.is_main:
            print(f'{self.cfg.name}: {self.family} {self.model_config}; run folder {self.out}, '
                  f'epoch {self.epoch}/{self.cfg.epochs}, {self.steps_per_epoch} steps of '
                  f'{self.cfg.batch_size} per epoch; after a stop, continue with --resume',
                  flush=True)
        stop = self.cfg.epochs if until is None else min(until, self.cfg.epochs)
        while self.epoch < stop:
            loss, seconds = self._train_epoch(self.epoch)
            self.epoch += 1
            figures = {}
            if self.dist.is_main and (self.epoch % self.cfg.val_every == 0
                                      or self.epoch == self.cfg.epochs):
                figures = self.validate()
            row = {'epoch': self.epoch, 'step': self.step, 'train_loss': loss,
                   'lr': self.optimizer.param_groups[0]['lr'], 'epoch_seconds': seconds,
                   'samples_per_second': self.steps_per_epoch * self.cfg.batch_size
                   * self.dist.world_size / max(seconds, 1e-9),
                   'val_map_10cm': figures.get('map_10cm'),
                   'val_mpjpe_mm': figures.get('mean_error_mm'),
                   'val_pck_2d_5pct': figures.get('pck_2d_5pct')}
            self.history.append(row)
            if self.dist.is_main:
                self._end_epoch(row, figures, write_csv, plot_curves)
            barrier(self.dist)
        return self.history

    def _end_epoch(self, row: dict, figures: dict, write_csv, plot_curves) -> None:
        val = row['val_map_10cm']
        improved = val is not None and val > self.best
        if improved:
            self.best = float(val)
        self._save(self.out / 'last.pt', figures)
        if improved:
            self._save(self.out / 'best.pt', figures)
        write_csv(self.out / 'metrics.csv', self.history)
        plot_curves(self.out / 'metrics.png', self.history, self.cfg.name)
        left = (self.cfg.epochs - self.epoch) * row['epoch_seconds']
        msg = (f'epoch {self.epoch}/{self.cfg.epochs}: loss {row["train_loss"]:.4g}, '
               f'{row["samples_per_second"]:.1f} samples/s')
        if val is not None:
            msg += f', val mAP@10cm {val:.2f} %, MPJPE {row["val_mpjpe_mm"]:.1f} mm'
        print(f'{msg}; ETA {left / 3600:.2f} h', flush=True)


def run_training(cfg: TrainConfig, out_dir: str | Path, device: str = 'cpu',
                 resume: bool = False, progress: bool = True) -> list[dict]:
    """Train ``cfg`` into ``out_dir`` (see ``Trainer``); returns the metric history."""
    trainer = Trainer(cfg, out_dir, device, progress)
    try:
        return trainer.fit(resume)
    finally:
        if isinstance(trainer.dist, DistInfo) and trainer.dist.enabled:
            import torch.distributed as dist

            dist.destroy_process_group()
