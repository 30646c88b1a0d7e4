"""Every bad input a user or a crashed host can produce gives one clear message and exit code 2,
before any work, and never damages a previous run: a table, run through the real command-line
entry point (``core.run.cli``) in this process."""

import dataclasses
import json
import shutil
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from milestones.core.checkpoint import load_checkpoint
from milestones.core.config import EXIT_USAGE


@dataclasses.dataclass
class Case:
    milestone: str
    args: list[str]  # after --preset smoke --out <run>; {tmp} and {run} are filled in
    expect: str  # a part of the message
    setup: Callable[[Path, Path], None] | None = None  # (tmp, run folder) -> None
    needs_run: bool = False  # starts from a finished 4-step smoke run in <run>
    missing: str | None = None  # a package made unimportable for the case
    full_disk: bool = False  # every checkpoint write fails with ENOSPC
    entry: str = "train"  # the milestone's module whose cli runs the case (bert: finetune too)


def corrupt(run: Path, how: str) -> None:
    last = run / "last.pt"
    if how == "truncate":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    elif how == "flip":
        # flip bytes inside the largest tensor's data, not in a zip header: torch reads the
        # archive, and only our CRC-32 over the tensors can tell
        with zipfile.ZipFile(last) as archive:
            tensors = [info for info in archive.infolist() if "/data/" in info.filename]
            record = max(tensors, key=lambda info: info.file_size)
        raw = bytearray(last.read_bytes())
        name_len, extra_len = struct.unpack("<HH", raw[record.header_offset + 26:
                                                       record.header_offset + 30])
        start = record.header_offset + 30 + name_len + extra_len + record.file_size // 2
        for i in range(start, start + 64):
            raw[i] ^= 0xFF
        last.write_bytes(raw)
    elif how == "foreign":
        torch.save({"weights": torch.ones(3)}, last)
    elif how == "code":
        torch.save({"format": "milestones-checkpoint/1", "crc32": 0, "state": {"f": print}}, last)
    elif how == "folder":
        last.unlink()
        last.mkdir()


def image_folder(sizes: dict[str, tuple[int, int]]) -> Callable[[Path, Path], None]:
    """<tmp>/faces: images of the given (width, height) by file name, directly in the folder."""
    def write(tmp: Path, run: Path) -> None:
        from PIL import Image

        (tmp / "faces").mkdir()
        for name, size in sizes.items():
            Image.new("RGB", size).save(tmp / "faces" / name)

    return write


def cifar_folder(sizes: dict[str, tuple[int, int]], junk: str | None = None
                 ) -> Callable[[Path, Path], None]:
    """<tmp>/cifar: train/ and test/ with one image per CIFAR-10 class, of the sizes given by
    file name (default 32x32), and optionally a file that is not an image."""
    def write(tmp: Path, run: Path) -> None:
        from PIL import Image

        from milestones.core.datasets import CIFAR10_CLASSES

        for split in ("train", "test"):
            for name in CIFAR10_CLASSES:
                (tmp / "cifar" / split / name).mkdir(parents=True)
                size = sizes.get(f"{split}/{name}", (32, 32))
                Image.new("RGB", size).save(tmp / "cifar" / split / name / "0.png")
        if junk:
            (tmp / "cifar" / junk).write_text("not an image")
    return write


def tsv(lines: list[str]) -> Callable[[Path, Path], None]:
    def write(tmp: Path, run: Path) -> None:
        (tmp / "pairs.tsv").write_text("".join(line + "\n" for line in lines))
    return write


def glue_files(task: str, train: list[str]) -> Callable[[Path, Path], None]:
    """<tmp>/glue/<task>/train.tsv (and a good dev.tsv: the header and the train lines' first
    data line) and <tmp>/vocab.txt, a tiny released-style vocabulary."""
    def write(tmp: Path, run: Path) -> None:
        folder = tmp / "glue" / task
        folder.mkdir(parents=True)
        (folder / "train.tsv").write_text("".join(line + "\n" for line in train))
        (folder / "dev.tsv").write_text(train[0] + "\n" + train[1] + "\n")
        (tmp / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                  "a", "b", "."]) + "\n")
    return write


