"""Runs: live loss and validation curves of a run group, status, progress, ETA and cancel per run."""

from pathlib import Path

import streamlit as st

from disc_core import plots
from disc_core.runs.store import ACTIVE, effective_events
from ui.common import (PAGES, dataset_infos, fmt_duration, remembered, require_app, run_store, shared_selectbox,
                       show_error)

require_app()

REFRESH_S = 2.0

st.title("Runs")
try:
    store = run_store()
    groups = store.groups()  # newest first
except Exception as err:
    show_error(err)
    st.stop()
if not groups:
    st.info("No runs yet. Start the demo on the Overview page, or launch a comparison on the Train page.")
    st.page_link(PAGES["train"], label="Go to Train", icon=":material/play_circle:")
    st.stop()

wanted = remembered("group")
if wanted and wanted not in groups:
    st.warning(f"There is no run group {wanted!r} in this run store; showing the latest instead.")
group = shared_selectbox("Run group", groups, "group", key="runs-group")

c1, c2, c3, c4, c5 = st.columns([3, 2, 1, 1, 1])
smoothing = c1.radio("Smoothing", plots.SMOOTHERS, key="runs-smoothing", horizontal=True)
if smoothing == "ema":
    amount = c2.slider("EMA weight", 0.0, 0.99, 0.6, key="runs-ema")
elif smoothing == "moving average":
    amount = c2.slider("window (steps)", 2, 100, 10, key="runs-window")
else:
    amount = 0
log_y = c3.toggle("log y", key="runs-logy")
x = c4.radio("x", ("step", "time"), key="runs-x")
live = c5.toggle("live", value=True, key="runs-live", help=f"refresh every {REFRESH_S:g} s while runs go on")


def _status_line(r) -> str:
    prog = f"{r.step or 0}/{r.total_steps}" if r.total_steps else f"{r.step or 0}"
    loss = f" · loss {r.last_loss:.4f}" if r.last_loss is not None else ""
    eta = f" · ETA {fmt_duration(r.eta_s)}" if r.status == "running" and r.eta_s is not None else ""
    score = (f" · test {r.results['metric']} {r.results['score']:.4f}"
             if r.status == "finished" and r.results else "")
    note = f" · _{r.note}_" if r.note else ""
    return f"**{r.label}** seed {r.seed} — {r.status} · step {prog}{loss}{eta}{score}{note}"


def events(run_id: str) -> list[dict]:
    """The run's events, read incrementally: only those newer than what this session has seen."""
    seen = st.session_state.setdefault("runs-events", {}).setdefault(run_id, [])
    seen += store.events(run_id, since=seen[-1]["seq"] if seen else 0)
    return effective_events(seen)


def draw(group: str) -> None:
    runs = sorted(store.list(group=group), key=lambda r: (plots.variant_order(r.label), r.seed))
    series = [plots.series_from_events(f"{r.label} s{r.seed}", r.label, events(r.id)) for r in runs]
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.loss_figure(series, smoothing, amount, log_y, x), key="runs-loss")
    info = dataset_infos().get(runs[0].dataset) if runs else None  # its paper metric comes first
    metrics = list(dict.fromkeys(([info.metric] if info else []) + sorted(m for s in series for m in s.evals
                                                                          if m != "n") + ["loss"]))
    metric = right.selectbox("validation metric", metrics, key="runs-metric")
    right.plotly_chart(plots.eval_figure(series, metric, x), key="runs-eval")
    done, total = sum(r.step or 0 for r in runs), sum(r.total_steps or 0 for r in runs)
    counts = ", ".join(f"{sum(r.status == s for r in runs)} {s}" for s in dict.fromkeys(r.status for r in runs))
    st.progress(min(done / total, 1.0) if total else 0.0, text=f"{len(runs)} runs: {counts} · {done}/{total} steps")
    for r in runs:
        a, b = st.columns([5, 1])
        a.markdown(_status_line(r))
        if r.total_steps:
            a.progress(min((r.step or 0) / r.total_steps, 1.0))
        if r.status in ACTIVE and b.button("Cancel", key=f"runs-cancel-{r.id}", icon=":material/stop_circle:"):
            from disc_core.runs.runner import cancel

            cancel(r.id)
            st.rerun()
        if r.status == "failed":
            a.error(r.error or "the run failed without a message; see its log in " + str(r.run_dir))
    if st.session_state.get("runs-was-active") and not any(r.status in ACTIVE for r in runs):
        st.session_state["runs-was-active"] = False
        st.rerun(scope="app")  # all done: redraw once without the timer
    st.session_state["runs-was-active"] = any(r.status in ACTIVE for r in runs)
    if runs:
        st.caption(f"Run folders (config, metrics.jsonl, worker.log) under {Path(runs[0].run_dir).parent}")


active = any(r.status in ACTIVE for r in store.list(group=group))
st.session_state["runs-was-active"] = active
st.fragment(draw, run_every=REFRESH_S if (live and active) else None)(group)
if not active:
    st.page_link(PAGES["results"], label="See the results table", icon=":material/table_chart:")
