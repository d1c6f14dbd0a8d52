"""Runs: live loss and validation curves of a run group, its progress and ETA, each run's place in the queue,
cancel per run or per group, and a panel of everything running and queued on this machine."""

from pathlib import Path

import streamlit as st

from disc_core import plots
from disc_core.runs.queue import group_progress, queue_view, status_text
from disc_core.runs.store import ACTIVE, effective_events
from ui.curves import curve_controls, empty_note
from ui.data import dataset_infos, run_store
from ui.feedback import fmt_duration, show_error, store_notes
from ui.nav import PAGES
from ui.queue import queue_panel
from ui.roles import is_teacher, teacher_help
from ui.state import remembered, shared_selectbox

REFRESH_S = 2.0

st.title("Runs")
try:
    store = run_store()
    groups = store.groups()  # newest first
except Exception as err:
    show_error(err)
    st.stop()
store_notes(store)
if not groups:
    st.info("No runs yet. Start the demo on the Overview page, or launch a comparison on the Train page.")
    st.page_link(PAGES["train"], label="Go to Train", icon=":material/play_circle:")
    st.stop()

wanted = remembered("group")
if wanted and wanted not in groups:
    st.warning(f"There is no run group {wanted!r} in this run store; showing the latest instead.")
group = shared_selectbox("Run group", groups, "group", key="runs-group")
flash = st.session_state.pop("runs-flash", None)  # what the demo button did: started or joined
if flash:
    st.info(flash, icon=":material/groups:")
smoothing, amount, log_y, x, live = curve_controls(REFRESH_S)
teacher = is_teacher()


def _status_line(r, entry) -> str:
    # the page's ETA is exact (minutes and seconds); the one-class warning in bold
    text = status_text(r, entry, eta=fmt_duration).replace("predicts one class only", "**predicts one class only**")
    return f"**{r.label}** seed {r.seed} — {text}"


def events(run_id: str) -> list[dict]:
    """The run's events, read incrementally: only those newer than what this session has seen."""
    seen = st.session_state.setdefault("runs-events", {}).setdefault(run_id, [])
    seen += store.events(run_id, since=seen[-1]["seq"] if seen else 0)
    return effective_events(seen)


def _cancelling(where, text: str, stop) -> None:
    """Say so at once (stopping running workers takes seconds), then stop, then redraw."""
    where.info(f"{text} …", icon=":material/hourglass_top:")
    with st.spinner(text + " …"):
        stop()
    st.rerun()


def draw(group: str) -> None:
    every = store.list()
    view = queue_view(runs=every)
    queue_panel(view, key="runs-queue", current_group=group)
    on_ray = [r for r in every if r.executor == "ray" and r.active]
    if on_ray:
        n_running = sum(r.status == "running" for r in on_ray)
        st.caption(f"On the Ray cluster: {n_running} running, {len(on_ray) - n_running} waiting for a node "
                   "(Ray places them; this machine's queue above does not count them).")
    runs = sorted((r for r in every if r.group == group), key=lambda r: (plots.variant_order(r.label), r.seed))
    series = [plots.series_from_events(f"{r.label} s{r.seed}", r.label, events(r.id)) for r in runs]
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.loss_figure(series, smoothing, amount, log_y, x, empty_note=empty_note(runs, view)),
                      key="runs-loss")
    info = dataset_infos().get(runs[0].dataset) if runs else None  # its paper metric comes first
    metrics = list(dict.fromkeys(([info.metric] if info else []) + sorted(m for s in series for m in s.evals
                                                                          if m != "n") + ["loss"]))
    metric = right.selectbox("validation metric", metrics, key="runs-metric")
    right.plotly_chart(plots.eval_figure(series, metric, x), key="runs-eval")
    prog = group_progress(runs, view, every)
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    a.progress(prog.fraction, text=f"Group {group}: {prog.describe()}")
    if prog.active and b.button("Cancel the whole group", key="runs-cancel-group", icon=":material/cancel:",
                                disabled=not teacher, help=teacher_help("stop every queued and running run of it")):
        from disc_core.runs.runner import cancel_group

        _cancelling(a, f"Cancelling the whole group {group}", lambda: cancel_group(group))
    for r in runs:
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        a.markdown(_status_line(r, view.of(r.id)))
        if r.total_steps:
            a.progress(min((r.step or 0) / r.total_steps, 1.0))
        if r.status in ACTIVE and b.button("Cancel", key=f"runs-cancel-{r.id}", icon=":material/stop_circle:",
                                           disabled=not teacher, help=teacher_help()):
            from disc_core.runs.runner import cancel

            _cancelling(a, f"Cancelling {r.label} seed {r.seed}", lambda r=r: cancel(r.id))
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
