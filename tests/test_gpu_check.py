"""benchmarks/gpu_check.py, the one command of a GPU lease, in its --dry-run (CPU, tiny shapes):
every implemented milestone is covered and nothing fails; a missing package is a skip; the time
budget skips what does not fit. None of this measures a GPU."""

import json

import pytest

import milestones
from tests.conftest import run_cli

SCRIPT = "benchmarks/gpu_check.py"
IMPLEMENTED = [m.name for m in milestones.REGISTRY if m.implemented]


def dry_run(tmp_path, *args: str, env: dict | None = None) -> dict:
    out = tmp_path / "gpu_check.json"
    proc = run_cli(SCRIPT, "--dry-run", "--out", str(out), *args, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout) == result  # stdout holds the JSON and nothing else
    return result


@pytest.mark.slow
def test_dry_run_covers_every_implemented_milestone_and_nothing_fails(tmp_path):
    result = dry_run(tmp_path, "--peak-tflops", "1")
    items = result["items"]
    assert result["milestones"] == IMPLEMENTED and result["dry_run"]
    assert [(i["id"], i.get("error")) for i in items if i["status"] == "failed"] == []
    assert result["summary"]["failed"] == 0 and result["summary"]["ok"] == len(items)
    for name in IMPLEMENTED:
        kinds = {i["kind"] for i in items if i["milestone"] == name and i["status"] == "ok"}
        assert {"smoke", "throughput", "optimizer"} <= kinds, name
    smokes = [i for i in items if i["kind"] == "smoke"]
    assert all(i["checkpoint_keys_clean"] and i["checkpoint_keys"] > 0 for i in smokes)
    timed = [i for i in items if i["kind"] == "throughput"]
    assert {i["case"] for i in timed} == {"fp32", "bf16", "bf16+fused"}  # no compile on CPU
    assert all(i["step_ms"] > 0 and i["items_per_s"] > 0 and i["loss_finite"] for i in timed)
    assert all(i["mfu"] > 0 for i in timed if i.get("flops_per_step"))  # --peak-tflops given
    nccl = next(i for i in items if i["kind"] == "nccl")
    assert nccl["backend"] == "gloo" and nccl["all_reduce_ok"] and nccl["ddp_replicas_equal"]
    assert nccl["summary"]["step"] > 0
    loop = next(i for i in items if i["kind"] == "loop")
    assert loop["train_main_images_per_s"] > 0 and loop["train_main_vs_bare"] > 0
    resumed = [i for i in items if i["kind"] == "resume"]
    assert resumed and all(i["same_as_straight"] and i["resumed_to"] == i["steps"]
                           for i in resumed)  # on a CPU, bit for bit
    ttt = next(i for i in items if i["kind"] == "time-to-target")
    assert ttt["val_curve"] and ttt["steps_done"] > 0
    machine = result["machine"]
    assert machine["torch"] and machine["code_sha256"] and "packages" in machine


def test_a_missing_package_is_a_skip_and_a_missing_tyro_is_stubbed(tmp_path):
    fake = tmp_path / "withheld"
    for name in ("tyro", "gymnasium"):  # as if not installed (what the GPU machine lacks)
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(
            f'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n')
    result = dry_run(tmp_path, "--items", "smoke", "--milestones", "adam,dqn",
                     env={"PYTHONPATH": str(fake)})
    status = {i["id"]: i for i in result["items"]}
    assert status["smoke/adam"]["status"] == "ok"  # tyro's stub: main(cfg) parses no CLI
    assert status["smoke/dqn"]["status"] == "skipped"
    assert "gymnasium" in status["smoke/dqn"]["reason"]
    assert result["machine"]["packages"]["tyro"].startswith("missing: stubbed")


def test_the_budget_skips_what_does_not_fit(tmp_path):
    result = dry_run(tmp_path, "--budget-minutes", "0")
    assert {i["milestone"] for i in result["items"]} == set(IMPLEMENTED)
    assert [i["id"] for i in result["items"]] == [p["id"] for p in result["plan"]]
    assert all(i["status"] == "skipped" and i["reason"].startswith("budget")
               for i in result["items"])
