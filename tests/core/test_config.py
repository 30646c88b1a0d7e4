"""core.config and core.run.cli: presets, CLI overrides, validation naming the field, exit
codes."""

import dataclasses
import json

import pytest

from milestones.core.checkpoint import CheckpointError
from milestones.core.config import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PREEMPTED,
    EXIT_USAGE,
    ConfigError,
    changed_fields,
    parse,
    require,
    save_config,
)
from milestones.core.data import DataUnavailable, MissingPackage
from milestones.core.metrics import NonFiniteLoss
from milestones.core.run import RunConfig, cli


@dataclasses.dataclass
class DemoConfig(RunConfig):
    """A demo entry point."""

    lr: float = 0.1
    """Learning rate (§9.9)."""
    steps: int = 100
    """Iterations in all."""

    def __post_init__(self):
        super().__post_init__()
        require(self.lr > 0, self, "lr", "must be > 0")


PRESETS = {"paper": lambda: DemoConfig(), "quick": lambda: DemoConfig(preset="quick", steps=7)}


def test_preset_then_overrides():
    cfg = parse(DemoConfig, PRESETS, ["--preset", "quick", "--lr", "0.05", "--seed", "3"])
    assert (cfg.preset, cfg.steps, cfg.lr, cfg.seed) == ("quick", 7, 0.05, 3)
    assert parse(DemoConfig, PRESETS, []) == DemoConfig()


def test_shared_fields_are_on_every_cli():
    cfg = parse(DemoConfig, PRESETS, ["--device", "cpu", "--dtype", "bf16", "--compile",
                                      "--data-root", "/d", "--out", "/o", "--resume",
                                      "--max-steps", "5", "--max-minutes", "1.5"])
    assert (cfg.device, cfg.dtype, cfg.compile, cfg.data_root, cfg.out) == ("cpu", "bf16", True,
                                                                            "/d", "/o")
    assert (cfg.resume, cfg.max_steps, cfg.max_minutes) == (True, 5, 1.5)


def test_help_lists_fields_with_their_docs_and_presets(capsys):
    with pytest.raises(SystemExit) as e:
        parse(DemoConfig, PRESETS, ["--preset", "quick", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--lr" in out and "§9.9" in out and "--max-minutes" in out
    assert "paper, quick" in out


def test_unknown_preset_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        parse(DemoConfig, PRESETS, ["--preset", "nope"])
    assert e.value.code == EXIT_USAGE
    assert "unknown preset 'nope'" in capsys.readouterr().err


def test_bad_value_names_the_field():
    with pytest.raises(ConfigError, match=r"`lr` \(--lr\) = -1.0: must be > 0"):
        DemoConfig(lr=-1.0)
    with pytest.raises(ConfigError, match="--max-steps"):
        DemoConfig(max_steps=0)
    with pytest.raises(ConfigError, match="--device"):
        DemoConfig(device="gpu7")


def test_bad_value_on_the_command_line_exits_2_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as e:
        parse(DemoConfig, PRESETS, ["--lr", "-3"])
    assert e.value.code == EXIT_USAGE
    captured = capsys.readouterr()
    assert "--lr" in captured.out + captured.err


def test_save_and_compare(tmp_path):
    save_config(DemoConfig(lr=0.2), tmp_path / "config.json")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["lr"] == 0.2 and saved["preset"] == "paper"
    assert changed_fields(saved, DemoConfig(lr=0.3, resume=True), ignore=("resume",)) == {
        "lr": (0.2, 0.3)}


@pytest.mark.parametrize("outcome, code", [
    ({"stopped": None}, EXIT_OK), ({"stopped": "max_minutes"}, EXIT_OK),
    ({"stopped": "SIGTERM"}, EXIT_PREEMPTED), ({"stopped": "SIGINT"}, EXIT_PREEMPTED),
    (DataUnavailable("x", ["/a"], how="get it", offline="use y"), EXIT_USAGE),
    (ConfigError("lr", 1, "bad"), EXIT_USAGE), (NonFiniteLoss("nan at step 3"), EXIT_ERROR),
    (CheckpointError("last.pt is corrupted"), EXIT_USAGE),
    (MissingPackage("gymnasium", "rl", "the environments"), EXIT_USAGE),
])
def test_run_maps_outcomes_to_exit_codes(outcome, code, capsys):
    def main(cfg):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert cli(main, DemoConfig, PRESETS, args=[]) == code
    err = capsys.readouterr().err
    if isinstance(outcome, Exception):
        assert err.startswith("error: ") and "Traceback" not in err
    elif outcome["stopped"]:  # a stopped run says how to go on
        assert "--resume" in err


def test_resume_and_overwrite_exclude_each_other():
    with pytest.raises(ConfigError, match="--overwrite"):
        DemoConfig(resume=True, overwrite=True)
