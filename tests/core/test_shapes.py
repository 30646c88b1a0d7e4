"""core.shapes: the built-in procedural images, pinned to the bytes they had in resnet/data.py."""

import hashlib

import torch

from milestones.core import shapes as S


def _sha256(split) -> str:
    return hashlib.sha256(split.x.numpy().tobytes() + split.y.numpy().tobytes()).hexdigest()


def test_same_bytes_as_before_the_move_to_core():
    """Hashes computed with milestones/resnet/data.py at 5701bb5, before the generator moved: the
    built-in dataset every smoke/quick result was trained on must not change."""
    assert _sha256(S.make_shapes(600, seed=5)) == (
        "7f601336c83ff6a44ae75e946c7aaed28f845b988ed178fbf5916f2d4c3afdf9")
    assert _sha256(S.make_shapes(300, seed=2, chunk=128)) == (  # three chunks
        "7eb7545856495b9a21281bafd322bba7699d77104aa6146eaeec2646a5fcb32c")
    train, test, source = S.load_shapes(700, 200)
    assert _sha256(train) == "91e0fc49682d334a40398efcdde6abf5eee7a2c77f2b889e83d6b913785aad37"
    assert _sha256(test) == "e38a936d010a5100bf4360d661861d6e4c087e7a6f1a7c897a30502720759349"
    assert source == "built-in shapes (procedural, train 700 seed 1, test 200 seed 2)"


def test_shapes_is_deterministic_and_balanced():
    a, b = S.make_shapes(600, seed=5), S.make_shapes(600, seed=5)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.x.shape == (600, 3, 32, 32) and a.x.dtype == torch.uint8
    assert torch.bincount(a.y, minlength=10).min() > 30 and len(S.SHAPES_CLASSES) == 10
    assert not torch.equal(S.make_shapes(600, seed=6).x, a.x)
    assert 40 < a.x.float().mean() < 215 and a.x.float().std() > 30  # not blank, not saturated
    chunked = S.make_shapes(600, seed=5, chunk=256)  # chunking changes draws, not the labels
    assert torch.equal(chunked.y, a.y)
