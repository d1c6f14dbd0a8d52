"""The Train page's widget groups: its first values (kept across pages), the recipe, the custom mapping table
and what a launch did."""

from __future__ import annotations

import streamlit as st

from disc_core.engine.config import RunConfig

from .data import get_dataset, get_tokenizer, run_store
from .feedback import show_error
from .nav import PAGES
from .roles import is_teacher

D = RunConfig()  # the paper's recipe
#: what "The paper's recipe" sets
PAPER = {"train-lr": D.learning_rate, "train-max-steps": 0, "train-epochs": D.num_train_epochs,
         "train-seeds": "1, 2, 3"}
ATTN = ("model's own (0.1)", "off (0.0)")


def first_values(name: str, ref: str, is_text: bool) -> dict:
    """The page's first plan: one this machine runs without a warning (:func:`disc_core.study.plan.suggested_recipe`:
    1e-4, one seed, the most steps under 30 min), the paper's recipe otherwise."""
    from disc_core.study.plan import default_variants, suggested_recipe

    variants = default_variants(is_text)
    cfg = suggested_recipe(RunConfig(dataset=name, model_name_or_path=ref), variants, [1], store=run_store())
    return {"train-variants": variants, "train-seeds": "1", "train-lr": cfg.learning_rate,
            "train-max-steps": cfg.max_steps, "train-epochs": D.num_train_epochs,
            "train-batch": D.per_device_train_batch_size, "train-warmup": D.warmup_steps, "train-eval-steps": 0,
            "train-max-length": D.max_length, "train-mapping": "frequent", "train-shift-c": D.shift_c,
            "train-attn-dropout": ATTN[0], "train-fraction": D.train_fraction, "train-device": "auto",
            "train-table": ""}


def recipe(is_text: bool) -> dict:
    """The collapsed recipe: RunConfig fields as widgets (their values kept by the page's ``keep``)."""
    from disc_core.engine.mapping import MAPPINGS

    k = st.session_state  # each widget's first value is its kept one (ui.state.keep)
    maps = list(MAPPINGS)
    with st.expander("Recipe (the paper's, at a learning rate that shows a difference in a few hundred steps)"):
        a, b, c, d = st.columns(4)
        lr = a.number_input("learning rate", 1e-7, 1.0, float(k["train-lr"]), format="%.1e", key="train-lr")
        batch = b.number_input("batch size", 1, 1024, k["train-batch"], key="train-batch")
        warmup = c.number_input("warm-up steps", 0, 100_000, k["train-warmup"], key="train-warmup")
        every = d.number_input("evaluate every (0 = 10x a run)", 0, 1_000_000, k["train-eval-steps"],
                               key="train-eval-steps", help="how often (optimiser steps) the validation set is "
                               "scored: the points of the validation curve, what early stopping watches")
        max_len = a.number_input("max length", 8, 4096, k["train-max-length"], key="train-max-length")
        mapping = b.selectbox("symbol mapping", maps, maps.index(k["train-mapping"]), key="train-mapping",
                              disabled=is_text, help="custom: your own symbol,token table (below the recipe); "
                                                     "unused is implied by the 'unused' variant")
        shift_c = c.number_input("shift c", 1, 100_000, k["train-shift-c"], key="train-shift-c", disabled=not is_text)
        attn = d.selectbox("attention dropout", ATTN, ATTN.index(k["train-attn-dropout"]), key="train-attn-dropout",
                           help="on a CPU BERT's 0.1 takes attention off its fused kernel: ~4x the time of a step "
                                "at 500 tokens. Off is how the laptop reproduction trains H4; hidden dropout stays")
        fraction = st.slider("fraction of the training data", 0.01, 1.0, float(k["train-fraction"]),
                             key="train-fraction")
    return dict(learning_rate=float(lr), per_device_train_batch_size=int(batch), warmup_steps=int(warmup),
                eval_steps=int(every) or None, max_length=int(max_len), mapping=mapping, shift_c=int(shift_c),
                attention_dropout=0.0 if attn == ATTN[1] else None, train_fraction=float(fraction))


def table_input(name: str, ref: str) -> tuple[str | None, str | None]:
    """The custom mapping's table (an upload or typed in), checked against the dataset and the model before
    Launch: ``(the kept table file, None)``, or ``(None, why Launch is off)`` with the table's error shown."""
    from disc_core.engine.mapping import TABLE_FORMATS
    from disc_core.study.plan import custom_table

    up = st.file_uploader("Mapping table file (or type it below)", type=["csv", "tsv", "json"],
                          key="train-table-upload")
    text = up.getvalue().decode("utf-8-sig", "replace") if up is not None else st.text_area(
        f"Mapping table: {TABLE_FORMATS}", st.session_state["train-table"], key="train-table", height=120,
        placeholder="A,the\nC,of\nG,and\nT,to")
    try:
        return str(custom_table(text, get_dataset(name).alphabet, get_tokenizer(ref), store=run_store())), None
    except Exception as err:
        show_error(err)
        return None, "Launch needs a valid mapping table: one row per symbol of the dataset, each onto its own token."


def launched_panel(done: dict, again) -> None:
    """What the launch did: the group, where its first run stands, a link to it, and "Queue another copy"."""
    from disc_core.runs.queue import queue_view

    group = done["group"]
    first = next(iter(queue_view(run_store()).group(group)), None)
    where = f" Its first run: {first.describe()}." if first is not None else \
        " They wait in the Ray cluster's queue; Ray places each on a node." if any(
            r.executor == "ray" for r in run_store().list(group=group)) else ""
    st.success(f"Queued {done['n']} run{'s' if done['n'] != 1 else ''} as group **{group}**.{where} Watch them on "
               "the Runs page.")
    st.page_link(PAGES["runs"], label=f"Watch {group} on the Runs page", icon=":material/monitoring:",
                 query_params={"group": group})
    if st.button("Queue another copy of this plan", key="train-launch-again", icon=":material/add:",
                 disabled=not is_teacher(),
                 help="Launch queues a plan once, however often it is clicked; this queues it again as a new group"):
        again()
