"""The Datasets page's "Does text pretraining help here?": ``disc_core.study.check`` in the background, with the
queue, the live curves and the answer."""

from __future__ import annotations

import streamlit as st

from disc_core import plots

from .data import run_store
from .queue import queue_panel
from .roles import is_teacher, teacher_help


def check_panel(name: str) -> None:
    """The button (a teacher's on a served dashboard) and, once pressed, the check's live panel."""
    st.subheader("Does text pretraining help here?")
    st.caption("Pretrained BERT against the same network from scratch (rand), seed after seed until the 95% interval "
               "of the difference excludes 0 (at most 5 seeds or 30 min), beside the k-mer and CNN baselines: "
               "`python -m disc_core check NAME` does the same from a terminal.")
    check_key = f"datasets-check-{name}"
    if st.button("Does text pretraining help here?", key="datasets-check", icon=":material/science:",
                 disabled=not is_teacher(), help=teacher_help("queues background runs on this machine")):
        from disc_core.study.check import dashboard_spec, start_check

        st.session_state[check_key] = start_check(dashboard_spec(name), store=run_store())
    if st.session_state.get(check_key):
        def _check_panel(check_id: str) -> None:
            from disc_core.runs.queue import queue_view
            from disc_core.study.check import check_progress, check_runs

            prog = check_progress(check_id, store=run_store())
            queue_panel(queue_view(run_store()), key="datasets-check-queue")
            series = [plots.series_from_events(f"{r.label} s{r.seed}", r.label, run_store().events(r.id))
                      for r in check_runs(check_id, store=run_store()) if r.label in ("pretrained", "rand")]
            st.plotly_chart(plots.loss_figure(series), key="datasets-check-loss")
            (st.success if prog.done else st.info)(prog.text)

        st.fragment(_check_panel, run_every=3.0)(st.session_state[check_key])
