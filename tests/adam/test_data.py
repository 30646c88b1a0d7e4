"""Adam's data: the built-in digits and reviews, bags of words, whitening, exact batches."""

import pytest
import torch

from milestones.adam import data as D
from milestones.core.data import DataUnavailable


def test_segments_are_deterministic_balanced_digits():
    a, b = D.make_segments(500, seed=3), D.make_segments(500, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.x.shape == (500, 1, 28, 28) and a.x.dtype == torch.uint8
    assert torch.bincount(a.y, minlength=10).min() > 25
    ink = (a.x.float() / 255).mean()
    assert 0.05 < ink < 0.4  # strokes on a dark background, like MNIST
    assert not torch.equal(D.make_segments(500, seed=4).x, a.x)


def test_segments_classes_differ_on_average():
    data = D.make_segments(2000, seed=0)
    means = torch.stack([data.x[data.y == c].float().mean(0) for c in range(10)])
    one, eight = means[1].sum(), means[8].sum()
    assert eight > 1.5 * one  # 8 lights all seven segments, 1 only two


def test_reviews_are_sparse_unique_and_balanced():
    data = D.make_reviews(2000, seed=1, vocab=1000, informative=200)
    words = data.x
    assert words.dtype == torch.int64 and words.max() <= 1000
    for row in words[:50]:
        real = row[row != 1000]
        assert len(real) == len(real.unique()) and torch.equal(real, real.sort().values)
    assert 0.4 < data.y.float().mean() < 0.6
    assert torch.equal(D.make_reviews(20, seed=1, vocab=1000, informative=200).x,
                       D.make_reviews(20, seed=1, vocab=1000, informative=200).x)


def test_reviews_are_learnable_from_the_shared_lexicon():
    """A linear model fitted on one seed's reviews predicts another seed's: the lexicon is
    shared, the documents and the noise are not."""
    train, test = D.make_reviews(3000, seed=1, vocab=2000), D.make_reviews(1000, seed=2, vocab=2000)

    def dense(words):
        x = torch.zeros(len(words), 2001)
        x.scatter_(1, words, 1.0)
        return x[:, :2000]

    xtr, xte = dense(train.x), dense(test.x)
    ridge = xtr.T @ xtr + 30 * torch.eye(2000)
    w = torch.linalg.solve(ridge, xtr.T @ (train.y.float() * 2 - 1))
    accuracy = ((xte @ w > 0).long() == test.y).float().mean()
    assert accuracy > 0.7


def test_bags_of_words_from_text():
    train = ["Good, GOOD good film. Film bad!", "bad film<br />good"]
    tr, te, vocab = D.bags_of_words(train, ["good and bad", "unknown words"], vocab=2)
    assert vocab == ["good", "film"]  # the 2 most frequent training words; "bad" is out
    assert tr.tolist() == [[0, 1], [0, 1]]  # presence, not counts
    assert te.tolist() == [[0], [2]]  # "good" only; nothing known -> the padding id


def test_imdb_unavailable_offline_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="--dataset reviews"):
        D.load_bow("imdb", root=str(tmp_path))


def test_imdb_from_a_saved_copy(tmp_path):
    datasets = pytest.importorskip("datasets", reason="needs the text extra")
    rows = {"train": {"text": ["a good film", "a bad film", "good, good"], "label": [1, 0, 1]},
            "test": {"text": ["bad", "good film"], "label": [0, 1]}}
    datasets.DatasetDict({s: datasets.Dataset.from_dict(c) for s, c in rows.items()}
                         ).save_to_disk(str(tmp_path / "imdb"))  # a copy from elsewhere
    data = D.load_bow("imdb", root=str(tmp_path))
    assert len(data.train.y) == 3 and data.test.y.tolist() == [0, 1]
    assert str(tmp_path / "imdb") in data.source


def test_zca_whitens():
    torch.manual_seed(0)
    mix = torch.randn(20, 20)
    x = torch.randn(5000, 20) @ mix + 3
    mean, w = D.zca(x, eps=1e-6)
    white = (x - mean) @ w
    assert torch.allclose(torch.cov(white.T), torch.eye(20), atol=0.02)
    assert torch.allclose(w, w.T, atol=1e-5)  # ZCA: symmetric, stays in pixel space


def test_tensor_batches_resume_and_whitening():
    data = D.make_segments(100, seed=0)
    kw = dict(device=torch.device("cpu"), shuffle=True, seed=5)
    batches = D.TensorBatches(data, 16, **kw)
    full = list(batches.epoch(2))
    tail = list(batches.epoch(2, start=3))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(full[3:], tail, strict=True))
    assert full[0][0].dtype == torch.float32 and full[0][0].max() <= 1
    mean, w = torch.zeros(784), 2 * torch.eye(784)
    whitened = next(D.TensorBatches(data, 16, whiten=(mean, w), **kw).epoch(2))[0]
    assert torch.allclose(whitened, 2 * full[0][0])


def test_load_images_caps_the_built_in_set():
    data = D.load_images("segments", train_size=300, test_size=50)
    assert (len(data.train), len(data.test)) == (300, 50) and "train 300" in data.source
