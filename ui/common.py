"""What every page needs: shared reload-proof selections, cached datasets and tokenizers, the model
picker, error boxes, token chips and safe uploads.

State that must survive a reload or a second tab lives in the URL (``st.query_params``) or in the run
store, never only in ``st.session_state``: a shared setting (the dataset, the model, the run group) is
read from this session, else from the URL, and written back to both.
"""

from __future__ import annotations

import html
import re
import runpy
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Sequence

import streamlit as st

from disc_core.errors import DiscError

PAGES = {"overview": "pages/overview.py", "datasets": "pages/datasets.py", "mapping": "pages/mapping.py",
         "train": "pages/train.py", "runs": "pages/runs.py", "results": "pages/results.py",
         "reproduction": "pages/reproduction.py", "inspect": "pages/inspect.py"}


# --------------------------------------------------------------------------------------------
# Every page runs inside app.py
# --------------------------------------------------------------------------------------------

def require_app() -> None:
    """Make sure this page runs inside ``app.py``'s navigation; call it first thing in every page.

    Streamlit treats a ``pages/`` folder beside the entry script as a legacy multipage app until the
    server's first ``st.navigation`` call (and ``AppTest`` on every run). In that mode a request for a
    page URL -- a fresh server's first request for ``/runs?group=...``, a reload after a restart --
    runs ``pages/runs.py`` alone, without ``app.py``: no layout, a sidebar of file names. Here the page
    switches that mode off and runs ``app.py`` in its place, within the same script run (so a click
    that triggered the run is not lost); ``app.py``'s navigation then opens this same page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - a Streamlit without the legacy mode
        return
    ctx = get_script_run_ctx()
    if ctx is None or not getattr(PagesManager, "uses_pages_directory", False):
        return
    PagesManager.uses_pages_directory = False
    runpy.run_path(ctx.main_script_path, run_name="__main__")
    st.stop()  # the page already ran inside app.py


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

def show_error(err: BaseException, replace: dict[str, str] | None = None) -> None:
    """An error box with the library's message (never a traceback); ``replace`` rewrites paths in it."""
    msg = str(err)
    for old, new in (replace or {}).items():
        msg = msg.replace(old, new)
    if not isinstance(err, DiscError):
        msg = f"{type(err).__name__}: {msg}"
    st.error(msg, icon=":material/error:")


# --------------------------------------------------------------------------------------------
# Shared selections (session first, then the URL)
# --------------------------------------------------------------------------------------------

def remembered(name: str, default: str | None = None) -> str | None:
    """This session's value of shared setting ``name``, else the URL's ``?name=``, else ``default``."""
    return st.session_state.get(f"_shared_{name}") or st.query_params.get(name) or default


def remember(name: str, value: str | None) -> None:
    """Store a shared setting in this session and in the URL (so a reload or a shared link keeps it)."""
    st.session_state[f"_shared_{name}"] = value
    if value:
        st.query_params[name] = value
    elif name in st.query_params:
        del st.query_params[name]


def shared_selectbox(label: str, options: Sequence[str], name: str, key: str, default: str | None = None,
                     **kw) -> str | None:
    """A selectbox whose choice is shared by every page that shows setting ``name`` and kept in the URL.

    Its first value: this session's or the URL's choice, else ``default``, else the first option.
    """
    options = list(options)
    if not options:
        return None
    if st.session_state.get(key) not in options:
        cur = remembered(name)
        st.session_state[key] = cur if cur in options else default if default in options else options[0]
    value = st.selectbox(label, options, key=key, **kw)
    remember(name, value)
    return value


# --------------------------------------------------------------------------------------------
# Datasets and tokenizers (cached for every session of this server)
# --------------------------------------------------------------------------------------------

def dataset_infos(origin: str | None = None) -> dict:
    """Registered datasets (user datasets saved by other processes included), by name."""
    from disc_core.data import DATASETS, ensure_registered

    ensure_registered()
    try:
        from disc_core.data.user import register_saved_user_datasets

        register_saved_user_datasets()
    except ImportError:  # pragma: no cover - the user module is optional
        pass
    return {n: i for n, i in DATASETS.items() if origin is None or i.origin == origin}


def dataset_label(name: str) -> str:
    info = dataset_infos().get(name)
    if info is None:
        return name
    ok, _ = info.available()
    mark = "" if ok else "  (not available)"
    return f"{name} — {info.title}{mark}"


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
    json_path = getattr(info, "json_path", None)
    p = json_path or where
    return p.stat().st_mtime if p is not None and Path(p).exists() else 0.0


