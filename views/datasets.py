"""Datasets: built in, the paper's (download or "put the files here"), or your own upload; and a look at one."""

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.data.checks import class_table, example_rows
from disc_core.data.user import FASTA_RULES, guess_columns, read_table_header, upload_kind
from disc_core.study.demo import DEMO_DATASET
from disc_core.errors import DiscError
from ui.data import dataset_infos, dataset_label, get_dataset
from ui.feedback import show_error, with_progress
from ui.state import remember, remembered, shared_selectbox
from ui.uploads import UPLOAD_TYPES, discard_upload, save_upload

ORIGINS = {"Built in (offline)": "builtin", "The paper's": "paper", "Your own": "user"}


def table_header(uploaded) -> list[str] | None:
    """The columns of an uploaded CSV/TSV, or None (with the reader's message) when it cannot be read."""
    path = save_upload(uploaded)
    try:
        return read_table_header(path)
    except DiscError as err:
        show_error(err, replace={str(path): uploaded.name})
        return None
    finally:
        discard_upload(path)


st.title("Datasets")
if "datasets-origin" not in st.session_state:
    info = dataset_infos().get(remembered("dataset", ""))
    st.session_state["datasets-origin"] = next((k for k, v in ORIGINS.items() if info and v == info.origin),
                                               "Built in (offline)")
origin = ORIGINS[st.radio("Source", list(ORIGINS), key="datasets-origin", horizontal=True)]

if origin == "user":
    with st.expander("Import your own data: a FASTA, CSV or TSV file, or a zip of a MIDI folder",
                     expanded=not dataset_infos("user")):
        st.caption("FASTA: the label is in each header (`>P12345 Nucleus`, `>id label=X`, `>id|X`) or in a CSV of "
                   "id,label. CSV/TSV: a header row, a column of sequences and one of labels (a `split` column of "
                   "train/validation/test is optional). MIDI: zip a folder that holds one sub-folder per class. "
                   "The same from a terminal: `python -m disc_core data import PATH --name NAME` "
                   "(a MIDI folder needs no zip there).")
        up = st.file_uploader("Data file", type=list(UPLOAD_TYPES), key="datasets-upload")
        kind = upload_kind(up.name) if up is not None else None
        options, side = {}, None
        if kind == "table":
            header = table_header(up)
            if header:
                guess = guess_columns(header)
                c1, c2, c3 = st.columns(3)
                options["sequence_column"] = c1.selectbox("Sequence column", header, key="datasets-upload-seqcol",
                                                          index=header.index(guess["sequence"] or header[0]))
                options["label_column"] = c2.selectbox(
                    "Label column", header, key="datasets-upload-labelcol",
                    index=header.index(guess["label"] or header[min(1, len(header) - 1)]))
                auto = "(none: a random 80/10/10 split)"
                split = c3.selectbox("Split column", [auto, *header], key="datasets-upload-splitcol",
                                     index=1 + header.index(guess["split"]) if guess["split"] else 0)
                if split != auto:
                    options["split_column"] = split
        elif kind == "fasta":
            labels_from = st.radio("Labels from", ["each header", "a CSV of id,label"],
                                   key="datasets-upload-labels-from", horizontal=True)
            if labels_from == "each header":
                rule = st.selectbox("Which part of the header", list(FASTA_RULES), key="datasets-upload-rule",
                                    format_func=FASTA_RULES.get)
                options["fasta_label"] = rule
            else:
                side = st.file_uploader("Labels CSV (id = the first word of a header)", type=["csv", "tsv"],
                                        key="datasets-upload-labels")
                side_header = table_header(side) if side is not None else None
                if side_header:
                    guess = guess_columns(side_header)["label"] or side_header[-1]
                    options["label_column"] = st.selectbox("Label column", side_header,
                                                           index=side_header.index(guess),
                                                           key="datasets-upload-labels-col")
        elif kind == "zip":
            st.caption("A zip of a folder of MIDI files, one sub-folder per class (`composers/bach/*.mid`, "
                       "`composers/chopin/*.mid`): music, composer-style classification, split by piece.")
        c1, c2, c3 = st.columns(3)
        if st.session_state.pop("datasets-clear-name", False):  # imported: the name is taken now
            st.session_state["datasets-upload-name"] = ""
        new_name = c1.text_input("Name it", key="datasets-upload-name", placeholder="my-peptides").strip()
        disc = c2.selectbox("Discipline", ["guess", "dna", "protein", "music", "text"], key="datasets-upload-disc",
                            disabled=kind == "zip")
        task = c3.selectbox("Task", ["infer", "classification", "regression"], key="datasets-upload-task",
                            disabled=kind == "zip")
        if kind != "zip":
            if disc != "guess":
                options["discipline"] = disc
            if task != "infer":
                options["task"] = task
            options["merge_labels"] = st.checkbox(
                "Labels that differ only in case or surrounding spaces are one class (off: refuse such a file)",
                value=True, key="datasets-upload-merge")
        exists = bool(new_name) and new_name in dataset_infos("user")
        if exists:
            st.warning(f"You already have a dataset named **{new_name}**: overwrite it, or pick another name.")
        b1, b2 = st.columns(2)
        needs_side = kind == "fasta" and "fasta_label" not in options
        ready = up is not None and bool(new_name) and not (needs_side and "label_column" not in options)
        go = b1.button("Import", key="datasets-import", type="primary", disabled=not ready or exists)
        overwrite = exists and b2.button(f"Overwrite {new_name}", key="datasets-overwrite", disabled=not ready)
        if go or overwrite:
            from disc_core.data.user import import_user_dataset

            path = save_upload(up)
            side_path = save_upload(side) if side is not None else None
            names = {str(path): up.name, **({str(side_path): side.name} if side_path else {})}
            tick, done = with_progress(f"Reading {up.name} ...")
            try:
                if side_path is not None:
                    options["labels"] = side_path
                ds = import_user_dataset(path, name=new_name, overwrite=overwrite, progress=tick, source=up.name,
                                         **options)
            except Exception as err:  # the loader's message, with the file's own name instead of the temp path
                show_error(err, replace=names)
            else:
                remember("dataset", new_name)
                st.session_state.pop("datasets-user-name", None)
                st.session_state["datasets-clear-name"] = True
                more = f" -- **{len(ds.warnings)} warning(s)**, shown below" if ds.warnings else ""
                st.success(f"Imported {up.name} as **{new_name}**{more}.")
            finally:
                done()
                discard_upload(path)
                discard_upload(side_path)

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
for warning in ds.warnings:
    st.warning(warning, icon=":material/warning:")
for note in ds.notes:
    st.caption(f"• {note}")
classes = class_table(ds)
if classes and (ds.warnings or len(classes) <= 30):
    st.caption("Per class and split" + (" (pieces)" if ds.voting else ""))
    st.table(pd.DataFrame(classes).set_index("class"))
if info.origin == "user":
    if st.button(f"Remove {name}", key="datasets-remove", icon=":material/delete:",
                 help="deletes the saved dataset (run folders of it stay)"):
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
