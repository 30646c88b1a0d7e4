"""core.data: the data root, DataUnavailable's message, resumable distributed loaders."""

import torch
from torch.utils.data import TensorDataset

from milestones.core.data import DataUnavailable, IndexBatches, data_root, make_loader


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MILESTONES_DATA", raising=False)
    assert data_root() == data_root(None) and data_root().name == "milestones"
    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(str(tmp_path / "cli")) == tmp_path / "cli"


def test_data_unavailable_says_what_where_how_and_offline():
    msg = str(DataUnavailable("cifar10", ["/a/b", "/c"], how="pass --download",
                              offline="--dataset shapes", why="URLError"))
    assert "dataset 'cifar10' is not available (URLError)" in msg
    assert "/a/b; /c" in msg and "pass --download" in msg and "--dataset shapes" in msg


def _indices(loader) -> list[int]:
    return [int(i) for (x,) in loader for i in x]


DATA = TensorDataset(torch.arange(103))


def test_order_depends_on_seed_and_epoch_only():
    a = _indices(make_loader(DATA, 10, shuffle=True, seed=1, epoch=0))
    assert a == _indices(make_loader(DATA, 10, shuffle=True, seed=1, epoch=0))
    assert a != _indices(make_loader(DATA, 10, shuffle=True, seed=1, epoch=1))
    assert sorted(a) == list(range(103))


def test_skip_batches_resumes_mid_epoch():
    full = _indices(make_loader(DATA, 10, shuffle=True, seed=3, epoch=2, drop_last=True))
    tail = _indices(make_loader(DATA, 10, shuffle=True, seed=3, epoch=2, drop_last=True,
                                skip_batches=4))
    assert tail == full[40:] and len(full) == 100


def test_ranks_get_disjoint_shards():
    shards = [_indices(make_loader(DATA, 8, shuffle=True, seed=0, epoch=5, rank=r, world_size=2,
                                   drop_last=True)) for r in range(2)]
    assert not set(shards[0]) & set(shards[1])
    assert len(shards[0]) == len(shards[1]) == 48


def test_workers_give_the_same_batches():
    kw = dict(shuffle=True, seed=4, epoch=1)
    assert _indices(make_loader(DATA, 16, workers=2, **kw)) == _indices(make_loader(DATA, 16, **kw))


def test_index_batches_are_resumable_and_shard_across_ranks():
    batches = IndexBatches(50, 8, shuffle=True, seed=2)
    assert len(batches) == 6 and len(IndexBatches(50, 8, shuffle=True, drop_last=False)) == 7
    full = [b.tolist() for b in batches.epoch(3)]
    assert [b.tolist() for b in batches.epoch(3, start=4)] == full[4:]
    assert full != [b.tolist() for b in batches.epoch(4)]
    ranks = [[b.tolist() for b in IndexBatches(50, 8, shuffle=True, seed=2, rank=r,
                                                world_size=2).epoch(3)] for r in range(2)]
    assert [a + b for a, b in zip(*ranks, strict=True)] == full
    order, g = batches.order(3)
    assert sorted(order.tolist()) == list(range(50)) and isinstance(g, torch.Generator)
    assert [b.tolist() for b in IndexBatches(10, 4, shuffle=False, drop_last=False).epoch(0)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
