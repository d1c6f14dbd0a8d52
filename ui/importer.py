"""The Datasets page's import form: your own FASTA, CSV or TSV file, or a zip of a MIDI folder, with the
columns, labels, discipline and task as widgets; the import itself is ``disc_core.data.user.import_user_dataset``."""

from __future__ import annotations

import streamlit as st

from disc_core.data.user import FASTA_RULES, guess_columns, read_table_header, upload_kind
from disc_core.errors import DiscError

from .data import dataset_infos
from .feedback import show_error, with_progress
from .roles import is_teacher, teacher_help
from .state import remember
from .uploads import UPLOAD_TYPES, discard_upload, save_upload


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


def import_form() -> None:
    """The expander with the upload, its options and Import / Overwrite (a teacher's on a served dashboard)."""
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
        go = b1.button("Import", key="datasets-import", type="primary",
                       disabled=not ready or exists or not is_teacher(),
                       help=teacher_help())
        overwrite = exists and b2.button(f"Overwrite {new_name}", key="datasets-overwrite",
                                         disabled=not ready or not is_teacher(), help=teacher_help())
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
