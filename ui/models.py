"""The model picker: the bundled MiniLM, a local folder or a hub id (a teacher's choice when served)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from .roles import STUDENT_NOTE, is_teacher
from .state import remember, remembered

MODEL_SOURCES = ("bundled", "local folder", "hub id")


def model_picker(prefix: str) -> str:
    """Radio + text field; returns the model reference (``all-MiniLM-L6-v2``, a folder or a hub id).

    A student (a served dashboard without the teacher secret) gets the bundled model only: a folder or a hub
    id reads (or downloads) files on the server."""
    from disc_core.engine.models import DEFAULT_MODEL, KNOWN_MODELS

    src_key, ref_key = f"{prefix}-model-source", f"{prefix}-model-ref"
    teacher = is_teacher()
    if src_key not in st.session_state:
        cur = remembered("model", DEFAULT_MODEL) if teacher else DEFAULT_MODEL
        st.session_state[src_key] = ("bundled" if cur == DEFAULT_MODEL else
                                     "local folder" if Path(cur).expanduser().is_absolute() or cur.startswith(".")
                                     else "hub id")
        st.session_state[ref_key] = "" if cur == DEFAULT_MODEL else cur
    if not teacher:
        st.session_state[src_key] = "bundled"
    # the kept choice is also the widget's own first value: a quick click during a slow first run keeps it
    src = st.radio("Model", MODEL_SOURCES, MODEL_SOURCES.index(st.session_state[src_key]), key=src_key,
                   horizontal=True, disabled=not teacher,
                   help=None if teacher else f"Model folders and hub ids: {STUDENT_NOTE}")
    if src == "bundled":
        st.caption(KNOWN_MODELS[DEFAULT_MODEL])
        ref = DEFAULT_MODEL
    elif src == "local folder":
        ref = st.text_input("Model folder (written by save_pretrained; safetensors weights)",
                            st.session_state.get(ref_key, ""), key=ref_key,
                            placeholder="/path/to/model").strip()
    else:
        ref = st.text_input("Hugging Face hub id (needs the network or the local hub cache)",
                            st.session_state.get(ref_key, ""), key=ref_key,
                            placeholder="bert-base-uncased").strip()
    ref = ref or DEFAULT_MODEL
    remember("model", ref)
    return ref
