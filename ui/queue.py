"""The panel of everything that runs or waits on this machine (Runs, Train)."""

from __future__ import annotations

import streamlit as st


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
            "group": (e.run.group or "") + ("  ← this group" if current_group and e.run.group == current_group
                                            else ""),
            "run": f"{e.label} seed {e.run.seed}", "status": e.run.shown_status,
            "runs ahead": str(e.ahead) if e.status == "queued" else "",
            "starts": "running" if e.status == "running" else about(e.starts_in_s),
            "ends": about(e.ends_in_s)} for e in view.entries]), hide_index=True, key=key)
        slots = "one run at a time" if view.slots == 1 else f"{view.slots} runs at a time"
        st.caption(f"This machine trains {slots} (`DISC_MAX_CONCURRENT` to change); a run launched now starts in "
                   f"{about(view.free_in_s)}. Speeds behind the estimates: "
                   + "; ".join(s.describe() for s in view.speeds.values()) + ".")
