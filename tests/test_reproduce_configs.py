"""The reproduce entry points: every option documented, so `--help` explains each one."""

import ast
import dataclasses
import importlib
import inspect
import textwrap

import pytest

from tests.conftest import run_cli

REPRODUCE = ["resnet", "adam", "dqn", "transformer", "alexnet", "attention", "gan", "simclr",
             "bert", "gpt"]


def field_docs(cls) -> dict[str, str]:
    """The docstrings under a dataclass's fields, its bases' included, as tyro reads them: a
    field a subclass redefines without a docstring keeps its base's."""
    docs = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for stmt, nxt in zip(body, body[1:], strict=False):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = nxt.value.value.strip()
    return docs


@pytest.mark.parametrize("name", REPRODUCE)
def test_every_option_has_a_docstring(name):
    config = importlib.import_module(f"milestones.{name}.reproduce").Config
    docs = field_docs(config)
    assert [f.name for f in dataclasses.fields(config) if not docs.get(f.name)] == []


def test_help_lists_the_shared_options_with_their_docs():
    res = run_cli("-m", "milestones.resnet.reproduce", "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: python -m milestones.resnet.reproduce" in res.stdout
    for flag, doc in (("--seeds", "mean ± std"), ("--jobs", "own process"),
                      ("--out", "reused, not trained again"), ("--device", "cuda > mps > cpu"),
                      ("--models", "Fig. 6"), ("--val-size", "45k/5k")):
        assert flag in res.stdout and doc in " ".join(res.stdout.split()), flag
