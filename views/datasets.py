"""Datasets: built in, the paper's (download or "put the files here"), or your own upload; and a look at one."""

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.data.checks import class_table, example_rows
from disc_core.errors import DiscError
from disc_core.study.demo import DEMO_DATASET
from ui.check_panel import check_panel
from ui.data import dataset_infos, dataset_label, get_dataset
from ui.feedback import show_error, with_progress
from ui.importer import import_form
from ui.roles import is_teacher, teacher_help
from ui.state import remember, remembered, shared_selectbox

ORIGINS = {"Built in (offline)": "builtin", "The paper's": "paper", "Your own": "user"}

st.title("Datasets")
if "datasets-origin" not in st.session_state:
    info = dataset_infos().get(remembered("dataset", ""))
    st.session_state["datasets-origin"] = next((k for k, v in ORIGINS.items() if info and v == info.origin),
                                               "Built in (offline)")
origin = ORIGINS[st.radio("Source", list(ORIGINS), key="datasets-origin", horizontal=True)]

if origin == "user":
    import_form()

infos = dataset_infos(origin)
name = shared_selectbox("Dataset", sorted(infos), "dataset", key=f"datasets-{origin}-name",
                        default=DEMO_DATASET, format_func=dataset_label)
removed = st.session_state.pop("datasets-removed", None)
if removed:
    st.success(f"Removed **{removed}**.")
if name is None:
    st.info("You have no datasets of your own yet: upload a file above, and it appears here.")
    st.stop()
info = infos[name]
st.caption(info.description or info.title)
ok, where = info.available()
if not ok:
    st.warning(f"**Offline? Put the files here.** {where}", icon=":material/folder_open:")
    from disc_core.data.download import download_names

    if name in download_names() and st.button(f"Download {name}", key="datasets-download", type="primary",
                                              disabled=not is_teacher(), help=teacher_help()):
        tick, done = with_progress(f"Downloading {name} ...")
        try:
            from disc_core.data.download import download

            download(name, progress=tick)
        except DiscError as err:
            show_error(err)
        else:
            st.rerun()
        finally:
            done()
    st.stop()

try:
    ds = get_dataset(name)
except Exception as err:
    show_error(err)
    st.stop()

sizes = ds.sizes()
cols = st.columns(5)
for col, (split, n) in zip(cols, sizes.items()):
    col.metric(split, f"{n:,}")
cols[3].metric("classes" if ds.task == "classification" else "task", ds.num_labels if ds.task ==
               "classification" else "regression")
cols[4].metric("paper metric", ds.metric)
st.caption(f"Source: {ds.source}" + ("  ·  synthetic data" if ds.synthetic else ""))
for warning in ds.warnings:
    st.warning(warning, icon=":material/warning:")
for note in ds.notes:
    st.caption(f"• {note}")
classes = class_table(ds)
if classes and (ds.warnings or len(classes) <= 30):
    st.caption("Per class and split" + (" (pieces)" if ds.voting else ""))
    st.table(pd.DataFrame(classes).set_index("class"))
if info.origin == "user":
    if st.button(f"Remove {name}", key="datasets-remove", icon=":material/delete:", disabled=not is_teacher(),
                 help=teacher_help("deletes the saved dataset (run folders of it stay)")):
        from disc_core.data.user import remove_user_dataset

        try:
            remove_user_dataset(name)
        except DiscError as err:
            show_error(err)
        else:
            remember("dataset", None)
            st.session_state.pop("datasets-user-name", None)
            st.session_state["datasets-removed"] = name
            st.rerun()

left, right = st.columns(2)
left.plotly_chart(plots.class_balance(ds), key="datasets-classes")
right.plotly_chart(plots.length_histogram(ds), key="datasets-lengths")
what = "words" if ds.is_text else "symbols"
st.plotly_chart(plots.symbol_frequency(ds.symbol_counts("train"), title=f"Most frequent {what} (train)"),
                key="datasets-symbols")

st.subheader("A few examples")
st.dataframe(pd.DataFrame(example_rows(ds)), hide_index=True, key="datasets-examples")

check_panel(name)
