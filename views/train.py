"""Train: pick the model, variants, seeds and the recipe, see what the plan costs on this machine, and queue
background runs. It starts from a plan this machine runs without a warning; the paper's recipe is one click."""

import secrets

import streamlit as st

from disc_core.engine.config import VARIANTS, RunConfig, comparison_labels
from disc_core.runs.runner import plan_signature
from disc_core.study import plan as planning
from ui import train_form as form
from ui.data import dataset_infos, dataset_picker, device_summary, get_dataset, run_store
from ui.feedback import show_error
from ui.models import model_picker
from ui.roles import is_teacher, teacher_help
from ui.state import keep, remember

st.title("Train")
st.caption("Runs go on in the background: you can leave this page (its settings stay), open other tabs, or reload.")
c1, c2 = st.columns(2)
with c1:
    name = dataset_picker("train-dataset")
    info = dataset_infos()[name]
with c2:
    ref = model_picker("train")
is_text = info.discipline == "text"
options = comparison_labels(is_text)
keep("train", lambda: form.first_values(name, ref, is_text))
if not set(st.session_state["train-variants"]) <= set(options):  # kept from a dataset of another discipline
    st.session_state["train-variants"] = planning.default_variants(is_text)

c1, c2 = st.columns([3, 1])
kept = st.session_state  # each widget's first value is its kept one (ui.state.keep)
variants = c1.multiselect("Variants", options, kept["train-variants"], key="train-variants",
                          help="; ".join(f"{k}: {v}" for k, v in VARIANTS.items()))
seeds_text = c2.text_input("Seeds", kept["train-seeds"], key="train-seeds",
                           help="`1, 2, 3`: one run per variant and seed (`3` alone is seed 3)")
st.caption("**pretrained**: BERT as pretrained on English. **rand**: the same network from random weights (trained "
           "from scratch). **re-emb**: pretrained, but its word embeddings re-initialised. **unused**: symbols mapped "
           "onto BERT's `[unused]` vocabulary rows, which pretraining never trained. **+shift**: every token id moved "
           "by c (`T(i) = (i + c) mod D`), so the text is unreadable to the pretrained vocabulary.")
a, b, c = st.columns([2, 2, 1], vertical_alignment="bottom")
max_steps = a.number_input("max steps (0 = by epochs)", 0, 10_000_000, kept["train-max-steps"], key="train-max-steps",
                           help="optimiser steps per run; 0 trains for the epochs on the right")
epochs = b.number_input("epochs", 0.01, 100.0, float(kept["train-epochs"]), key="train-epochs", disabled=max_steps > 0,
                        help="passes over the training data (the paper: 3); used when max steps is 0")
c.button("The paper's recipe", key="train-paper", on_click=lambda: st.session_state.update(form.PAPER),
         help="learning rate 1e-5, 3 epochs, seeds 1-3: on a laptop CPU hours, and the variants stay at the "
              "majority class (the estimate below says so)")
recipe = form.recipe(is_text)
try:
    device_name, devices = device_summary()
except Exception as err:  # torch missing or broken: say so, training cannot work anyway
    show_error(err)
    st.stop()
device = st.selectbox("Device", devices, devices.index(kept["train-device"]) if kept["train-device"] in devices else 0,
                      key="train-device", help=f"auto picks {device_name} here")
st.caption(f"Device: **{device_name if device == 'auto' else device}**" +
           ("" if "cuda" in devices else " (no GPU found: runs use the CPU)"))
table, blocked = form.table_input(name, ref) if recipe["mapping"] == "custom" and not is_text else (None, None)

plan = planning.LaunchPlan([])
try:
    seeds = planning.parse_seeds(seeds_text)
    base = RunConfig(dataset=name, model_name_or_path=ref, num_train_epochs=float(epochs), max_steps=int(max_steps)
                     or None, mapping_table=table, device=device, **recipe)
    with st.spinner("Estimating the plan ..."):
        plan = planning.make_plan(base, variants, seeds, store=run_store(),
                                  dataset=None if max_steps else get_dataset(name))
except Exception as err:  # seeds or a recipe the config rejects: the message says which
    show_error(err)
st.write(f"{plan.describe()} on `{name}`.")
if plan.estimate is not None:
    st.info(f"**Before you launch:** {plan.estimate.describe()}", icon=":material/schedule:")
    st.caption(f"Speed: {plan.estimate.speed.describe()}. Tokens per example: "
               f"{plan.estimate.tokens_per_example:.0f} ({plan.estimate.tokens_source}).")
    for w in plan.estimate.warnings:
        st.warning(w, icon=":material/warning:")
if blocked:
    st.warning(blocked, icon=":material/block:")

# a double click, or a click while the page reruns, queues the plan once: the key is this tab's, the plan's,
# and a counter that only "Queue another copy" advances
nonce = st.session_state.setdefault("train-nonce", secrets.token_hex(4))
generation = st.session_state.setdefault("train-generation", 0)
launch_key = f"train/{nonce}/{plan_signature(plan.configs)}/{generation}"


def _launch(key: str) -> None:
    try:
        with st.spinner("Checking the model and queueing the runs ..."):
            launched = planning.launch_plan(plan, key=key)
    except Exception as err:
        show_error(err)
        return
    st.session_state["train-launched"] = {"key": key, "group": launched.group, "n": len(launched.ids)}
    remember("group", launched.group)


def _again() -> None:
    st.session_state["train-generation"] = generation + 1
    _launch(f"train/{nonce}/{plan_signature(plan.configs)}/{generation + 1}")
    st.rerun()


if st.button("Launch", key="train-launch", type="primary", icon=":material/rocket_launch:", help=teacher_help(),
             disabled=not plan.configs or bool(blocked) or not is_teacher()):
    _launch(launch_key)
done = st.session_state.get("train-launched")
if done and done["key"].rsplit("/", 1)[0] == launch_key.rsplit("/", 1)[0]:  # this plan, from this tab
    form.launched_panel(done, _again)