def finetune(args: list[str], expect: str, setup=None) -> Case:
    return Case("bert", args, expect, setup=setup, entry="finetune")


RTE = "index\tsentence1\tsentence2\tlabel"
CASES = {
    "--out names a file": Case("resnet", [], "is a file, not a folder",
                               setup=lambda tmp, run: run.write_text("not a folder")),
    "--out in a read-only place": Case("resnet", ["--out", "/proc/milestones-run"],
                                       "cannot be written"),
    "an existing run without --resume": Case("resnet", [], "--resume", needs_run=True),
    "a truncated last.pt": Case("resnet", ["--resume"], "not a readable checkpoint",
                                setup=lambda tmp, run: corrupt(run, "truncate"), needs_run=True),
    "a corrupted last.pt": Case("resnet", ["--resume"], "CRC-32",
                                setup=lambda tmp, run: corrupt(run, "flip"), needs_run=True),
    "a foreign torch file": Case("resnet", ["--resume"], "not a milestones checkpoint",
                                 setup=lambda tmp, run: corrupt(run, "foreign"), needs_run=True),
    "a checkpoint carrying code": Case("resnet", ["--resume"], "pickled Python object",
                                       setup=lambda tmp, run: corrupt(run, "code"),
                                       needs_run=True),
    "last.pt is a folder": Case("resnet", ["--resume"], "is a folder",
                                setup=lambda tmp, run: corrupt(run, "folder"), needs_run=True),
    "--resume with another --model": Case("resnet", ["--resume", "--model", "resnet20"],
                                          "does not fit this run", needs_run=True),
    "--device cuda without CUDA": Case("resnet", ["--device", "cuda"], "CUDA is not available"),
    "a full disk during a save": Case("resnet", ["--resume"], "previous one is intact",
                                      needs_run=True, full_disk=True),
    "--data-dir with the built-in shapes": Case("resnet", ["--data-dir", "{tmp}"], "`data_dir`"),
    "an image folder with mixed sizes": Case(
        "resnet", ["--dataset", "cifar10", "--data-dir", "{tmp}/cifar"], "is 64x48",
        setup=cifar_folder({"train/bird": (64, 48)})),
    "a CIFAR-10 folder of 64x64 images": Case(
        "resnet", ["--dataset", "cifar10", "--data-dir", "{tmp}/cifar"], "32x32",
        setup=cifar_folder({f"{split}/{name}": (64, 64) for split in ("train", "test")
                            for name in ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                         "frog", "horse", "ship", "truck")})),
    "a file that is not an image": Case(
        "resnet", ["--dataset", "cifar10", "--data-dir", "{tmp}/cifar"], "is not an image",
        setup=cifar_folder({}, junk="train/cat/notes.txt")),
    "--data-dir with Adam's built-in digits": Case("adam", ["--data-dir", "{tmp}"],
                                                   "`data_dir`"),
    "--max-len that leaves no pair": Case("transformer", ["--max-len", "1"], "`max_len`"),
    "--data-files without --dataset tsv": Case("transformer", ["--data-files", "{tmp}/pairs.tsv"],
                                               "--dataset tsv", setup=tsv(["a\tb"] * 5)),
    "a TSV of two pairs": Case("transformer", ["--dataset", "tsv", "--data-files",
                                               "{tmp}/pairs.tsv"], "at least 3",
                               setup=tsv(["a b\tc d", "e f\tg h"])),
    "an unknown --lang-pair": Case("transformer", ["--dataset", "wmt14", "--lang-pair", "en-xx"],
                                   "`lang_pair`"),
    "no tokenizers installed": Case("transformer", [], "milestones[text]", missing="tokenizers"),
    "no sacrebleu installed": Case("transformer", [], "milestones[text]", missing="sacrebleu"),
    "a TSV line with one column": Case("attention", ["--dataset", "tsv", "--data-files",
                                                     "{tmp}/pairs.tsv"], "pairs.tsv, line 3",
                                       setup=tsv(["a b\tc d", "e f\tg h", "no tab here",
                                                  "i j\tk l"])),
    "an empty TSV": Case("attention", ["--dataset", "tsv", "--data-files", "{tmp}/pairs.tsv"],
                         "pairs.tsv: the file is empty", setup=tsv([])),
    "a TSV with non-UTF-8 bytes": Case(
        "attention", ["--dataset", "tsv", "--data-files", "{tmp}/pairs.tsv"],
        "pairs.tsv, line 2: not UTF-8",
        setup=lambda tmp, run: (tmp / "pairs.tsv").write_bytes(b"a b\tc d\ne \xff\tf\n")),
    "--dropout 1.5": Case("alexnet", ["--dropout", "1.5"], "`dropout`"),
    "no ImageNet where --data-dir points": Case("alexnet", ["--dataset", "imagenet", "--data-dir",
                                                            "{tmp}/imagenet"], "image-net.org"),
    "--pool on lenet5": Case("alexnet", ["--model", "lenet5", "--pool", "non-overlapping"],
                             "`act`"),
    "--cpu-threads -3": Case("dqn", ["--cpu-threads", "-3"], "`cpu_threads`"),
    "no gymnasium installed": Case("dqn", [], "milestones[rl]", missing="gymnasium"),
    "no ale-py for an Atari game": Case("dqn", [], "milestones[rl]", missing="ale_py"),
    "no minatar for a MinAtar game": Case("dqn", ["--env", "MinAtar/Breakout-v0"],
                                          "milestones[minatar]", missing="minatar"),
    "--network minatar on CartPole": Case("dqn", ["--env", "CartPole-v1", "--network",
                                                  "minatar"], "`network`"),
    "--k 0": Case("gan", ["--k", "0"], "`k`"),
    "an empty image folder": Case("gan", ["--dataset", "folder", "--data-dir", "{tmp}/faces"],
                                  "no images in it",
                                  setup=lambda tmp, run: (tmp / "faces").mkdir()),
    "images of mixed sizes": Case("gan", ["--dataset", "folder", "--data-dir", "{tmp}/faces"],
                                  "64x64", setup=image_folder({"a.png": (64, 64),
                                                               "b.png": (64, 80)})),
    "--dataset folder without --data-dir": Case("gan", ["--dataset", "folder"],
                                                 "no --data-dir given"),
    "dcgan at a size it has no layers for": Case(
        "gan", ["--dataset", "folder", "--data-dir", "{tmp}/faces", "--image-size", "48"],
        "`image_size`", setup=image_folder({"a.png": (64, 64)})),
    "an Inception weights file that does not exist": Case(
        "gan", ["--fid", "--fid-inception", "{tmp}/pt_inception.pth"], "`fid_inception`"),
    "an Inception weights file that holds something else": Case(
        "gan", ["--fid", "--fid-inception", "{tmp}/w.pth"], "no fc.weight",
        setup=lambda tmp, run: torch.save({"w": torch.zeros(1)}, tmp / "w.pth")),
    "--temperature 0": Case("simclr", ["--temperature", "0"], "`temperature`"),
    "a batch of one image": Case("simclr", ["--batch-size", "1"], "`batch_size`"),
    "an empty image folder for SimCLR": Case(
        "simclr", ["--dataset", "folder", "--data-dir", "{tmp}/stl"], "no class folders",
        setup=lambda tmp, run: [(tmp / "stl" / s).mkdir(parents=True) for s in ("train",
                                                                                 "test")]),
    "an unknown augmentation": Case("simclr", ["--augmentations", "crop", "jpeg"],
                                    "`augmentations`"),
    "a GLUE TSV with a missing column": finetune(
        ["--task", "rte", "--data-dir", "{tmp}/glue", "--init", "random", "--tokenizer",
         "{tmp}/vocab.txt"], "train.tsv, line 3",
        setup=glue_files("RTE", [RTE, "0\ta b\tb a\tentailment", "1\ta b\tentailment"])),
    "a GLUE label outside the task's set": finetune(
        ["--task", "rte", "--data-dir", "{tmp}/glue", "--init", "random", "--tokenizer",
         "{tmp}/vocab.txt"], "train.tsv, line 3: label 'maybe'",
        setup=glue_files("RTE", [RTE, "0\ta b\tb a\tentailment", "1\ta\tb\tmaybe"])),
    "an unknown --task": finetune(["--task", "wnli"], "`task`"),
    "fine-tuning without a checkpoint": finetune(["--task", "mrpc", "--init", "pretrained"],
                                                 "`checkpoint`"),
    "a pre-training corpus empty after tokenisation": Case(
        "bert", ["--corpus", "text", "--data-files", "{tmp}/empty.txt"],
        "no text left after tokenisation",
        setup=lambda tmp, run: (tmp / "empty.txt").write_text("\u200b\n\n\u200b \u200b\n")),
    "BERT's --long-max-len below --max-len": Case("bert", ["--max-len", "64",
                                                           "--long-max-len", "32"],
                                                  "`long_max_len`"),
    "an empty text file for GPT": Case(
        "gpt", ["--corpus", "text", "--data-files", "{tmp}/empty.txt"], "empty: no text",
        setup=lambda tmp, run: (tmp / "empty.txt").write_text(" \n\n")),
    "a binary file as GPT's text": Case(
        "gpt", ["--corpus", "text", "--data-files", "{tmp}/model.bin"], "binary file",
        setup=lambda tmp, run: (tmp / "model.bin").write_bytes(bytes(range(256)) * 4)),
    "a context longer than the model's": Case(
        "gpt", ["--init-from", "{tmp}/hf", "--n-ctx", "32"], "`n_ctx`",
        setup=lambda tmp, run: hf_gpt2_config(tmp / "hf", n_positions=16)),
    "GPT's --top-p 0": Case("gpt", ["--top-p", "0"], "`top_p`"),
    "--fsdp in fp16": Case("gpt", ["--fsdp", "--dtype", "fp16"], "`fsdp`"),
    "a prompt outside the characters": Case("gpt", ["--prompt", "QQ"],
                                            "not in this model's vocabulary"),
}


