"""Datasets, tokenizers, the device and the run store, cached for every session of this server."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from .state import shared_selectbox


def dataset_infos(origin: str | None = None) -> dict:
    """Registered datasets (user datasets saved by other processes included), by name."""
    from disc_core.data import DATASETS, ensure_registered
    from disc_core.data.user import register_saved_user_datasets

    ensure_registered()
    register_saved_user_datasets()
    return {n: i for n, i in DATASETS.items() if origin is None or i.origin == origin}


def dataset_label(name: str) -> str:
    info = dataset_infos().get(name)
    if info is None:
        return name
    ok, _ = info.available()
    return f"{name} — {info.title}" + ("" if ok else "  (not available)")


def dataset_picker(key: str) -> str | None:
    """The shared "Dataset" selectbox over the datasets whose data is here (demo dataset by default)."""
    from disc_core.study.demo import DEMO_DATASET

    available = sorted(n for n, i in dataset_infos().items() if i.available()[0])
    return shared_selectbox("Dataset", available, "dataset", key=key, default=DEMO_DATASET,
                            format_func=dataset_label)


@st.cache_resource(show_spinner=False)
def _dataset_cache() -> dict:
    return {"lock": threading.Lock(), "items": {}}


def _version(name: str) -> float:
    info = dataset_infos().get(name)
    where = info.locate() if info is not None else None
    p = getattr(info, "json_path", None) or where
    return p.stat().st_mtime if p is not None and Path(p).exists() else 0.0


def get_dataset(name: str, max_items: int = 8):
    """``load_dataset(name)``, loaded once per server. A load shows its progress bar from its first moment
    (the loader's ``progress=`` callback moves it); a tab waiting for another tab's load of the same data
    says so."""
    from disc_core.data import load_dataset

    cache = _dataset_cache()
    key = (name, _version(name))
    if key in cache["items"]:
        return cache["items"][key]
    bar = st.progress(0.0, text=f"Loading {name} ...")
    try:
        if not cache["lock"].acquire(blocking=False):
            bar.progress(0.0, text=f"Loading {name}: another tab is loading data on this server, waiting for it ...")
            cache["lock"].acquire()
        try:
            if key not in cache["items"]:
                def tick(done: int, total: int) -> None:
                    bar.progress(min(done / max(total, 1), 1.0), text=f"Loading {name}: {done:,} of {total:,}")

                ds = load_dataset(name, progress=tick)
                items = cache["items"]
                while len(items) >= max_items:
                    items.pop(next(iter(items)))
                items[key] = ds
            return cache["items"][key]
        finally:
            cache["lock"].release()
    finally:
        bar.empty()


@st.cache_resource(show_spinner="Loading the tokenizer ...")
def get_tokenizer(ref: str):
    from disc_core.engine.models import load_tokenizer

    return load_tokenizer(ref or None)


@st.cache_resource(show_spinner=False)
def device_summary() -> tuple[str, list[str]]:
    """(what ``auto`` picks, the device choices) -- imports torch once per server."""
    import torch

    from disc_core.engine.training import pick_device

    auto = str(pick_device("auto"))
    choices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
        ["mps"] if auto == "mps" else [])
    name = torch.cuda.get_device_name(0) if auto == "cuda" else auto
    return name, choices


def run_store():
    """The run store (``$DISC_RUNS_DIR`` or the per-user default); cheap, so made per call."""
    from disc_core.runs.store import RunStore

    return RunStore()
