"""Hugging Face Hub datasets without waiting on the network: one function every milestone loads
them with (WMT14, Multi30k, IWSLT2017, IMDB, ...).

    dsets = load_hf_dataset("wmt/wmt14", "de-en", cache_dir=None, saved=root / "wmt14" / "de-en",
                            what="wmt14 en-de", offline="--dataset synthetic (built in)")

Where a dataset comes from, in this order:

1. ``saved``: a folder written by ``DatasetDict.save_to_disk``, e.g. a copy downloaded on another
   machine (``datasets.load_dataset(...).save_to_disk(folder)``, then copy the folder over).
2. The Hub, when it answers: ``datasets.load_dataset`` downloads once into ``cache_dir`` (None:
   the ``datasets`` default, ``~/.cache/huggingface/datasets``), and reuses the copy after that.
3. Only the cache, in offline mode, when ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` is set or
   one quick look for the Hub (a TCP connection, :func:`hub_reachable`) fails. Left to itself,
   ``datasets`` retries an unreachable Hub for ~23 s before it looks in its cache.

A machine without network therefore reads a cache folder copied from one with network (the whole
``cache_dir``) or a ``saved`` folder. Every failure is one :class:`DataUnavailable` naming the
dataset, the folders looked in, how to get it and the offline alternative; a missing ``datasets``
package is :class:`MissingPackage` (the ``text`` extra).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from milestones.core.data import DataUnavailable, need

_TRUE = {"1", "ON", "YES", "TRUE"}  # what datasets and huggingface_hub read as "set"


def load_hf_dataset(repo: str, config: str | None = None, *, cache_dir: str | Path | None,
                    what: str, offline: str, saved: str | Path | None = None, note: str = "",
                    splits: tuple[str, ...] = (), also: str = "", looked: tuple[Path, ...] = ()):
    """``datasets.load_dataset(repo, config, cache_dir=cache_dir)``, a ``DatasetDict``, taken
    from ``saved``, the Hub or the cache only (see the module docstring), never waiting on an
    unreachable Hub. ``what`` names the dataset in messages, ``offline`` is the built-in
    alternative, ``note`` adds to the instructions for getting it (e.g. its size), and
    ``splits`` are the splits the caller reads; ``also`` is another way to get it and
    ``looked`` the places the caller looked in before (both for the message). Raises
    :class:`DataUnavailable` (whatever went wrong) or :class:`MissingPackage` (no
    ``datasets``)."""
    datasets = need("datasets", "text", f"{what} (Hugging Face datasets)")
    cache = Path(cache_dir) if cache_dir else Path(datasets.config.HF_DATASETS_CACHE)
    saved = Path(saved) if saved else None
    args = ", ".join(repr(a) for a in (repo, config) if a)
    if cache_dir:
        args += f", cache_dir={str(cache)!r}"
    how = ("run once with network access, and the dataset stays cached"
           + (f" ({note})" if note else "")
           + f": python -c \"import datasets; datasets.load_dataset({args})\"")
    if saved is not None:
        how += f"; or put a copy written by DatasetDict.save_to_disk in {saved}"
    if also:
        how += f"; or {also}"
    tried = [*looked] + ([saved] if saved is not None else []) + [cache]

    from_disk = saved is not None and saved.is_dir()
    if from_disk:
        way = f"read from {saved}"
    elif _offline_requested():
        way = "offline, as HF_HUB_OFFLINE or HF_DATASETS_OFFLINE asks: the cache only"
    elif not hub_reachable():
        way = f"offline, {_hub_address()[0]} is unreachable: the cache only"
    else:
        way = "online"
    try:
        if from_disk:
            dsets = datasets.load_from_disk(str(saved))
        else:
            with contextlib.nullcontext() if way == "online" else _offline_mode():
                dsets = datasets.load_dataset(repo, config, cache_dir=str(cache))
    except Exception as e:  # not cached, Hub unreachable, no such config, a damaged copy, ...
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise DataUnavailable(what, tried, how, offline,
                              f"{way}; {type(e).__name__}: {first_line}") from None
    if not isinstance(dsets, datasets.DatasetDict):
        raise DataUnavailable(what, tried, how, offline, f"{way}; a {type(dsets).__name__}, "
                              "not a DatasetDict of splits")
    missing = [s for s in splits if s not in dsets]
    if missing:
        raise DataUnavailable(what, tried, how, offline, f"{way}; it has the splits "
                              f"{', '.join(dsets)}, not {', '.join(missing)}")
    return dsets


def location(dsets) -> str:
    """Where a loaded ``DatasetDict`` lives: the folder holding its Arrow files."""
    folders = [str(Path(f["filename"]).parent) for split in dsets.values()
               for f in split.cache_files]
    return os.path.commonpath(folders) if folders else "memory"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub (``HF_ENDPOINT``, default huggingface.co:443), or to
    the HTTPS proxy in between, opens within ``timeout`` seconds, name lookup included."""
    host, port = _hub_address()
    opened: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            opened.append(True)
        except OSError:
            pass

    # a thread, so that a hanging name lookup (not covered by the socket's timeout) cannot stall
    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(opened)


def _hub_address() -> tuple[str, int]:
    """(host, port) a request to the Hub connects to: the endpoint's, or its proxy's."""
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


def _offline_requested() -> bool:
    """HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE, TRANSFORMERS_OFFLINE) set now, or when the
    libraries were imported."""
    return any(getattr(importlib.import_module(module), flag, False)
               for module, flag in _OFFLINE_FLAGS) or any(
        os.environ.get(v, "").upper() in _TRUE
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


# Offline mode at run time. Both libraries read the HF_*_OFFLINE variables once, at import, into
# module constants (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE), and
# read those constants on every call (datasets' _raise_if_offline_mode_is_enabled, the Hub
# client's request hook). Setting the variables in os.environ works only before the first import
# (not after transformers, a test or an earlier call imported them) and would leak into the rest
# of the process; load_dataset's DownloadConfig(local_files_only=True) is not consulted when it
# resolves a Hub dataset (datasets 5.2). So the constants themselves are set for the one call and
# restored after it; datasets 2.x names its flag HF_DATASETS_OFFLINE, which is set too.
_OFFLINE_FLAGS = (("datasets.config", "HF_HUB_OFFLINE"), ("datasets.config", "HF_DATASETS_OFFLINE"),
                  ("huggingface_hub.constants", "HF_HUB_OFFLINE"))


@contextlib.contextmanager
def _offline_mode():
    flags = [(importlib.import_module(m), name) for m, name in _OFFLINE_FLAGS]
    before = [(module, name, getattr(module, name)) for module, name in flags
              if hasattr(module, name)]
    try:
        for module, name, _ in before:
            setattr(module, name, True)
        yield
    finally:
        for module, name, value in before:
            setattr(module, name, value)
