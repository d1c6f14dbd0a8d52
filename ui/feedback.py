"""Errors, progress and durations, as every page shows them."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from disc_core.errors import DiscError


def show_error(err: BaseException, replace: dict[str, str] | None = None) -> None:
    """An error box with the library's message (never a traceback); ``replace`` rewrites paths in it."""
    msg = str(err)
    for old, new in (replace or {}).items():
        msg = msg.replace(old, new)
    if not isinstance(err, DiscError):
        msg = f"{type(err).__name__}: {msg}"
    st.error(msg, icon=":material/error:")


def store_notes(store, within_s: float = 24 * 3600) -> None:
    """What happened to the run store, as warnings: a store set aside and rebuilt from the run folders in the
    last ``within_s`` (whichever page, command or worker found it damaged), a store that is read-only now (a
    full disk), and the run folders it skipped: the notes ``runs list`` prints on stderr."""
    from disc_core.runs.index import set_asides

    for aside in set_asides(store.root, within_s=within_s):
        st.warning(str(aside), icon=":material/build:")
    for text in store.notices:
        if "set aside" not in text:  # said above, with where the old store is kept
            st.warning(text, icon=":material/build:")
    for p in store.problems:
        st.warning(f"Skipped a run folder that cannot be read: {p}", icon=":material/folder_off:")


def with_progress(text: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar, drawn at once, and its ``progress(done, total)`` callback; call the second to remove it."""
    bar = st.progress(0.0, text=text)

    def tick(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{text} {done / max(total, 1):.0%}")

    return tick, bar.empty


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def plural(n: int, word: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
