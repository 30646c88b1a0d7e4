"""Mutation check: each mutant below breaks a line a reproduction relies on, and the tests named
beside it must fail. Not part of the default ``pytest`` (it copies the tree once per mutant):

    python tests/mutants.py            # every mutant; exit 1 if a mutant survives
    python tests/mutants.py adam-bias  # one of them

Each mutant is applied to a copy of the working tree (``git ls-files``, edits included), the named
tests run there with one thread, and the mutant is *killed* when they fail (and pass without
it). A mutant whose text is no longer in its file is stale (the code moved: update the mutant;
``tests/test_mutants.py`` checks this in the default run), also exit 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name: (file, original text, mutated text, the tests that must fail)
MUTANTS = {
    "resnet-option-a-zeros": (
        "milestones/resnet/model.py",
        "    return F.pad(x, (0, 0, 0, 0, pad // 2, pad - pad // 2))  # (B, C_out, H/s, W/s)",
        "    return torch.zeros_like(F.pad(x, (0, 0, 0, 0, pad // 2, pad - pad // 2)))",
        ["tests/resnet/test_model.py::test_option_a_shortcut_is_its_definition",
         "tests/resnet/test_model.py::test_every_downsampling_block_adds_the_option_a_shortcut"]),
    "dqn-target-from-online-net": (
        "milestones/dqn/train.py",
        'y = td_target(batch["reward"], batch["terminal"], target(batch["next_state"]), gamma)',
        'y = td_target(batch["reward"], batch["terminal"], q(batch["next_state"]), gamma)',
        ["tests/dqn/test_algorithm.py::test_minibatch_loss_bootstraps_from_the_target_network",
         "tests/dqn/test_algorithm.py::test_the_loop_bootstraps_from_theta_minus_synced_every_c"
         "_updates"]),
    "adam-bias": (
        "milestones/adam/optim.py",
        "        bias1 = [1 - beta1**s if bias_correction else 1.0 for s in step]",
        "        bias1 = [1.0 for s in step]",
        ["tests/adam/test_optim.py::test_equal_to_torch_optim_for_300_steps_with_a_reload"]),
    "attention-scale-inverted": (
        "milestones/transformer/model.py",
        "    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)",
        "    scores = q @ k.transpose(-2, -1) * math.sqrt(d_k)  # (..., T_q, T_k)",
        ["tests/transformer/test_equivalence.py::test_eq1_written_out_equals_a_loop_and_sdpa"]),
}


def tree_copy(dest: Path) -> None:
    """The working tree's tracked files, as they are now (uncommitted edits included)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def pytest(root: Path, tests: list[str]) -> int:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-m", "slow or not slow", *tests],  # the named tests, slow ones too
                          cwd=root, env=env, capture_output=True).returncode


def run(name: str) -> str:
    """killed (the tests fail on the mutant and pass without it), survived, stale, or why the
    check could not tell."""
    path, original, mutated, tests = MUTANTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tree_copy(root)
        text = (root / path).read_text()
        if text.count(original) != 1:
            return "stale"
        if (code := pytest(root, tests)) != 0:
            return f"not checked: the tests fail without the mutant (pytest exit {code})"
        (root / path).write_text(text.replace(original, mutated))
        code = pytest(root, tests)
        return {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")


def main(names: list[str]) -> int:
    unknown = set(names) - set(MUTANTS)
    if unknown:
        print(f"error: no mutant {', '.join(sorted(unknown))}; choose from {', '.join(MUTANTS)}",
              file=sys.stderr)
        return 2
    outcomes = {name: run(name) for name in names or MUTANTS}
    for name, outcome in outcomes.items():
        print(f"{name}: {outcome}")
    return 0 if all(o == "killed" for o in outcomes.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
