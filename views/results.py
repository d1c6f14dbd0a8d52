"""Results: one run group (or groups of the same configuration), variants x the paper's metric (mean ± std over
seeds, each seed once) beside the chance level and the paper's numbers; which runs have no result yet; exports."""

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.study.paper import PAPER_TASKS, paper_block, paper_results, paper_setting
from disc_core.study.pooling import (EXPORT_FORMATS, describe_differences, export, ordering_checks, pending_note,
                                     result_rows, sections)
from ui.data import run_store
from ui.feedback import show_error, store_notes
from ui.nav import PAGES
from ui.state import remembered, shared_selectbox

st.title("Results")
st.page_link(PAGES["reproduction"], label="The paper's tables as reproduced by this tool (docs/REPRODUCTION.md) "
             "are on the Reproduction page", icon=":material/science:")
try:
    store = run_store()
    every = store.list()
except Exception as err:
    show_error(err)
    st.stop()
store_notes(store)
results = result_rows(r for r in every if r.status == "finished")
if not results:
    st.info("No finished runs yet. Launch a comparison on the Train page (or the demo on the Overview page); "
            "its results appear here as soon as the runs finish.")
    st.page_link(PAGES["train"], label="Go to Train", icon=":material/play_circle:")
    st.stop()

# one run group by default, the URL's (or this session's) or else the newest; groups are pooled only when their
# runs differ in nothing but the seed (disc_core.study.pooling)
group_dataset = {}
for r in sorted(results, key=lambda r: r["finished"], reverse=True):
    group_dataset.setdefault(r["group"], r["dataset"])
start = remembered("group")
start = start if start in group_dataset else next(iter(group_dataset))
if st.session_state.get("results-from-group") != start:  # a group chosen elsewhere (a launch, Runs) brings its data
    st.session_state["results-from-group"] = start
    st.session_state["results-dataset"] = group_dataset[start]
    st.session_state.pop(f"results-groups-{group_dataset[start]}", None)
# its own URL setting, so that looking at results never changes the dataset chosen on the other pages
name = shared_selectbox("Dataset", sorted({r["dataset"] for r in results}), "results", key="results-dataset",
                        default=group_dataset[start])
groups = [g for g, d in group_dataset.items() if d == name]  # newest first
chosen = st.multiselect("Run groups", groups, default=[start] if start in groups else groups[:1],
                        key=f"results-groups-{name}",
                        help="the newest run group (or the one in the page's address) by default. Add groups to pool "
                             "their runs: groups are pooled only when their runs differ in nothing but the seed; "
                             "otherwise each configuration gets its own table")
rows = sorted((r for r in results if r["dataset"] == name and r["group"] in chosen),
              key=lambda r: (plots.variant_order(r["label"]), r["seed"]))
if not rows:
    st.info("Pick at least one run group.")
    st.stop()
waiting = pending_note(every, chosen)
if waiting:
    st.warning(waiting, icon=":material/pending:")
parts = sections(rows, order=chosen)
if len(parts) > 1:
    st.warning("These run groups are not pooled: their runs differ in more than the seed, so a mean over them would "
               f"mix configurations. What differs: {describe_differences(parts)}. Each configuration gets "
               "its own table below.", icon=":material/call_split:")
task, which = PAPER_TASKS.get(name, (None, None))

for k, part in enumerate(parts):
    sfx = "" if k == 0 else f"-{k}"
    if len(parts) > 1:
        st.header(f"Configuration {k + 1}: {', '.join(part.groups)}", divider="gray")
    if part.dropped_note():
        st.caption(part.dropped_note())
    model = None
    if len(part.models) > 1:  # several checkpoints: one table per model (compared in Figure 3 below)
        model = st.selectbox("Model (pre-training checkpoint)", part.models, index=len(part.models) - 1,
                             key=f"results-model{sfx}")
    table, shown = part.tables(model)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("This reproduction")
        st.table(shown)  # ours and the paper's on one scale (0-1: the paper's percent / 100), as printed in brackets
        st.caption("*chance level*: the score of learning nothing: always predicting the training set's most "
                   "frequent class (accuracy, F1), or no relation (MCC, Spearman, Pearson: 0). A run that *predicts "
                   "one class* only has learned nothing that tells the classes apart, whatever its score and "
                   "variant: it says nothing about transfer.")
        fractions = sorted({r["train_fraction"] for r in part.rows_of(model)})
        if task and any(paper_setting(f) is None for f in fractions):
            st.caption(f"These runs used {', '.join(f'{f:g}' for f in fractions)} of the training data; the paper "
                       "reports the full training set and (text) 1% of it, so other fractions have no paper number.")
        st.plotly_chart(plots.results_bar(table, chance=shown.attrs["chance"]), key=f"results-bar{sfx}")
    with right:
        st.subheader(f"The paper: {task} ({which})" if task else "The paper")
        if name in paper_results():
            st.table(pd.DataFrame(paper_block(name, [r["label"] for r in part.rows])).rename_axis("variant"))
            st.caption("As printed (percent; the table on the left shows them ÷100 beside ours). specific: "
                       "the discipline-specific model (PLUS-TFM on protein, Hilbert-CNN on DNA); albert:…: the "
                       "paper's "
                       "ALBERT rows. *not reported*: the paper prints no number for that cell (for unused only a "
                       "sentence, Section 3.3: it \"degenerates to the trained from scratch baseline\").")
        else:
            st.caption("The paper does not report this dataset (a built-in or your own): compare the variants "
                       "with each other.")
        for line in ordering_checks(part.rows_of(model)):
            st.markdown(line)
    st.subheader("Export")
    for col, fmt in zip(st.columns(len(EXPORT_FORMATS)), EXPORT_FORMATS):
        out = export([part], fmt, dataset=name, model=model)
        col.download_button({"md": "Markdown"}.get(fmt, fmt.upper()), out.data, out.name, out.mime,
                            key=f"results-{fmt}{sfx}", help=f"downloads as {out.name}")
    with st.expander("Every run"):
        shown_runs = pd.DataFrame([{k: v for k, v in r.items() if k not in ("test", "config", "majority_class")}
                                   for r in part.rows + part.dropped])
        shown_runs["finished"] = pd.to_datetime(shown_runs["finished"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        st.dataframe(shown_runs.astype(object).where(shown_runs.notna(), "–"), hide_index=True,
                     key=f"results-runs{sfx}")
    fig3 = plots.pretraining_figure(part.rows)
    if fig3 is not None:
        st.subheader("Against pre-training steps (the paper's Figure 3)")
        st.plotly_chart(fig3, key=f"results-fig3{sfx}")
