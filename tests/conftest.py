"""Shared test set-up: offline, deterministic, CPU. Nothing here needs the network."""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
# The real CIFAR-10 as JPEGs (see ../shared/data/README.md): used where present, never required.
CIFAR10_TGZ_CANDIDATES = [Path(os.environ.get("MILESTONES_CIFAR10_TGZ", "/nonexistent")),
                          REPO.parent / "shared" / "data" / "cifar10-jpg.tar.gz"]


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A training entry point may set torch's thread count for its process (DQN gives its small
    networks one thread, before it makes the environment); a test that calls one in-process must
    not leave the count changed for the tests after it (a resume compared across processes then
    differs in the last bits)."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
    """Run ``python <args>`` in a fresh process; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, *args], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def torchrun_smoke(module: str, tmp_path: Path, *args: str, timeout: float = 300):
    """``torchrun --standalone --nproc_per_node=2 -m <module> --preset smoke`` (gloo on CPU) with
    the run in <tmp_path>/ddp and the data root <tmp_path>; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", module, "--preset", "smoke", "--out", str(tmp_path / "ddp"), "--data-root",
         str(tmp_path), *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def randomize_batchnorm(model, shift: float) -> None:
    """Non-trivial BatchNorm statistics and affine parameters (running mean and bias in
    [-shift, shift], running variance and weight in [0.5, 1.5]), so eval mode is tested too."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-shift, shift)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-shift, shift)


def make_image_folder(root: Path, classes, n_per_class: int, size=(32, 32), ext="png",
                      splits=("train", "test")) -> None:
    """root/<split>/<class>/NNNN.<ext>: random RGB images, deterministic."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in splits:
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(n_per_class):
                pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:04d}.{ext}")


@pytest.fixture(scope="module")
def corpus():
    """The built-in language pair: 3000 / 200 / 300 pairs and 100 long ones (core.language)."""
    from milestones.core.language import synthetic_corpus

    return synthetic_corpus(n_train=3000, n_valid=200, n_test=300, n_long=100, seed=0)


@pytest.fixture(scope="module")
def tok(corpus, tmp_path_factory):
    """A BPE of at most 600 tokens trained on ``corpus`` (core.text)."""
    pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
    from milestones.core.text import train_tokenizer

    texts = [s for pair in corpus.train for s in pair]
    return train_tokenizer(texts, 600, tmp_path_factory.mktemp("tokenizers"))


@pytest.fixture(scope="session")
def cifar10_folder(tmp_path_factory) -> Path:
    """The real CIFAR-10 image folder (train/<class>/*, test/<class>/*), extracted once."""
    tgz = next((p for p in CIFAR10_TGZ_CANDIDATES if p.is_file()), None)
    if tgz is None:
        pytest.skip("the CIFAR-10 JPEG archive (../shared/data/cifar10-jpg.tar.gz) is not here")
    out = tmp_path_factory.mktemp("cifar10")
    if shutil.which("tar"):  # ~2 s, against ~25 s for Python's tarfile
        subprocess.run(["tar", "-xzf", str(tgz), "-C", str(out)], check=True)
    else:
        with tarfile.open(tgz) as tar:
            tar.extractall(out, filter="data")
    return out
