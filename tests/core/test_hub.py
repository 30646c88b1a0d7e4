"""core.hub: Hugging Face datasets from a saved folder, the Hub or the cache only, with no waiting
on an unreachable Hub, and one DataUnavailable for every failure. Offline: tests/conftest.py sets
HF_HUB_OFFLINE; the tests that clear it point the Hub at a closed local port."""

import sys
import time
from pathlib import Path

import pytest

from milestones.core import hub
from milestones.core.data import DataUnavailable, MissingPackage

datasets = pytest.importorskip("datasets", reason="needs the text extra")

ROWS = {"train": {"text": ["good", "bad", "fine"], "label": [1, 0, 1]},
        "test": {"text": ["awful", "great"], "label": [0, 1]}}


def cache_dataset(cache_dir: Path, repo: str, config: str | None, rows: dict) -> Path:
    """Put ``rows`` ({split: {column: values}}) where ``datasets.load_dataset(repo, config,
    cache_dir=cache_dir)`` finds a Hub download: a builder named after the repository writes
    <namespace>___<name>/<config>/0.0.0/<commit>/ (Arrow files and dataset_info.json), as the
    download does. Returns that folder."""
    import pyarrow as pa

    class Download(datasets.ArrowBasedBuilder):
        BUILDER_CONFIGS = [datasets.BuilderConfig(name=config or "default")]

        def _info(self):
            return datasets.DatasetInfo()

        def _split_generators(self, dl_manager):
            return [datasets.SplitGenerator(name=split, gen_kwargs={"columns": columns})
                    for split, columns in rows.items()]

        def _generate_tables(self, columns):
            yield 0, pa.table(columns)

    builder = Download(cache_dir=str(cache_dir), dataset_name=repo.split("/")[-1], repo_id=repo,
                       config_name=config or "default", hash="0" * 40)  # hash: the Hub commit
    builder.download_and_prepare()
    return Path(builder.cache_dir)


def load(tmp_path, **kw):
    args = {"cache_dir": tmp_path / "hf", "saved": tmp_path / "imdb", "what": "imdb",
            "offline": "--dataset reviews", "splits": ("train", "test")}
    return hub.load_hf_dataset("imdb", **{**args, **kw})


@pytest.fixture
def no_offline_variables(monkeypatch):
    """The HF_*_OFFLINE variables and flags cleared, no proxy, and the Hub at a closed port: the
    reachability probe fails at once, and any request that got through would fail too."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy",
                "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    for module, name in hub._OFFLINE_FLAGS:
        if hasattr(sys.modules[module], name):
            monkeypatch.setattr(sys.modules[module], name, False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", "http://127.0.0.1:9")


def test_nothing_cached_is_one_clear_error_at_once(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataUnavailable) as err:
        load(tmp_path)
    assert time.perf_counter() - start < 5  # no retries against the Hub
    message = str(err.value)
    assert "'imdb'" in message and "offline, as HF_HUB_OFFLINE" in message
    assert str(tmp_path / "hf") in message and str(tmp_path / "imdb") in message  # looked there
    assert "datasets.load_dataset('imdb', cache_dir=" in message and "save_to_disk" in message
    assert "--dataset reviews" in message
    assert err.value.tried == [str(tmp_path / "imdb"), str(tmp_path / "hf")]


def test_an_unreachable_hub_means_the_cache_only(tmp_path, no_offline_variables):
    start = time.perf_counter()
    assert not hub.hub_reachable()
    with pytest.raises(DataUnavailable, match="127.0.0.1 is unreachable: the cache only"):
        load(tmp_path)
    assert time.perf_counter() - start < 5


def test_a_cached_dataset_loads_without_the_network(tmp_path, monkeypatch, no_offline_variables):
    folder = cache_dataset(tmp_path / "hf", "imdb", None, ROWS)
    real, modes = datasets.load_dataset, []

    def spy(*args, **kwargs):  # the offline flags while load_dataset runs
        from huggingface_hub import constants

        modes.append((datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", spy)
    dsets = load(tmp_path)
    assert dsets["train"]["text"] == ["good", "bad", "fine"] and dsets["test"]["label"] == [0, 1]
    assert hub.location(dsets) == str(folder)
    assert modes == [(True, True)]  # switched to offline mode for the call ...
    assert not datasets.config.HF_HUB_OFFLINE  # ... and back after it
    with pytest.raises(DataUnavailable, match="has the splits train, test, not validation"):
        load(tmp_path, splits=("train", "validation"))


def test_a_saved_copy_comes_first(tmp_path):
    """What a user with a copy from another machine does: DatasetDict.save_to_disk there, copy
    the folder to the ``saved`` place here."""
    datasets.DatasetDict({s: datasets.Dataset.from_dict(c) for s, c in ROWS.items()}).save_to_disk(
        str(tmp_path / "imdb"))
    dsets = load(tmp_path)
    assert dsets["test"]["text"] == ["awful", "great"]
    assert hub.location(dsets) == str(tmp_path / "imdb")
    datasets.Dataset.from_dict(ROWS["train"]).save_to_disk(str(tmp_path / "one"))
    with pytest.raises(DataUnavailable, match="read from .*one; a Dataset, not a DatasetDict"):
        load(tmp_path, saved=tmp_path / "one")
    (tmp_path / "junk").mkdir()
    with pytest.raises(DataUnavailable, match="read from .*junk; FileNotFoundError"):
        load(tmp_path, saved=tmp_path / "junk")


def test_without_the_datasets_package_the_extra_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(MissingPackage, match=r"imdb .*`datasets`.*milestones\[text\]"):
        load(tmp_path)
