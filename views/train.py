"""Train: pick the model, variants, seeds and the recipe (the paper's by default), see what the plan costs on
this machine, and queue background runs."""

import secrets

import streamlit as st

from disc_core.engine.config import VARIANTS, RunConfig, comparison_labels
from disc_core.engine.mapping import MAPPINGS
from disc_core.runs.runner import plan_signature
from disc_core.study.compare import comparison_configs
from ui.data import dataset_infos, dataset_picker, device_summary, get_dataset, run_store
from ui.feedback import show_error
from ui.models import model_picker
from ui.nav import PAGES
from ui.state import remember

D = RunConfig()  # the paper's recipe, as defaults
st.title("Train")
st.caption("Runs go on in the background: you can leave this page, open other tabs, or reload.")

c1, c2 = st.columns(2)
with c1:
    name = dataset_picker("train-dataset")
    info = dataset_infos()[name]
with c2:
    ref = model_picker("train")

is_text = info.discipline == "text"
options = comparison_labels(is_text)
defaults = ["pretrained+shift", "rand+shift"] if is_text else ["pretrained", "rand", "re-emb"]
c1, c2 = st.columns([3, 1])
variants = c1.multiselect("Variants", options, default=defaults, key="train-variants",
                          help="; ".join(f"{k}: {v}" for k, v in VARIANTS.items()))
seeds_text = c2.text_input("Seeds", "1, 2, 3", key="train-seeds", help="comma-separated; one run per variant and seed")
st.caption("**pretrained**: BERT as pretrained on English. **rand**: the same network from random weights (trained "
           "from scratch). **re-emb**: pretrained, but its word embeddings re-initialised. **unused**: symbols mapped "
           "onto BERT's `[unused]` vocabulary rows, which pretraining never trained. **+shift**: every token id moved "
           "by c (`T(i) = (i + c) mod D`), so the text is unreadable to the pretrained vocabulary.")

# how long: outside the recipe, because it decides how long everyone waits
a, b = st.columns(2)
max_steps = a.number_input("max steps (0 = by epochs)", 0, 10_000_000, 0, key="train-max-steps",
                           help="optimiser steps per run; 0 trains for the epochs on the right")
epochs = b.number_input("epochs", 0.01, 100.0, D.num_train_epochs, key="train-epochs", disabled=max_steps > 0,
                        help="passes over the training data (the paper: 3); used when max steps is 0")

with st.expander("Recipe (the paper's defaults)", expanded=False):
    a, b, c, d = st.columns(4)
    lr = a.number_input("learning rate", 1e-7, 1.0, D.learning_rate, format="%.1e", key="train-lr")
    batch = b.number_input("batch size", 1, 1024, D.per_device_train_batch_size, key="train-batch")
    warmup = c.number_input("warm-up steps", 0, 100_000, D.warmup_steps, key="train-warmup")
    eval_steps = d.number_input("evaluate every (0 = 10x a run)", 0, 1_000_000, 0, key="train-eval-steps",
                                help="how often (in optimiser steps) the validation set is scored during training: "
                                     "the points of the validation curve, and what early stopping watches. "
                                     "0: ten times a run")
    max_len = a.number_input("max length", 8, 4096, D.max_length, key="train-max-length")
    mapping = b.selectbox("symbol mapping", list(MAPPINGS), key="train-mapping", disabled=is_text,
                          help="unused is implied by the 'unused' variant")
    shift_c = c.number_input("shift c", 1, 100_000, D.shift_c, key="train-shift-c", disabled=not is_text)
    attn_drop = d.selectbox("attention dropout", ["model's own (0.1)", "off (0.0)"], key="train-attn-dropout",
                            help="dropout on the attention probabilities. On a CPU BERT's 0.1 takes PyTorch's "
                                 "attention off its fused kernel: at 500 tokens a step takes ~4x as long. Off "
                                 "is how the laptop reproduction trains H4; hidden dropout stays either way")
    fraction = st.slider("fraction of the training data", 0.01, 1.0, D.train_fraction, key="train-fraction")

try:
    device_name, devices = device_summary()
except Exception as err:  # torch missing or broken: say so, training cannot work anyway
    show_error(err)
    st.stop()
device = st.selectbox("Device", devices, key="train-device", help=f"auto picks {device_name} here")
st.caption(f"Device: **{device_name if device == 'auto' else device}**" +
           (" (no GPU found: runs use the CPU)" if "cuda" not in devices else ""))

