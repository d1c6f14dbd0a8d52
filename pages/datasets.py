"""Datasets: built in, the paper's (download or "put the files here"), or your own upload; and a look at one."""

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.study.demo import DEMO_DATASET
from disc_core.errors import DiscError
from ui.common import (UPLOAD_TYPES, dataset_infos, dataset_label, get_dataset, remember, remembered, require_app,
                       save_upload, shared_selectbox, show_error, with_progress)

require_app()

ORIGINS = {"Built in (offline)": "builtin", "The paper's": "paper", "Your own": "user"}

st.title("Datasets")
if "datasets-origin" not in st.session_state:
    info = dataset_infos().get(remembered("dataset", ""))
    st.session_state["datasets-origin"] = next((k for k, v in ORIGINS.items() if info and v == info.origin),
                                               "Built in (offline)")
origin = ORIGINS[st.radio("Source", list(ORIGINS), key="datasets-origin", horizontal=True)]

if origin == "user":
    with st.expander("Upload a FASTA, CSV or TSV file", expanded=not dataset_infos("user")):
        st.caption("FASTA: the label is the last word of each header (`>P12345 Nucleus`) or a `label=X` token. "
                   "CSV/TSV: a header with a `sequence` and a `label` column (optional `split`). "
                   "MIDI folders: `python -m disc_core import FOLDER --name NAME`.")
        up = st.file_uploader("Data file", type=list(UPLOAD_TYPES), key="datasets-upload")
        c1, c2 = st.columns(2)
        new_name = c1.text_input("Name it", key="datasets-upload-name", placeholder="my-peptides")
        disc = c2.selectbox("Discipline", ["guess", "dna", "protein", "music", "text"], key="datasets-upload-disc")
        if st.button("Import", key="datasets-import", disabled=up is None or not new_name):
            from disc_core.data.user import import_user_dataset

            path = save_upload(up)
            try:
                opts = {} if disc == "guess" else {"discipline": disc}
                import_user_dataset(path, name=new_name.strip(), **opts)
            except Exception as err:  # the loader's message, with the file's own name instead of the temp path
                show_error(err, replace={str(path): up.name})
            else:
                remember("dataset", new_name.strip())
                st.session_state.pop("datasets-user-name", None)
                st.success(f"Imported {up.name} as **{new_name.strip()}**.")
            finally:
                path.unlink(missing_ok=True)

infos = dataset_infos(origin)
name = shared_selectbox("Dataset", sorted(infos), "dataset", key=f"datasets-{origin}-name",
                        default=DEMO_DATASET, format_func=dataset_label)
if name is None:
    st.info("You have no datasets of your own yet: upload a file above, and it appears here.")
    st.stop()
info = infos[name]
st.caption(info.description or info.title)
ok, where = info.available()
if not ok:
    st.warning(f"**Offline? Put the files here.** {where}", icon=":material/folder_open:")
    from disc_core.data.download import download_names

    if name in download_names() and st.button(f"Download {name}", key="datasets-download", type="primary"):
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
for note in ds.notes:
    st.caption(f"• {note}")

left, right = st.columns(2)
left.plotly_chart(plots.class_balance(ds), key="datasets-classes")
right.plotly_chart(plots.length_histogram(ds), key="datasets-lengths")
what = "words" if ds.is_text else "symbols"
st.plotly_chart(plots.symbol_frequency(ds.symbol_counts("train"), title=f"Most frequent {what} (train)"),
                key="datasets-symbols")

st.subheader("A few examples")
rows = []
for r in (ds.split("train") or ds.records)[:8]:
    seq = " ".join(r.symbols) if r.symbols is not None else r.text + (f"  [SEP]  {r.text_pair}" if r.text_pair else "")
    label = ds.label_names[int(r.label)] if ds.task == "classification" and ds.label_names else r.label
    rows.append({"label": label, "length": r.length, "sequence": seq[:300] + ("…" if len(seq) > 300 else "")})
st.dataframe(pd.DataFrame(rows), hide_index=True, key="datasets-examples")
