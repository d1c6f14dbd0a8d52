"""Train: pick the model, variants, seeds and the recipe (the paper's by default), and queue background runs."""

import time

import streamlit as st

from disc_core.study.compare import comparison_configs
from disc_core.engine.config import VARIANTS, RunConfig
from disc_core.engine.mapping import MAPPINGS
from ui.common import (PAGES, dataset_infos, dataset_picker, device_summary, model_picker, remember, require_app,
                       show_error)

require_app()

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
options = list(VARIANTS) + ([f"{v}+{s}" for v in ("pretrained", "rand", "re-emb") for s in ("shift", "random-shift")]
                            if is_text else [])
defaults = ["pretrained+shift", "rand+shift"] if is_text else ["pretrained", "rand", "re-emb"]
c1, c2 = st.columns([3, 1])
variants = c1.multiselect("Variants", options, default=defaults, key="train-variants",
                          help="; ".join(f"{k}: {v}" for k, v in VARIANTS.items()))
seeds_text = c2.text_input("Seeds", "1, 2, 3", key="train-seeds", help="comma-separated; one run per variant and seed")

with st.expander("Recipe (the paper's defaults)", expanded=False):
    a, b, c, d = st.columns(4)
    lr = a.number_input("learning rate", 1e-7, 1.0, D.learning_rate, format="%.1e", key="train-lr")
    batch = b.number_input("batch size", 1, 1024, D.per_device_train_batch_size, key="train-batch")
    epochs = c.number_input("epochs", 0.01, 100.0, D.num_train_epochs, key="train-epochs")
    max_steps = d.number_input("max steps (0 = by epochs)", 0, 10_000_000, 0, key="train-max-steps")
    warmup = a.number_input("warm-up steps", 0, 100_000, D.warmup_steps, key="train-warmup")
    eval_steps = b.number_input("evaluate every (0 = 10x a run)", 0, 1_000_000, 0, key="train-eval-steps")
    max_len = c.number_input("max length", 8, 4096, D.max_length, key="train-max-length")
    mapping = d.selectbox("symbol mapping", list(MAPPINGS), key="train-mapping", disabled=is_text,
                          help="unused is implied by the 'unused' variant")
    shift_c = a.number_input("shift c", 1, 100_000, D.shift_c, key="train-shift-c", disabled=not is_text)
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

if st.button("Launch", key="train-launch", type="primary", disabled=n_runs == 0, icon=":material/rocket_launch:"):
    try:
        from disc_core.engine.models import resolve_model
        from disc_core.runs.runner import launch_group

        with st.spinner("Checking the model and queueing the runs ..."):
            resolve_model(ref)
            base = RunConfig(dataset=name, model_name_or_path=ref, learning_rate=float(lr),
                             per_device_train_batch_size=int(batch), num_train_epochs=float(epochs),
                             max_steps=int(max_steps) or None, warmup_steps=int(warmup),
                             eval_steps=int(eval_steps) or None, max_length=int(max_len),
                             mapping=mapping, shift_c=int(shift_c), train_fraction=float(fraction), device=device)
            group = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
            ids = launch_group(comparison_configs(base, variants, seeds, group=group))
    except Exception as err:
        show_error(err)
    else:
        remember("group", group)
        st.success(f"Queued {len(ids)} run(s) as group **{group}**. Watch them on the Runs page.")
        st.page_link(PAGES["runs"], label=f"Watch {group}", icon=":material/monitoring:", query_params={"group": group})
