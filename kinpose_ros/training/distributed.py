"""Multi-process (DDP) plumbing, active only under ``torchrun`` (WORLD_SIZE > 1).

``torchrun --nproc_per_node=N -m kinpose_ros.tools.cli train --config ...`` starts N processes
with RANK / LOCAL_RANK / WORLD_SIZE set; each trains on its 1/N slice of every epoch's sample
order (the same global order, so results do not depend on N beyond batch statistics), gradients
are averaged by ``DistributedDataParallel``, and only rank 0 validates and writes files. Not
exercised by the test suite (one CPU machine); see docs/training.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ['DistInfo', 'all_mean', 'barrier', 'setup_distributed']


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun; returns (info, this process's device).

    ``device`` 'cuda' maps to ``cuda:LOCAL_RANK``; NCCL for CUDA, gloo for CPU.
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return DistInfo(), torch.device(device)
    import torch.distributed as dist

    info = DistInfo(int(os.environ['RANK']), world, int(os.environ.get('LOCAL_RANK', '0')))
    if device.startswith('cuda'):
        torch.cuda.set_device(info.local_rank)
        dev = torch.device('cuda', info.local_rank)
    else:
        dev = torch.device('cpu')
    if not dist.is_initialized():
        dist.init_process_group('nccl' if dev.type == 'cuda' else 'gloo')
    return info, dev


def all_mean(value: float, info: DistInfo, device: torch.device) -> float:
    """Mean of a float over all processes (identity without DDP)."""
    if not info.enabled:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