def hf_gpt2_config(folder: Path, n_positions: int) -> None:
    """A Hugging Face GPT-2 folder's config.json (no weights needed: refused before loading)."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"vocab_size": 50, "n_positions": n_positions, "n_layer": 1, "n_head": 1, "n_embd": 8}))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A resnet smoke run stopped at step 4 (last.pt and best.pt at step 4)."""
    from milestones.resnet import train as T

    out = tmp_path_factory.mktemp("finished") / "run"
    T.main(dataclasses.replace(T.smoke(), out=str(out), max_steps=4))
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_message_and_exit_2(name, tmp_path, finished_run, monkeypatch,
                                             capsys):
    import importlib

    case = CASES[name]
    run = tmp_path / "run"
    if case.needs_run:
        shutil.copytree(finished_run, run)
    if case.setup:
        case.setup(tmp_path, run)
    if case.missing:
        monkeypatch.setitem(sys.modules, case.missing, None)  # `import` now raises ImportError
    if case.full_disk:
        import errno

        import milestones.core.run as R

        def full(path, state):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(R, "save_checkpoint", full)
    monkeypatch.setenv("MILESTONES_DATA", str(tmp_path / "data"))
    before = snapshot(run)
    T = importlib.import_module(f"milestones.{case.milestone}.{case.entry}")
    args = ["--preset", "smoke", "--out", str(run)] + [
        a.format(tmp=tmp_path, run=run) for a in case.args]
    try:
        code = T.cli(T.main, T.Config, T.PRESETS, args=args)
    except SystemExit as e:  # a value the Config refuses: tyro prints it and exits
        code = e.code
    captured = capsys.readouterr()
    err = captured.err + captured.out
    assert code == EXIT_USAGE, f"{name}: exit {code}\n{err}"
    assert err.count("error: ") + err.count("Error parsing") == 1, err
    assert "Traceback" not in err and case.expect in err, f"{name}: {err}"
    changed = {k for k in set(before) | set(snapshot(run)) if before.get(k) != snapshot(run).get(k)}
    if case.full_disk:  # the run started (config, metrics) and its first save failed
        changed -= {"config.json", "metrics.jsonl"}
    assert not changed, f"{name}: the run folder changed: {sorted(changed)}"
    if case.needs_run and (run / "best.pt").is_file():
        assert load_checkpoint(run / "best.pt")["step"] == 4  # the previous run's best survives
