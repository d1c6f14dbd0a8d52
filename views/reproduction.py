"""Reproduction: the tables of `python -m disc_core reproduce` (docs/REPRODUCTION.md), from its run folders."""

from pathlib import Path

import streamlit as st

from disc_core import plots
from disc_core.study.compare import to_markdown
from disc_core.runs.store import runs_root
from disc_core.study.reproduce import PROFILES, STUDIES
from disc_core.study.report import (LOSS_GAP_NOTE, LOSS_GAP_TITLE, PAPER_GAP, PAPER_GAP_NOTE, best_lr_tables_of,
                                    published_info, study_tables, training_loss_table)
from ui.feedback import show_error
from ui.tables import scrolling_markdown, wide_dataframe

PUBLISHED = Path(__file__).resolve().parent.parent / "docs" / "REPRODUCTION.json"

st.title("Reproduction")
st.caption("The paper's studies as run by `python -m disc_core reproduce --profile P --root R` (resumable; "
           "finished cells are reused). This page shows the published numbers behind `docs/REPRODUCTION.md`, "
           "or the run folders of your own reproduction.")
published = PUBLISHED.is_file()
sources = (["Published report"] if published else []) + ["My run folders"]
source = st.radio("Show", sources, horizontal=True, key="repro-source")
if source == "Published report":
    root = PUBLISHED
    meta = published_info(PUBLISHED)
    st.caption(f"`docs/REPRODUCTION.json`: profile `{meta.get('profile', '?')}`, model `{meta.get('model', '?')}`, "
               f"generated {meta.get('generated', '?')}. The figures and the discussion are in "
               "`docs/REPRODUCTION.md`.")
else:
    profile = st.radio("Profile", list(PROFILES), horizontal=True, key="repro-profile", index=1)
    default = runs_root() / "reproduce" / profile
    root = Path(st.text_input("Run folder root", value=str(default), key="repro-root"))
    if not root.is_dir():
        st.info(f"No reproduction runs under `{root}` yet. Start them with "
                f"`python -m disc_core reproduce --profile {profile} --root {root}` (see `--dry-run` for the plan "
                "and its time estimate), or point this page at the root you used.")
        st.stop()
try:
    tables = study_tables(root)
except Exception as err:
    show_error(err)
    st.stop()
if not tables:
    st.info(f"`{root}` holds no finished cells yet; they appear here as runs finish.")
    st.stop()
st.caption("Ours: mean ± std over seeds of the paper's metric, 0-1. The paper's column: Kao & Lee's number for the "
           "same task, setting (full data; the 1% study: 'shift 1000 1% data') and the test split, ÷100 to our "
           "scale, with the number as printed in parentheses (`assets/paper_results.json`). *not reported*: the "
           "paper prints no number for that cell (unused: only a sentence); *not in the paper*: a dataset it does "
           "not use.")
st.markdown("**Significance rule.** Each of the paper's orderings (`pretrained > rand` ...) is checked on the "
            "score differences paired by seed: their mean, a 95% t interval and a one-sided paired t-test. *holds*: "
            "the whole 95% interval lies above 0 (one-sided p < 0.025); *not significant*: the right direction, but "
            "the interval contains 0 (with 2-3 seeds this mostly means too few seeds); *reversed*: the wrong "
            "direction (*significant* when the interval lies below 0); *no difference*: identical scores; the same "
            "difference on every seed has no spread to test and is reported as such, untested; fewer than two "
            "paired seeds: *n/a*.")
sections = [(study, STUDIES.get(study, (study, ""))) for study in tables if study != "pretrain-steps"]
contents = [f"- [{title} (the paper's {where})](#study-{study})" if where else f"- [{title}](#study-{study})"
            for study, (title, where) in sections]
losses, best_lr = training_loss_table(root), best_lr_tables_of(root)
if len(best_lr["grid"]):
    contents.append(f"- [{STUDIES['best-lr'][0]} (a fair-rate check)](#study-best-lr)")
if len(losses):
    contents.append(f"- [{LOSS_GAP_TITLE}](#training-loss)")
if tables.get("pretrain-steps", {}).get("results"):
    contents.append("- [Score against pre-training steps (the paper's Figure 3)](#study-pretrain-steps)")
figures = sorted((PUBLISHED.parent if source == "Published report" else root).joinpath("figures").glob("*.png"))
if figures:
    contents.append("- [Figures (training loss by task, time to signal)](#figures)")
with st.container(border=True):
    st.markdown("**Contents**\n\n" + "\n".join(contents))
for study, t in tables.items():
    if study == "pretrain-steps":
        continue
    title, where = STUDIES.get(study, (study, ""))
    st.subheader(f"{title} (the paper's {where})" if where else title, anchor=f"study-{study}")
    scrolling_markdown(to_markdown(t["summary"]))
    if len(t.get("orderings", [])):
        st.markdown("Ordering checks (paired by seed: mean difference, 95% interval, one-sided p, verdict)")
        wide_dataframe(t["orderings"], key=f"repro-orderings-{study}")
        if PAPER_GAP in t["orderings"]:
            st.caption(PAPER_GAP_NOTE)
if len(best_lr["grid"]):
    st.subheader(f"{STUDIES['best-lr'][0]} (a fair-rate check)", anchor="study-best-lr")
    st.caption("Each variant's first seed at every rate of the grid, its rate chosen by validation; then both "
               "protocols side by side: one rate for all (the paper's) and each at its best.")
    wide_dataframe(best_lr["grid"], key="repro-best-lr-grid")
    wide_dataframe(best_lr["protocols"], key="repro-best-lr-protocols")
if len(losses):
    st.subheader(LOSS_GAP_TITLE, anchor="training-loss")
    st.caption(LOSS_GAP_NOTE)
    wide_dataframe(losses, key="repro-losses")
steps = tables.get("pretrain-steps", {}).get("results")
if steps:
    pts = [{**r, "model": f"step_{r['pretrain_step']}"} for r in steps]
    fig = plots.pretraining_figure(pts)
    st.subheader("Score against pre-training steps (the paper's Figure 3)", anchor="study-pretrain-steps")
    st.dataframe(tables["pretrain-steps"]["summary"], hide_index=True, width="stretch")
    if fig is not None:
        st.plotly_chart(fig, width="stretch")
if figures:
    st.subheader("Figures", anchor="figures")
    where = "docs/figures" if source == "Published report" else figures[0].parent
    st.caption(f"The report's figures (`{where}`): each task's training loss, pretrained against rand "
               "(the paper's Figure 2), and the validation metric against training tokens.")
    for col, fig_path in zip(st.columns(2) * len(figures), figures):
        col.image(str(fig_path), caption=fig_path.stem.replace("_", " · "), width="stretch")
