"""Who may change what: everyone on a dashboard served on this machine only; on one served to a room, the
teacher (who typed the teacher secret in the sidebar) alone.

Served beyond localhost (``--server.address 0.0.0.0``), what changes state -- a launch other than the shared
demo, cancelling, resuming, importing, downloading or removing data, reading a model folder or a hub id --
needs the teacher secret: ``$DISC_TEACHER_SECRET`` or ``teacher_secret`` in ``.streamlit/secrets.toml``.
Students watch every page and press the shared demo. Without a configured secret a served dashboard has no
teacher: nothing but the demo changes state there.
"""

from __future__ import annotations

import hmac
import os

import streamlit as st

ENV = "DISC_TEACHER_SECRET"
#: addresses that serve this machine only
LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1"})
#: the help text of a control a student cannot use
STUDENT_NOTE = "the teacher's (type the teacher secret in the sidebar); students watch and press the shared demo"
_KEY = "role-secret"  # the sidebar field's key


def served_locally() -> bool:
    """Whether the server listens on this machine only (the default ``.streamlit/config.toml``)."""
    return (st.get_option("server.address") or "") in LOCAL_ADDRESSES


def configured_secret() -> str | None:
    """The teacher secret: ``$DISC_TEACHER_SECRET``, else ``st.secrets["teacher_secret"]``, else None."""
    secret = os.environ.get(ENV)
    if secret:
        return secret
    try:
        return st.secrets.get("teacher_secret") or None
    except Exception:  # no secrets file: no secret
        return None


def is_teacher() -> bool:
    """May this session change state? Always on a local server; else with the right secret typed in."""
    if served_locally():
        return True
    secret, typed = configured_secret(), st.session_state.get(_KEY) or ""
    return bool(secret) and hmac.compare_digest(typed.encode(), secret.encode())


def role_sidebar() -> None:
    """The sidebar's teacher field and a line saying what this session may do (served dashboards only)."""
    if served_locally():
        return
    if configured_secret() is None:
        st.caption(f"Served to a room without a teacher secret (`{ENV}`): everyone watches and presses the "
                   "shared demo; launching, cancelling and changing data are off.")
        return
    typed = st.text_input("Teacher secret", type="password", key=_KEY,
                          help="launching, cancelling, resuming and changing data need it; students watch and "
                               "press the shared demo")
    if is_teacher():
        st.caption(":material/school: Teacher: you may launch, cancel and change data.")
    else:
        st.caption("Student: you watch every page and press the shared demo." +
                   (" That secret is not the teacher's." if typed else ""))


def teacher_help(help_text: str | None = None) -> str | None:
    """A control's help text, with why it is off for a student."""
    return help_text if is_teacher() else f"{help_text + ' · ' if help_text else ''}Off for students: {STUDENT_NOTE}"