def get_dataset(name: str, max_items: int = 8):
    """``load_dataset(name)``, loaded once per server, with a progress bar while a slow load runs."""
    from disc_core.data import load_dataset

    cache = _dataset_cache()
    key = (name, _version(name))
    with cache["lock"]:
        if key not in cache["items"]:
            bar = st.progress(0.0, text=f"Loading {name} ...")

            def tick(done: int, total: int) -> None:
                bar.progress(min(done / max(total, 1), 1.0), text=f"Loading {name}: {done:,} of {total:,}")

            try:
                ds = load_dataset(name, progress=tick)
            finally:
                bar.empty()
            items = cache["items"]
            while len(items) >= max_items:
                items.pop(next(iter(items)))
            items[key] = ds
        return cache["items"][key]


@st.cache_resource(show_spinner="Loading the tokenizer ...")
def get_tokenizer(ref: str):
    from disc_core.engine.models import load_tokenizer

    return load_tokenizer(ref or None)


@st.cache_resource(show_spinner=False)
def device_summary() -> tuple[str, list[str]]:
    """(what ``auto`` picks, the device choices) -- imports torch once per server."""
    from disc_core.engine.training import pick_device

    import torch

    auto = str(pick_device("auto"))
    choices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
        ["mps"] if auto == "mps" else [])
    name = torch.cuda.get_device_name(0) if auto == "cuda" else auto
    return name, choices


# --------------------------------------------------------------------------------------------
# The model picker (bundled / local folder / hub id)
# --------------------------------------------------------------------------------------------

MODEL_SOURCES = ("bundled", "local folder", "hub id")


def model_picker(prefix: str) -> str:
    """Radio + text field; returns the model reference (``all-MiniLM-L6-v2``, a folder or a hub id)."""
    from disc_core.engine.models import DEFAULT_MODEL, KNOWN_MODELS

    src_key, ref_key = f"{prefix}-model-source", f"{prefix}-model-ref"
    if src_key not in st.session_state:
        cur = remembered("model", DEFAULT_MODEL)
        st.session_state[src_key] = ("bundled" if cur == DEFAULT_MODEL else
                                     "local folder" if Path(cur).expanduser().is_absolute() or cur.startswith(".")
                                     else "hub id")
        st.session_state[ref_key] = "" if cur == DEFAULT_MODEL else cur
    src = st.radio("Model", MODEL_SOURCES, key=src_key, horizontal=True)
    if src == "bundled":
        st.caption(KNOWN_MODELS[DEFAULT_MODEL])
        ref = DEFAULT_MODEL
    elif src == "local folder":
        ref = st.text_input("Model folder (written by save_pretrained; safetensors weights)", key=ref_key,
                            placeholder="/path/to/model").strip()
    else:
        ref = st.text_input("Hugging Face hub id (needs the network or the local hub cache)", key=ref_key,
                            placeholder="bert-base-uncased").strip()
    ref = ref or DEFAULT_MODEL
    remember("model", ref)
    return ref


# --------------------------------------------------------------------------------------------
# Token chips
# --------------------------------------------------------------------------------------------

CHIP_COLORS = ("#cfe2f3", "#f4cccc", "#d9ead3", "#fff2cc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc",
               "#c9daf8", "#e6b8af", "#b6d7a8", "#ffe599")


def chip_color(key: str) -> str:
    """A stable pastel colour for a symbol or token on its own (two keys may share one: use
    :func:`chip_colors` for the keys in view)."""
    return CHIP_COLORS[sum(ord(c) * (k + 1) for k, c in enumerate(str(key))) % len(CHIP_COLORS)]


def chip_colors(keys: Sequence) -> dict[str, str]:
    """One colour per distinct key, no two alike: the palette for up to 12 keys, else evenly spaced hues.

    Keys are ordered by their text, so the same set of keys always gets the same colours (a symbol keeps its
    colour from one sample to the next when the colours are made for the whole alphabet).
    """
    distinct = sorted({str(k) for k in keys})
    if len(distinct) <= len(CHIP_COLORS):
        return {k: CHIP_COLORS[i] for i, k in enumerate(distinct)}
    return {k: f"hsl({round(i * 360 / len(distinct))}, 70%, {82 if i % 2 else 88}%)" for i, k in enumerate(distinct)}


