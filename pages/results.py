"""Results: per dataset, variants x the paper's metric (mean ± std over seeds) beside the paper's numbers."""

import json

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.study.compare import summarize, to_markdown
from disc_core.study.paper import PAPER_TASKS, paper_row
from ui.common import PAGES, remembered, require_app, run_store, shared_selectbox, show_error

require_app()

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

results = [{"dataset": r.dataset, "label": r.label, "seed": r.seed, "metric": r.results.get("metric"),
            "score": r.results.get("score"), "model": (r.config or {}).get("model_name_or_path", ""),
            "group": r.group, "run": r.id} for r in finished]
datasets = sorted({r["dataset"] for r in results})
# its own URL setting, so that looking at results never changes the dataset chosen on the other pages
name = shared_selectbox("Dataset", datasets, "results", key="results-dataset", default=remembered("dataset"))
groups = sorted({r["group"] for r in results if r["dataset"] == name})
chosen = st.multiselect("Run groups", groups, default=groups, key=f"results-groups-{name}",
                        help="the runs of every chosen group are pooled")
rows = sorted((r for r in results if r["dataset"] == name and r["group"] in chosen),
              key=lambda r: (plots.variant_order(r["label"]), r["seed"]))
if not rows:
    st.info("Pick at least one run group.")
    st.stop()

models = sorted({r["model"] for r in rows}, key=lambda m: (plots.pretraining_step(m) or 0, m))
if len(models) > 1:  # several checkpoints: one table per model (they are compared in Figure 3 below)
    model = st.selectbox("Model (pre-training checkpoint)", models, index=len(models) - 1, key="results-model")
    in_table = [r for r in rows if r["model"] == model]
else:
    in_table = rows
table = summarize(in_table)
task, which = PAPER_TASKS.get(name, (None, None))
left, right = st.columns([3, 2])
with left:
    st.subheader("This reproduction")
    paper_col = f"paper ({which})" if which else "paper"
    st.table(pd.DataFrame({
        "variant": table["variant"], "metric": table["metric"],
        "mean ± std": [f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f}" for m, s, n in
                       zip(table["mean"], table["std"], table["n"])],
        "runs": table["n"], paper_col: [p if p is not None and p == p else "n/a" for p in table["paper"]]}
    ).set_index("variant"))
    st.plotly_chart(plots.results_bar(table), key="results-bar")
with right:
    st.subheader(f"The paper: {task} ({which})" if task else "The paper")
    paper = paper_row(name)
    if paper:
        st.table(pd.DataFrame({"variant": list(paper), "reported": [v if v is not None else "n/a"
                                                                     for v in paper.values()]}).set_index("variant"))
        st.caption("n/a: not yet transcribed from the paper and checked (assets/paper_results.json).")
    else:
        st.caption("The paper does not report this dataset (a built-in or your own): compare the variants "
                   "with each other.")
    if len({r["seed"] for r in in_table}) > 1:
        from disc_core.study.compare import paired_test

        for better, worse in (("pretrained", "rand"), ("pretrained", "re-emb"), ("re-emb", "rand")):
            t = paired_test(in_table, better, worse)
            if t:
                verdict = "holds" if t["holds"] else ("same direction, not significant" if t["direction_ok"]
                                                      else "does not hold")
                st.markdown(f"`{better} > {worse}`: {verdict} (mean diff {t['mean_diff']:+.4f}, "
                            f"95% CI [{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}], {t['n']} seeds)")

st.subheader("Export")
a, b, c = st.columns(3)
a.download_button("CSV", table.to_csv(index=False), f"{name}-results.csv", "text/csv", key="results-csv")
b.download_button("JSON", json.dumps({"summary": json.loads(table.to_json(orient="records")), "runs": in_table},
                                     indent=2), f"{name}-results.json", "application/json", key="results-json")
c.download_button("Markdown", to_markdown(table), f"{name}-results.md", "text/markdown", key="results-md")
with st.expander("Every run"):
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="results-runs")

fig3 = plots.pretraining_figure(rows)
if fig3 is not None:
    st.subheader("Against pre-training steps (the paper's Figure 3)")
    st.plotly_chart(fig3, key="results-fig3")
