"""The mutation check's mutants still name real lines and real tests (the check itself,
``python tests/mutants.py``, takes minutes and is not in the default run)."""

import pytest

from tests.mutants import MUTANTS, REPO


@pytest.mark.parametrize("name", MUTANTS)
def test_every_mutant_changes_one_line_that_exists_and_names_existing_tests(name):
    path, original, mutated, tests = MUTANTS[name]
    assert (REPO / path).read_text().count(original) == 1 and mutated != original
    for test in tests:
        file, function = test.split("::")
        assert f"def {function}(" in (REPO / file).read_text()