def chips(items: Sequence[str], keys: Sequence[str] | None = None, limit: int = 80,
          colors: dict[str, str] | None = None) -> None:
    """Draw ``items`` as coloured chips; ``keys`` pick the colours (default: the items themselves).

    ``colors`` (from :func:`chip_colors`) maps keys to colours; pass the same map to the chips of a symbol
    sequence and of its tokens (keyed by the symbols) so that a symbol and its token share a colour. Without
    it, the keys in view get distinct colours.
    """
    keys = [str(k) for k in (keys if keys is not None else items)]
    colors = colors or chip_colors(keys[:limit])
    spans = "".join(
        f'<span style="background:{colors.get(k) or chip_color(k)};border-radius:4px;padding:1px 5px;margin:1px;'
        f'font-family:monospace;font-size:0.85em;display:inline-block" title="{html.escape(k)}">'
        f'{html.escape(str(t))}</span>'
        for t, k in zip(list(items)[:limit], keys[:limit]))
    more = f" <span style='color:#888'>… +{len(items) - limit} more</span>" if len(items) > limit else ""
    st.markdown(f'<div style="line-height:1.9">{spans}{more}</div>', unsafe_allow_html=True)


# --------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------

UPLOAD_TYPES = ("fa", "fasta", "faa", "fna", "fas", "ffn", "csv", "tsv", "tab", "zip")


def upload_name(name: str) -> str:
    """An uploaded file's own name reduced to a safe file name: its last path part, letters, digits, ``. - _``
    (others become ``_``), at most 80 characters, and a suffix of :data:`UPLOAD_TYPES` (else ``.txt``)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".") or "upload"
    stem, dot, suffix = base.rpartition(".")
    if not dot or suffix.lower() not in UPLOAD_TYPES:
        stem, suffix = base, "txt"
    return f"{stem[:75] or 'upload'}.{suffix.lower()}"


def save_upload(uploaded) -> Path:
    """Write an uploaded file into a fresh private temporary folder and return its path.

    The file keeps its own name made safe by :func:`upload_name` (no folders, no odd characters, a known
    suffix: the loaders pick the format from it), so the loaders' messages and notes name the user's file.
    Remove it with :func:`discard_upload`.
    """
    folder = Path(tempfile.mkdtemp(prefix="disc-upload-"))
    path = folder / upload_name(uploaded.name)
    path.write_bytes(uploaded.getvalue())
    return path


def discard_upload(path: Path | None) -> None:
    """Delete a file written by :func:`save_upload`, and its folder."""
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------------------------

def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def run_store():
    """The run store (``$DISC_RUNS_DIR`` or the per-user default); cheap, so made per call."""
    from disc_core.runs.store import RunStore

    return RunStore()


def with_progress(text: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar and its ``progress(done, total)`` callback; call the second function to remove it."""
    bar = st.progress(0.0, text=text)

    def tick(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{text} {done / max(total, 1):.0%}")

    return tick, bar.empty


# --------------------------------------------------------------------------------------------
# The queue on this machine (Runs, Train, Overview)
# --------------------------------------------------------------------------------------------

def queue_panel(view, key: str, current_group: str | None = None) -> None:
    """An expander with every run that runs or waits on this machine (a :class:`disc_core.runs.queue.QueueView`),
    in the order they are served, with runs ahead, estimated start and end, and the speeds behind them."""
    import pandas as pd

    from disc_core.runs.queue import about

    n_run, n_wait = len(view.running), len(view.queued)
    title = (f"On this machine: {n_run} running, {n_wait} queued" if view.entries else
             "On this machine: nothing running or queued")
    with st.expander(title, expanded=bool(n_wait)):
        if not view.entries:
            st.caption("A run launched now starts at once.")
            return
        st.dataframe(pd.DataFrame([{
            "group": (e.run.group or "") + ("  ← this group" if current_group and e.run.group == current_group else ""),
            "run": f"{e.label} seed {e.run.seed}", "status": e.status,
            "runs ahead": str(e.ahead) if e.status == "queued" else "",
            "starts": "running" if e.status == "running" else about(e.starts_in_s),
            "ends": about(e.ends_in_s)} for e in view.entries]), hide_index=True, key=key)
        slots = "one run at a time" if view.slots == 1 else f"{view.slots} runs at a time"
        st.caption(f"This machine trains {slots} (`DISC_MAX_CONCURRENT` to change); a run launched now starts in "
                   f"{about(view.free_in_s)}. Speeds behind the estimates: "
                   + "; ".join(s.describe() for s in view.speeds.values()) + ".")
