"""The conformance suite: every implemented milestone of ``milestones.REGISTRY``, checked the
same way (tests/conformance.py says what and why). A milestone is checked the moment it is
registered and has a train.py; tests/test_conformance.py shows each check failing on a broken
toy milestone."""

import os
import time

import pytest

import milestones
from tests import conformance as C

SUBJECTS = {s.name: s for s in C.subjects(milestones.REGISTRY)}


@pytest.fixture(scope="module", params=sorted(SUBJECTS))
def subject(request, tmp_path_factory) -> C.Subject:
    s = SUBJECTS[request.param]
    data = tmp_path_factory.mktemp(f"data-{s.name}")  # tokenizer caches and the like
    return C.Subject(s.name, s.module, s.path, {"MILESTONES_DATA": str(data)}, s.negative_ok)


@pytest.fixture(scope="module")
def reference(subject, tmp_path_factory):
    """The uninterrupted smoke run, in this process, with every optimizer step's gradients
    recorded: (run folder, GradientProbe, seconds)."""
    out = tmp_path_factory.mktemp(f"reference-{subject.name}") / "run"
    with pytest.MonkeyPatch.context() as mp, C.GradientProbe() as probe:
        mp.setenv("MILESTONES_DATA", subject.env["MILESTONES_DATA"])
        t0 = time.perf_counter()
        summary = subject.train.main(subject.smoke(out))
    assert summary["stopped"] is None and summary["step"] == summary["steps"]
    return out, probe, time.perf_counter() - t0


def test_presets(subject):
    C.check_presets(subject)


def test_every_field_is_documented(subject):
    C.check_field_docs(subject)


def test_help_lists_every_field(subject):
    C.check_help(subject)


def test_bad_values_are_refused_naming_the_field(subject, tmp_path):
    C.check_bad_values(subject, tmp_path)


def test_every_parameter_gets_a_gradient(subject, reference):
    C.check_gradients(subject, reference[1])


def test_best_checkpoint_is_chosen_on_validation_data(subject, reference):
    C.check_best(subject, reference[0])


def test_deviation_markers_match_the_readme(subject):
    C.check_deviations(subject)


def test_smoke_losses_equal_the_golden_ones(subject, reference):
    C.check_golden(subject, reference[0])


def test_resume_in_a_fresh_process_equals_the_uninterrupted_run(subject, reference, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("MILESTONES_DATA", subject.env["MILESTONES_DATA"])
    C.check_resume(subject, reference[0], tmp_path)


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_equals_the_uninterrupted_run(subject, reference,
                                                                         tmp_path):
    seed = int(os.environ.get("MILESTONES_KILL_SEED", "0"))
    killed_at = C.check_kill_resume(subject, reference[0], tmp_path, kills=2, seed=seed)
    print(f"{subject.name}: killed at metrics.jsonl lines {killed_at} (seed {seed})")
