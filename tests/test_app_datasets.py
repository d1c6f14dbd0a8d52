"""The Datasets page as the route in for your own data (AppTest, no browser): the reader's options as widgets,
a zipped MIDI folder, overwrite and remove, the import's warnings, and the user's own file names throughout.

The basic page tests (built-in and paper datasets, a first upload) live in ``test_app_pages.py``.
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from disc_core.data import DATASETS, load_dataset
from disc_core.data.user import list_user_datasets

ROOT = Path(__file__).resolve().parent.parent


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    assert not at.exception, at.exception
    at.switch_page("views/datasets.py").run()
    at.radio(key="datasets-origin").set_value("Your own").run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "title")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _import(at: AppTest, file_name: str, data: bytes, name: str, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="datasets-upload").upload(file_name, data, mime)
    at.run()
    at.text_input(key="datasets-upload-name").set_value(name).run()
    return at


def _peptides(n: int = 40, seed: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [("".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(15)), "Active" if k % 2 else "inactive")
            for k in range(n)]


def test_columns_discipline_and_task_as_widgets_and_warnings_name_the_users_file(forget):
    rows = _peptides()
    rows[3] = (rows[3][0], "active ")  # a spelling of Active that differs only in case and a space
    csv = "id,Peptide,Activity,notes\n" + "".join(f"p{k},{s},{y},x\n" for k, (s, y) in enumerate(rows))
    at = _app()
    text = _texts(at)
    assert "python -m disc_core data import PATH --name NAME" in text  # the real command
    _import(at, "my peptides.csv", csv.encode(), "page-peptides")
    # the columns come from the file's header; nothing is guessed for these names
    assert at.selectbox(key="datasets-upload-seqcol").options == ["id", "Peptide", "Activity", "notes"]
    at.selectbox(key="datasets-upload-seqcol").set_value("Peptide")
    at.selectbox(key="datasets-upload-labelcol").set_value("Activity")
    at.selectbox(key="datasets-upload-disc").set_value("protein")
    at.selectbox(key="datasets-upload-task").set_value("classification").run()
    forget.append("page-peptides")
    at.button(key="datasets-import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Imported my peptides.csv as **page-peptides** -- **1 warning(s)**, shown below." in _texts(at)
    ds = load_dataset("page-peptides")
    assert (ds.discipline, ds.task, ds.label_names) == ("protein", "classification", ["Active", "inactive"])
    warnings = [w.value for w in at.warning]
    assert any("differ only in case or surrounding spaces were merged" in w for w in warnings)
    text = _texts(at)
    assert "Source: my peptides.csv" in text and "disc-upload-" not in text and "/tmp" not in text
    assert "pass " not in text and "=<" not in text  # no message tells a page user to "pass X="
    table = at.table[0].value  # per class and split
    assert list(table.index) == ["Active", "inactive"] and list(table["test"]) == [2, 2]


def test_refused_file_shows_what_to_do_without_pass_x(forget):
    rows = "".join(f"{s},{y},{'train' if k < 30 else 'validation'}\n" for k, (s, y) in enumerate(_peptides()))
    at = _app()
    _import(at, "no test.csv", ("sequence,label,split\n" + rows).encode(), "page-no-test")
    assert at.selectbox(key="datasets-upload-splitcol").value == "split"  # the split column, guessed
    forget.append("page-no-test")
    at.button(key="datasets-import").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "no test.csv" in errors and "the test split would be empty" in errors and "mark about a tenth" in errors
    assert "disc-upload-" not in errors and "pass " not in errors
    assert "page-no-test" not in list_user_datasets()


def _midi_bytes(pitches) -> bytes:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(80, p, i * 0.2, i * 0.2 + 0.2) for i, p in enumerate(pitches)]
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def midi_zip(classes=("low", "high"), per_class: int = 5) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, base in zip(classes, (40, 70, 55)):
            for k in range(per_class):
                zf.writestr(f"songs/{c}/{c}{k}.mid", _midi_bytes([base + (i * (k + 3)) % 12 for i in range(150)]))
        zf.writestr("__MACOSX/songs/._low0.mid", b"\x00\x05\x16\x07")
    return buf.getvalue()


def test_zip_of_a_midi_folder_is_imported_then_removed(forget):
    at = _app()
    _import(at, "songs.zip", midi_zip(), "page-songs", "application/zip")
    assert at.selectbox(key="datasets-upload-disc").disabled  # a MIDI folder is music classification
    forget.append("page-songs")
    at.button(key="datasets-import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    ds = load_dataset("page-songs")
    assert ds.voting and ds.label_names == ["high", "low"] and ds.source == "songs.zip"
    assert at.selectbox(key="datasets-user-name").value == "page-songs"
    assert any("__MACOSX" in w.value for w in at.warning)
    assert "Source: songs.zip" in _texts(at)
    at.button(key="datasets-remove").click().run()
    assert not at.exception, at.exception
    assert "page-songs" not in list_user_datasets() and "page-songs" not in DATASETS
    assert "Removed **page-songs**." in _texts(at)


def test_the_same_name_offers_overwrite(forget):
    first = "".join(f"{s},{y}\n" for s, y in _peptides())
    at = _app()
    _import(at, "first.csv", ("sequence,label\n" + first).encode(), "page-twice")
    forget.append("page-twice")
    at.button(key="datasets-import").click().run()
    assert load_dataset("page-twice").discipline == "protein"
    dna = "".join(f"{'ACGT' * 4}{'ACGT'[k % 4]},{'yes' if k % 2 else 'no'}\n" for k in range(40))
    _import(at, "second.csv", ("sequence,label\n" + dna).encode(), "page-twice")
    assert "You already have a dataset named **page-twice**" in _texts(at)
    assert at.button(key="datasets-import").disabled
    at.button(key="datasets-overwrite").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert load_dataset("page-twice").discipline == "dna" and load_dataset("page-twice").source == "second.csv"


def test_fasta_with_a_labels_csv(forget):
    peps = _peptides(30)
    fasta = "".join(f">P{k:03d} some protein\n{s}\n" for k, (s, _) in enumerate(peps))
    side = "id,where\n" + "".join(f"P{k:03d},{y}\n" for k, (_, y) in enumerate(peps))
    at = _app()
    _import(at, "seqs.fasta", fasta.encode(), "page-fasta", "text/plain")
    at.radio(key="datasets-upload-labels-from").set_value("a CSV of id,label").run()
    assert at.button(key="datasets-import").disabled  # no labels CSV yet
    at.file_uploader(key="datasets-upload-labels").upload("my labels.csv", side.encode(), "text/csv")
    at.run()
    assert at.selectbox(key="datasets-upload-labels-col").value == "where"
    forget.append("page-fasta")
    at.button(key="datasets-import").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert load_dataset("page-fasta").label_names == ["Active", "inactive"]
