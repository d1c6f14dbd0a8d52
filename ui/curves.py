"""The Runs page's chart controls: smoothing, log y, the x axis and live refresh."""

from __future__ import annotations

import streamlit as st

from disc_core import plots


def curve_controls(refresh_s: float) -> tuple[str, float, bool, str, bool]:
    """``(smoothing, amount, log_y, x, live)`` from one row of widgets."""
    c1, c2, c3, c4, c5 = st.columns([3, 2, 1, 1, 1])
    smoothing = c1.radio("Smoothing", plots.SMOOTHERS, key="runs-smoothing", horizontal=True,
                         help="ema: exponential moving average, each point a weighted mean of all earlier ones (the "
                              "weight says how much the past counts); moving average: the mean of the last steps. "
                              "The raw loss stays faint behind.")
    if smoothing == "ema":
        amount = c2.slider("EMA weight", 0.0, 0.99, 0.6, key="runs-ema",
                           help="0: no smoothing; 0.9: the curve follows the loss slowly")
    elif smoothing == "moving average":
        amount = c2.slider("window (steps)", 2, 100, 10, key="runs-window")
    else:
        amount = 0
    log_y = c3.toggle("log y", key="runs-logy")
    x = c4.radio("x", ("step", "time"), key="runs-x")
    live = c5.toggle("live", value=True, key="runs-live", help=f"refresh every {refresh_s:g} s while runs go on")
    return smoothing, amount, log_y, x, live


def empty_note(runs, view) -> str:
    """What an empty loss chart says: where the group's runs stand."""
    waiting = [view.of(r.id) for r in runs if r.status == "queued"]
    if runs and len(waiting) == len(runs) and waiting[0] is not None:
        return f"nothing trained yet: this group is {waiting[0].describe()}"
    if runs and not any(r.active for r in runs):
        return f"no steps: the runs ended ({', '.join(dict.fromkeys(r.status for r in runs))}) before their first step"
    return "no steps yet: the runs are starting (loading the model and the data)"
