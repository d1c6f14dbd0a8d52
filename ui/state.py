"""Settings shared by pages and kept across a reload, a second tab or a page change.

A shared setting (the dataset, the model, the run group) is read from this session, else from the URL
(``st.query_params``), and written back to both. A page's own widgets keep their values when the user goes
to another page and back (:func:`keep`): Streamlit forgets a widget's state once it is not drawn.
"""

from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

_KEPT = "_kept_widgets"


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
    value = st.selectbox(label, options, options.index(st.session_state[key]), key=key, **kw)
    remember(name, value)
    return value


def keep(name: str, first: Callable[[], dict]) -> None:
    """Give widgets their first value and keep every value after that while the user is on other pages
    (Streamlit forgets the state of a widget that a run does not draw). ``name`` names the set of widgets (a
    page); ``first()`` returns key -> first
    value; it is called only while some of them have no value yet. Call it before drawing the widgets, which
    then take no ``value=`` / ``default=`` / ``index=``."""
    kept = st.session_state.setdefault(_KEPT, {})
    keys = st.session_state.setdefault(f"{_KEPT}-keys", {})
    page = name
    missing = [k for k in keys.get(page, ()) if k not in st.session_state and k not in kept]
    if page not in keys or missing:
        values = first()
        keys[page] = list(values)
        for key, value in values.items():
            if key not in st.session_state and key not in kept:
                kept[key] = value
    for key in keys[page]:
        if key not in st.session_state:
            st.session_state[key] = kept[key]
        kept[key] = st.session_state[key]
