"""Shared fixtures: the real-data folder (skip without it), an isolated cache, a tiny BERT."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own cache (downloads, parsed corpora) and run store.

    The music21 corpus parse is cached in a session-wide folder so it happens once per test run.
    """
    base = tmp_path_factory.getbasetemp() / "disc_cache"
    base.mkdir(exist_ok=True)
    monkeypatch.setenv("DISC_CACHE_DIR", str(base))
    monkeypatch.setenv("DISC_RUNS_DIR", str(tmp_path_factory.getbasetemp() / "runs"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """``$DISC_DATA_DIR`` (``.ci/run`` points it at ``../shared/data``); skip when unset or missing."""
    d = os.environ.get("DISC_DATA_DIR")
    if not d or not Path(d).is_dir():
        pytest.skip("the paper's real datasets are not available: set DISC_DATA_DIR to a folder laid out "
                    "like ../shared/data (see its MANIFEST.md)")
    return Path(d)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """Folder of a tiny random BERT (2 layers, hidden 32) with the real 30,522-token vocabulary."""
    from disc_core.models import create_tiny_bert

    return str(create_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))
