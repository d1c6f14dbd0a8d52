"""Shared fixtures: the real-data folder (skip without it), an isolated cache, a tiny BERT."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """The test session gets its own cache (downloads, parsed corpora) and run store.

    Session-scoped, so module-scoped fixtures see it too; parsed music corpora are cached once per
    test run. Tests that need a private store or cache monkeypatch the variables themselves.
    """
    saved = {k: os.environ.get(k) for k in ("DISC_CACHE_DIR", "DISC_RUNS_DIR")}
    base = tmp_path_factory.getbasetemp()
    os.environ["DISC_CACHE_DIR"] = str(base / "disc_cache")
    os.environ["DISC_RUNS_DIR"] = str(base / "runs")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """``$DISC_DATA_DIR`` (``.ci/run`` points it at ``../shared/data``); skip when unset or missing."""
    d = os.environ.get("DISC_DATA_DIR")
    if not d or not Path(d).is_dir():
        pytest.skip("the paper's real datasets are not available: set DISC_DATA_DIR to a folder laid out "
                    "like ../shared/data (see its MANIFEST.md)")
    return Path(d).resolve()  # absolute: a test that changes directory must not lose it


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """Folder of a tiny random BERT (2 layers, hidden 32) with the real 30,522-token vocabulary."""
    from disc_core.engine.models import create_tiny_bert

    return str(create_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))


class NoWorkers:
    """An executor that starts no worker process: it records which runs were submitted."""

    def __init__(self):
        self.submitted: list[str] = []

    def submit(self, store, run_id, resume=False):
        self.submitted.append(run_id)

    def cancel(self, store, info):
        pass

    def alive(self, info):
        return None


@pytest.fixture
def no_workers(monkeypatch):
    """Launches queue runs in the store but start no worker process (no MiniLM trains in these tests)."""
    from disc_core.runs import runner

    rec = NoWorkers()
    monkeypatch.setattr(runner, "_executor", rec)
    return rec


@pytest.fixture
def forget():
    """Names of user datasets a test imports; removed afterwards whatever happens."""
    from disc_core.data.user import list_user_datasets, remove_user_dataset

    names: list[str] = []
    yield names
    for n in names:
        if n in list_user_datasets():
            remove_user_dataset(n)