try:
    seeds = [int(s) for s in seeds_text.replace(";", ",").split(",") if s.strip()]
except ValueError:
    seeds = []
    st.error("Seeds must be whole numbers separated by commas, e.g. `1, 2, 3`.")
n_runs = len(variants) * len(seeds)
st.write(f"**{n_runs}** run(s): {len(variants)} variant(s) × {len(seeds)} seed(s) on `{name}`.")

configs = []
if n_runs:
    try:
        base = RunConfig(dataset=name, model_name_or_path=ref, learning_rate=float(lr),
                         per_device_train_batch_size=int(batch), num_train_epochs=float(epochs),
                         max_steps=int(max_steps) or None, warmup_steps=int(warmup),
                         eval_steps=int(eval_steps) or None, max_length=int(max_len),
                         mapping=mapping, shift_c=int(shift_c), train_fraction=float(fraction), device=device,
                         attention_dropout=0.0 if attn_drop.startswith("off") else None)
        configs = comparison_configs(base, variants, seeds)
    except Exception as err:  # a recipe the config rejects: its message says which field
        show_error(err)

# what the plan costs here, before anything is queued
estimate = None
if configs:
    try:
        from disc_core.study.estimate import estimate_plan, train_size

        n_train = None
        if not max_steps and train_size(name) is None:  # epochs over a dataset of unknown size: count it
            n_train = len(get_dataset(name).split("train"))
        estimate = estimate_plan(configs, n_train=n_train)
    except Exception as err:
        show_error(err)
if estimate is not None:
    st.info(f"**Before you launch:** {estimate.describe()}", icon=":material/schedule:")
    st.caption(f"Speed: {estimate.speed.describe()}. Tokens per example: {estimate.tokens_per_example:.0f} "
               f"({estimate.tokens_source}).")
    for w in estimate.warnings:
        st.warning(w, icon=":material/warning:")

# a double click, or a click while the page reruns, must queue the plan once: the launch key is this tab's,
# the plan's, and a counter that only "Queue another copy" advances
nonce = st.session_state.setdefault("train-nonce", secrets.token_hex(4))
generation = st.session_state.setdefault("train-generation", 0)
signature = plan_signature(configs)
launch_key = f"train/{nonce}/{signature}/{generation}"


def _launch(key: str) -> None:
    from disc_core.engine.models import resolve_model
    from disc_core.runs.runner import start_group
    from disc_core.runs.store import new_group_name

    try:
        with st.spinner("Checking the model and queueing the runs ..."):
            resolve_model(ref)
            group = new_group_name(name)
            plans = estimate.plans() if estimate is not None else None
            launched = start_group([c.replace(group=group) for c in configs], key=key, plans=plans)
    except Exception as err:
        show_error(err)
        return
    st.session_state["train-launched"] = {"key": key, "group": launched.group, "n": len(launched.ids),
                                          "created": launched.created}
    remember("group", launched.group)


if st.button("Launch", key="train-launch", type="primary", disabled=not configs, icon=":material/rocket_launch:"):
    _launch(launch_key)

done = st.session_state.get("train-launched")
if done and done["key"].rsplit("/", 1)[0] == launch_key.rsplit("/", 1)[0]:  # this plan, from this tab
    from disc_core.runs.queue import queue_view

    group = done["group"]
    view = queue_view(run_store())
    first = next(iter(view.group(group)), None)
    where = f" Its first run: {first.describe()}." if first is not None else ""
    if first is None and any(r.executor == "ray" for r in run_store().list(group=group)):
        where = " They wait in the Ray cluster's queue; Ray places each on a node."  # DISC_EXECUTOR=ray
    st.success(f"Queued {done['n']} run(s) as group **{group}**.{where} Watch them on the Runs page.")
    st.page_link(PAGES["runs"], label=f"Watch {group} on the Runs page", icon=":material/monitoring:",
                 query_params={"group": group})
    if st.button("Queue another copy of this plan", key="train-launch-again", icon=":material/add:",
                 help="Launch queues a plan once, however often it is clicked; this queues it again as a new group"):
        st.session_state["train-generation"] = generation + 1
        _launch(f"train/{nonce}/{signature}/{generation + 1}")
        st.rerun()
