"""Results: one run group (or groups of the same configuration), variants x the paper's metric (mean ± std over
seeds, each seed once) beside the chance level and the paper's numbers."""

import json

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.study.compare import to_markdown
from disc_core.study.paper import PAPER_TASKS, paper_block, paper_results, paper_setting
from disc_core.study.pooling import (describe_differences, one_per_seed, ordering_checks, result_rows, results_table,
                                     split_pools)
from ui.data import run_store
from ui.feedback import show_error
from ui.nav import PAGES
from ui.state import remembered, shared_selectbox


st.title("Results")
st.page_link(PAGES["reproduction"], label="The paper's tables as reproduced by this tool (docs/REPRODUCTION.md) "
             "are on the Reproduction page", icon=":material/science:")
try:
    finished = [r for r in run_store().list(status="finished") if r.results]
except Exception as err:
    show_error(err)
    st.stop()
if not finished:
    st.info("No finished runs yet. Launch a comparison on the Train page (or the demo on the Overview page); "
            "its results appear here as soon as the runs finish.")
    st.page_link(PAGES["train"], label="Go to Train", icon=":material/play_circle:")
    st.stop()

# one run group by default, the URL's (or this session's) or else the newest; groups are pooled only when their
# runs differ in nothing but the seed (disc_core.study.pooling)
results = result_rows(finished)
newest_first = sorted(results, key=lambda r: r["finished"], reverse=True)
group_dataset = {}
for r in newest_first:
    group_dataset.setdefault(r["group"], r["dataset"])
start = remembered("group")
start = start if start in group_dataset else next(iter(group_dataset))
if st.session_state.get("results-from-group") != start:  # a group chosen elsewhere (a launch, Runs) brings its data
    st.session_state["results-from-group"] = start
    st.session_state["results-dataset"] = group_dataset[start]
    st.session_state.pop(f"results-groups-{group_dataset[start]}", None)
datasets = sorted({r["dataset"] for r in results})
# its own URL setting, so that looking at results never changes the dataset chosen on the other pages
name = shared_selectbox("Dataset", datasets, "results", key="results-dataset", default=group_dataset[start])
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

pools = sorted(split_pools(rows), key=lambda p: min(chosen.index(g) for g in p.groups))  # as chosen
if len(pools) > 1:
    st.warning("These run groups are not pooled: their runs differ in more than the seed, so a mean over them would "
               f"mix configurations. What differs: {describe_differences(pools)}. Each configuration gets its own "
               "table below.", icon=":material/call_split:")


def _section(pool_rows: list[dict], sfx: str) -> None:
    """The tables, tests, exports and figures of one pool of runs (one configuration apart from the seed)."""
    kept, dropped = one_per_seed(pool_rows)
    if dropped:
        again = sorted({f"{r['label']} seed {r['seed']}" for r in dropped})
        st.caption(f"{len(dropped)} older run(s) repeat a variant and seed of a newer run ({', '.join(again)}): only "
                   "the newest of each counts, so that no seed counts twice in a mean or a paired test.")
    rows = kept
    models = sorted({r["model"] for r in rows}, key=lambda m: (plots.pretraining_step(m) or 0, m))
    if len(models) > 1:  # several checkpoints: one table per model (they are compared in Figure 3 below)
        model = st.selectbox("Model (pre-training checkpoint)", models, index=len(models) - 1,
                             key=f"results-model{sfx}")
        in_table = [r for r in rows if r["model"] == model]
    else:
        in_table = rows
    table, shown = results_table(in_table)
    task, which = PAPER_TASKS.get(name, (None, None))
    left, right = st.columns([3, 2])
    with left:
        st.subheader("This reproduction")
        # ours and the paper's on one scale (0-1: the paper's percent / 100), the number as printed in parentheses
        st.table(shown)
        st.caption("*chance level*: the score of learning nothing: always predicting the training set's most "
                   "frequent class (accuracy, F1), or no relation (MCC, Spearman, Pearson: 0). A run that *predicts "
                   "one class* only has learned nothing that tells the classes apart, whatever its score and "
                   "variant: it says nothing about transfer.")
        fractions = sorted({r["train_fraction"] for r in in_table})
        if task and any(paper_setting(f) is None for f in fractions):
            st.caption(f"These runs used {', '.join(f'{f:g}' for f in fractions)} of the training data; the paper "
                       "reports the full training set and (text) 1% of it, so other fractions have no paper number.")
        st.plotly_chart(plots.results_bar(table, chance=shown.attrs["chance"]), key=f"results-bar{sfx}")
    with right:
        st.subheader(f"The paper: {task} ({which})" if task else "The paper")
        if name in paper_results():
            st.table(pd.DataFrame(paper_block(name, [r["label"] for r in rows])).rename_axis("variant"))
            st.caption("As printed (percent; the table on the left shows them ÷100 beside ours). specific: "
                       "the discipline-specific model (PLUS-TFM on protein, Hilbert-CNN on DNA); albert:…: the paper's "
                       "ALBERT rows. *not reported*: the paper prints no number for that cell (for unused only a "
                       "sentence, Section 3.3: it \"degenerates to the trained from scratch baseline\").")
        else:
            st.caption("The paper does not report this dataset (a built-in or your own): compare the variants "
                       "with each other.")
        for line in ordering_checks(in_table):
            st.markdown(line)

    st.subheader("Export")
    a, b, c = st.columns(3)
    a.download_button("CSV", table.to_csv(index=False), f"{name}-results.csv", "text/csv", key=f"results-csv{sfx}")
    shown_runs = [{k: v for k, v in r.items() if k not in ("test", "config")} for r in in_table]
    b.download_button("JSON", json.dumps({"summary": json.loads(table.to_json(orient="records")), "runs": shown_runs},
                                         indent=2, default=str), f"{name}-results.json", "application/json",
                      key=f"results-json{sfx}")
    c.download_button("Markdown", to_markdown(table), f"{name}-results.md", "text/markdown", key=f"results-md{sfx}")
    with st.expander("Every run"):
        every = pd.DataFrame([{k: v for k, v in r.items() if k not in ("test", "config", "majority_class")}
                              for r in rows])
        every["finished"] = pd.to_datetime(every["finished"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
        st.dataframe(every.astype(object).where(every.notna(), "–"), hide_index=True, key=f"results-runs{sfx}")

    fig3 = plots.pretraining_figure(rows)
    if fig3 is not None:
        st.subheader("Against pre-training steps (the paper's Figure 3)")
        st.plotly_chart(fig3, key=f"results-fig3{sfx}")


for k, pool in enumerate(pools):
    if len(pools) > 1:
        st.header(f"Configuration {k + 1}: {', '.join(pool.groups)}", divider="gray")
    _section(pool.rows, "" if k == 0 else f"-{k}")
