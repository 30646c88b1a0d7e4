"""Data: where datasets live, one clear error when they are missing, distributed loaders.

Data root: ``--data-root``, else ``$MILESTONES_DATA``, else ``~/.cache/milestones``. A dataset that
is neither there nor downloadable raises :class:`DataUnavailable`, whose message says what was
looked for, where, how to get it, and which built-in dataset works offline; the CLI prints it and
exits with code 2, without a traceback. A missing optional package is :class:`MissingPackage`
(:func:`need`), which names the extra to install.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def data_root(cli_value: str | None = None) -> Path:
    if cli_value:
        return Path(cli_value).expanduser()
    if os.environ.get("MILESTONES_DATA"):
        return Path(os.environ["MILESTONES_DATA"]).expanduser()
    return Path.home() / ".cache" / "milestones"


class DataUnavailable(RuntimeError):
    """A dataset could not be found or fetched. The message is meant for the user, whole."""

    def __init__(self, dataset: str, tried: list[str | Path], how: str, offline: str,
                 why: str = ""):
        self.dataset, self.tried = dataset, [str(p) for p in tried]
        lines = [f"dataset {dataset!r} is not available{f' ({why})' if why else ''}.",
                 "  looked in: " + ("; ".join(self.tried) or "(nowhere)"),
                 f"  to get it: {how}",
                 f"  offline:   {offline}"]
        super().__init__("\n".join(lines))


class MissingPackage(RuntimeError):
    """An optional package a command needs is not installed. The message names the extra."""

    def __init__(self, package: str, extra: str, purpose: str):
        self.package, self.extra = package, extra
        super().__init__(f"{purpose} needs the Python package `{package}`, which is not "
                         f"installed: pip install 'milestones[{extra}]' (offline: pip install "
                         "--no-index --find-links <a folder of wheels> ...)")


def need(package: str, extra: str, purpose: str):
    """``import package``, or :class:`MissingPackage` naming the extra that installs it. Call it
    before any work (e.g. at the top of a training function)."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingPackage(package, extra, purpose) from None


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                skip_batches: int = 0, drop_last: bool = False, workers: int = 0,
                rank: int = 0, world_size: int = 1, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over this rank's shard of ``dataset`` for one epoch.

    The order is a function of (seed, epoch) alone, the same on every rank before sharding
    (``DistributedSampler``), so a resumed run sees the same samples: ``skip_batches`` drops the
    first batches of the epoch without loading them. ``batch_size`` is per rank.
    """
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                                 seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    indices = list(sampler)[skip_batches * batch_size:]
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)  # worker seeds
    return DataLoader(dataset, batch_size=batch_size, sampler=indices, drop_last=drop_last,
                      num_workers=workers, pin_memory=pin_memory, generator=generator,
                      persistent_workers=False)


class IndexBatches:
    """Mini-batches of indices into an in-memory dataset of ``n`` examples.

    The order of an epoch is drawn from a generator seeded by (seed, epoch) alone, so batch ``i``
    of epoch ``e`` is the same in a run resumed at any step; draws for augmentation can continue
    from the same generator (``order`` returns it). ``batch_size`` is global: under DDP each rank
    takes its slice of every global batch.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int = 0,
                 drop_last: bool = True, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by {world_size} ranks")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.steps = n // batch_size if drop_last else -(-n // batch_size)

    def __len__(self) -> int:
        return self.steps

    def order(self, epoch: int) -> tuple[torch.Tensor, torch.Generator]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return (torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)), g

    def slices(self, order: torch.Tensor, start: int = 0):
        """This rank's indices of global batches start, start + 1, ... of an epoch's order."""
        b = self.batch_size // self.world_size
        for i in range(start, self.steps):
            batch = order[i * self.batch_size:(i + 1) * self.batch_size]  # the global batch
            yield batch[self.rank * b:(self.rank + 1) * b]

    def epoch(self, epoch: int, start: int = 0):
        return self.slices(self.order(epoch)[0], start)
