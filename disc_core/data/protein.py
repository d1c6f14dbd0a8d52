"""Protein datasets: DeepLoc localisation, TAPE stability / fluorescence, modlAMP peptide sets (built in).

One symbol per residue, checked against the 20 standard amino acids plus ``U X B Z``. Sequences
longer than :data:`~disc_core.data.base.MAX_SYMBOLS` (510, BERT's 512 positions minus [CLS]/[SEP])
are cut, and the dataset's notes say how many.

Path-taking readers: :func:`read_deeploc`, :func:`read_deeploc_complete`, :func:`read_tape`,
:func:`read_modlamp_csv`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
from pathlib import Path
from typing import Sequence

from ..errors import DataError
from .base import MAX_SYMBOLS, DatasetInfo, Record, data_dirs, make_dataset, register
from .base import AnyFilesInfo, find_file_set
from .splits import assign_splits
from .io import check_symbols, read_text, truncate

__all__ = [
    "PROTEIN_ALPHABET", "DEEPLOC_CLASSES", "read_deeploc", "read_deeploc_complete", "read_tape",
    "read_modlamp_csv", "modlamp_data_dir",
]

PROTEIN_ALPHABET = frozenset("ACDEFGHIKLMNPQRSTVWY" + "UXBZ")
#: The ten DeepLoc locations (label index = position).
DEEPLOC_CLASSES = ["Cell.membrane", "Cytoplasm", "Endoplasmic.reticulum", "Golgi.apparatus", "Lysosome/Vacuole",
                   "Mitochondrion", "Nucleus", "Peroxisome", "Plastid", "Extracellular"]
#: How a labelled file without its own validation part is divided.
TRAIN_VAL_SPLIT = {"train": 0.85, "validation": 0.15}
AMP_SPLIT = {"train": 0.8, "validation": 0.1, "test": 0.1}

_DL = "protein_deeploc/"
_DEEPLOC_LAYOUTS = (  # in order of preference
    (_DL + "deeploc_our_train_set.fasta", _DL + "deeploc_our_val_set.fasta", _DL + "deeploc_test_set.fasta"),
    (_DL + "deeploc_complete_dataset.fasta",),
    (_DL + "deeploc_our_val_set.fasta", _DL + "deeploc_test_set.fasta"),
)


class _Truncator:
    """Cuts sequences to ``limit`` symbols and counts how many it cut."""

    def __init__(self, limit: int = MAX_SYMBOLS):
        self.limit, self.cut, self.seen = limit, 0, 0

    def __call__(self, seq: str) -> tuple[str, ...]:
        symbols, was_cut = truncate(tuple(seq), self.limit)
        self.seen += 1
        self.cut += was_cut
        return symbols

    def note(self) -> list[str]:
        return [f"{self.cut} of {self.seen} sequences truncated to {self.limit} symbols"] if self.cut else []


def _check_protein(seq: str, path, record) -> str:
    # A trailing '*' is the stop codon of translated sequences, not a residue.
    seq = seq.strip().upper().removesuffix("*")
    if not seq:
        raise DataError("empty sequence", path=path, record=record, hint="fill in or remove that record")
    check_symbols(seq, PROTEIN_ALPHABET, path, record=record, kind="protein sequence")
    return seq


# --------------------------------------------------------------------------------------------
# DeepLoc
# --------------------------------------------------------------------------------------------

def _parse_deeploc(path: Path) -> list[tuple[str, str, int, list[str]]]:
    """(accession, sequence, class index, extra header tokens) per record."""
    from Bio import SeqIO

    text = read_text(path, "FASTA file")  # rejects binary junk and non-UTF-8 before Biopython sees it
    try:
        records = list(SeqIO.parse(io.StringIO(text), "fasta"))
    except ValueError as err:
        raise DataError(f"not a FASTA file ({str(err).splitlines()[0]})", path=path, line=1,
                        hint="a FASTA file starts with a '>ACCESSION Location-M' header line") from None
    if not records:
        raise DataError("no FASTA records found", path=path, hint="headers start with '>'")
    rows = []
    for rec in records:
        parts = rec.description.split()
        acc = parts[0] if parts else f"#{len(rows) + 1}"
        if len(parts) < 2:
            raise DataError("header has no location (expected '>ACCESSION Location-M')", path=path, record=acc)
        location = parts[1].split("-")[0]  # 'Cytoplasm-Nucleus-U' -> 'Cytoplasm', as the Light-Attention loader
        if location not in DEEPLOC_CLASSES:
            raise DataError(f"unknown location {location!r}", path=path, record=acc,
                            hint=f"DeepLoc locations are {', '.join(DEEPLOC_CLASSES)}")
        rows.append((acc, _check_protein(str(rec.seq), path, acc), DEEPLOC_CLASSES.index(location), parts[2:]))
    return rows


def _deeploc_dataset(name: str, parts: Sequence[tuple[list, str]], source: str, notes: list[str], path):
    cut = _Truncator()
    records = [Record(label=y, split=split, symbols=cut(seq)) for rows, split in parts for _, seq, y, _ in rows]
    return make_dataset(name, "protein", "classification", "accuracy", records, source=source,
                        label_names=list(DEEPLOC_CLASSES), path=path, notes=notes + cut.note())


def read_deeploc(train: str | Path, test: str | Path, validation: str | Path | None = None, seed: int = 42,
                 name: str = "deeploc"):
    """Load DeepLoc FASTA files (``>ACCESSION Location-M/S/U``) as a :class:`Dataset` of 10 locations.

    ``validation`` given: the three files are train / validation / test. Without it, ``train`` is split
    85/15 into train/validation (stratified, seeded by ``seed``). The class is the first ``-`` part of
    the location token. Sequences are cut to 510 residues.
    """
    train, test = Path(train), Path(test)
    train_rows, test_rows = _parse_deeploc(train), _parse_deeploc(test)
    if validation is not None:
        parts = [(train_rows, "train"), (_parse_deeploc(Path(validation)), "validation"), (test_rows, "test")]
        notes = [f"train / validation / test = {train.name} / {Path(validation).name} / {test.name}"]
    else:
        splits = assign_splits([y for _, _, y, _ in train_rows], TRAIN_VAL_SPLIT, seed)
        parts = [([r for r, s in zip(train_rows, splits) if s == k], k) for k in TRAIN_VAL_SPLIT]
        parts.append((test_rows, "test"))
        notes = [f"{train.name} split 85/15 into train/validation (stratified, seed {seed}); test = {test.name}"]
    return _deeploc_dataset(name, parts, f"{train.parent}", notes, train)


def read_deeploc_complete(path: str | Path, seed: int = 42, name: str = "deeploc", test: str | Path | None = None):
    """Load the full DeepLoc FASTA, whose test proteins carry a ``test`` header token.

    Test-marked proteins are the test set (or, when ``test`` names another FASTA file such as setHARD,
    they are left out and that file is the test set); the rest is split 85/15 into train/validation
    (stratified, seeded).
    """
    path = Path(path)
    rows = _parse_deeploc(path)
    marked = [r for r in rows if "test" in r[3]]
    rest = [r for r in rows if "test" not in r[3]]
    if not marked or not rest:
        raise DataError("cannot tell test proteins from training ones: "
                        + ("no header has a 'test' token" if not marked else "every header has a 'test' token"),
                        path=path, hint="use read_deeploc(train, test) with separate files instead")
    splits = assign_splits([y for _, _, y, _ in rest], TRAIN_VAL_SPLIT, seed)
    parts = [([r for r, s in zip(rest, splits) if s == k], k) for k in TRAIN_VAL_SPLIT]
    if test is None:
        parts.append((marked, "test"))
        first = f"test = the {len(marked)} 'test'-marked proteins"
    else:
        parts.append((_parse_deeploc(Path(test)), "test"))
        first = f"test = {Path(test).name}; the {len(marked)} 'test'-marked proteins are not used"
    notes = [f"{first}; the rest split 85/15 into train/validation (stratified, seed {seed})"]
    return _deeploc_dataset(name, parts, str(path), notes, path)


def _deeploc_layouts(hard: bool) -> tuple[tuple[str, ...], ...]:
    if not hard:
        return _DEEPLOC_LAYOUTS
    # Same training data; setHARD replaces the test file.
    return tuple(tuple(f for f in lay if not f.endswith("test_set.fasta")) + (_DL + "setHARD.fasta",)
                 for lay in _DEEPLOC_LAYOUTS)


def _deeploc_loader(name: str, hard: bool):
    layouts = _deeploc_layouts(hard)

    def load(progress=None, seed: int = 42, **kw):
        found = find_file_set(layouts)
        if found is None:
            raise DataError("no DeepLoc files found", path=", ".join(map(str, data_dirs())),
                            hint=f"run `python -m disc_core download {name}` or set DISC_DATA_DIR")
        d, k = found
        files = [d / f for f in layouts[k]]
        if k == 0:
            return read_deeploc(files[0], files[2], validation=files[1], seed=seed, name=name)
        if k == 1:
            return read_deeploc_complete(files[0], seed=seed, name=name, test=files[1] if hard else None)
        ds = read_deeploc(files[0], files[1], seed=seed, name=name)
        ds.notes.insert(0, "no DeepLoc training file found (the public copy has only our_val_set and test "
                           "files): training uses deeploc_our_val_set.fasta")
        return ds

    return load


register(AnyFilesInfo(
    name="deeploc", title="DeepLoc subcellular localisation (10 classes)", discipline="protein",
    task="classification", metric="accuracy", origin="paper", loader=_deeploc_loader("deeploc", hard=False),
    files=_DEEPLOC_LAYOUTS[2], alternatives=_DEEPLOC_LAYOUTS, paper_key="Localization",
    description="DeepLoc (Almagro Armenteros et al. 2017), Light-Attention files; class = first part of the "
                "location. With deeploc_our_train_set.fasta: train/val/test as published. With only "
                "deeploc_our_val_set + deeploc_test_set (the public copy): our_val_set split 85/15 into "
                "train/validation (stratified, seed 42), test = deeploc_test_set. Sequences cut to 510."))

register(AnyFilesInfo(
    name="deeploc-hard", title="DeepLoc, tested on setHARD", discipline="protein", task="classification",
    metric="accuracy", origin="paper", loader=_deeploc_loader("deeploc-hard", hard=True),
    files=_deeploc_layouts(True)[2], alternatives=_deeploc_layouts(True),
    description="DeepLoc training data as for `deeploc`, tested on setHARD (490 proteins with < 20% identity "
                "to DeepLoc, Stärk et al. 2021). Not in the paper; a harder test."))


# --------------------------------------------------------------------------------------------
# TAPE regression (JSON)
# --------------------------------------------------------------------------------------------

def _parse_tape(path: Path, key: str) -> list[tuple[str, float]]:
    text = read_text(path, "JSON file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"not valid JSON ({err.msg})", path=path, line=err.lineno) from None
    if not isinstance(data, list):
        raise DataError("expected a JSON list of records", path=path, hint="TAPE JSON files are [{...}, ...]")
    rows = []
    for i, rec in enumerate(data):
        rid = rec.get("id", i + 1) if isinstance(rec, dict) else i + 1
        if not isinstance(rec, dict) or "primary" not in rec or key not in rec:
            raise DataError(f"record lacks 'primary' or {key!r}", path=path, record=rid,
                            hint=f"each record needs a 'primary' sequence and a {key!r} value")
        value = rec[key]
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{key} is {rec[key]!r}, not a number", path=path, record=rid) from None
        if math.isnan(value):
            raise DataError(f"{key} is NaN", path=path, record=rid, hint="fill in or drop that record")
        rows.append((_check_protein(str(rec["primary"]), path, rid), value))
    if not rows:
        raise DataError("no records", path=path)
    return rows


def read_tape(train: str | Path, validation: str | Path, test: str | Path, key: str, name: str = "tape"):
    """Load a TAPE regression task from its three JSON files (records with ``primary`` and ``key``).

    ``key`` is ``stability_score`` or ``log_fluorescence`` (a number or a one-element list). The metric
    is Spearman's rho, as in TAPE and the paper.
    """
    cut = _Truncator()
    records = []
    for p, split in ((train, "train"), (validation, "validation"), (test, "test")):
        records += [Record(label=y, split=split, symbols=cut(s)) for s, y in _parse_tape(Path(p), key)]
    return make_dataset(name, "protein", "regression", "spearman", records, source=str(Path(train).parent),
                        path=train, notes=["TAPE train / valid / test files used as given"] + cut.note())


def _tape_files(task: str) -> tuple[str, ...]:
    return tuple(f"protein_tape/{task}/{task}_{s}.json" for s in ("train", "valid", "test"))


def _read_seq_label_csv(path: Path, cut: "_Truncator", split: str) -> list[Record]:
    """A ``seq,label`` CSV (a float label per protein) as regression records of ``split``."""
    lines = read_text(path, "CSV file").splitlines()
    if not lines or [h.strip() for h in lines[0].split(",")][:2] != ["seq", "label"]:
        raise DataError(f"header {lines[0][:60] if lines else ''!r} is not 'seq,label'", path=path, line=1,
                        hint="the shared TAPE CSVs start with the header 'seq,label'")
    out = []
    for ln, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        seq, _, value = line.partition(",")
        try:
            y = float(value)
        except ValueError:
            raise DataError(f"label {value!r} is not a number", path=path, line=ln) from None
        if math.isnan(y):
            raise DataError("label is NaN", path=path, line=ln, hint="fill in or drop that row")
        out.append(Record(label=y, split=split, symbols=cut(_check_protein(seq, path, f"line {ln}"))))
    if not out:
        raise DataError("no rows", path=path)
    return out


#: The shared copy of TAPE's stability splits (``seq,label`` CSVs; MANIFEST section 6).
STABILITY_CSVS = ("protein_tape_stability/train.csv", "protein_tape_stability/valid.csv",
                  "protein_tape_stability/test.csv")


def read_stability_csvs(train: str | Path, validation: str | Path, test: str | Path, name: str = "stability"):
    """TAPE stability from its three ``seq,label`` CSVs (train / valid / test as published); Spearman."""
    cut = _Truncator()
    records = []
    for p, split in ((train, "train"), (validation, "validation"), (test, "test")):
        records += _read_seq_label_csv(Path(p), cut, split)
    return make_dataset(name, "protein", "regression", "spearman", records, source=str(Path(train).parent),
                        path=train, notes=["TAPE stability train / valid / test CSVs used as given"] + cut.note())


#: GFP without its initial Met (237 residues): the sequence every Sarkisyan genotype is written against.
GFP_WILD_TYPE = ("SKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTLSYGVQCFSRYPDHMKQHDFFKSAMPEGYVQER"
                 "TIFFKDDGNYKTRAEVKFEGDTLVNRIELKGIDFKEDGNILGHKLEYNYNSHNVYIMADKQKNGIKVNFKIRHNIEDGSVQLADHYQQNTPIGDGPV"
                 "LLPDNHYLSTQSALSKDPNEKRDHMVLLEFVTAAGITHGMDELYK")
FLUORESCENCE_FILES = ("protein_gfp_fluorescence/avGFP__rf_aminoacid_genotypes_to_brightness.csv",
                      "protein_gfp_fluorescence/tape_fluorescence_valid.csv")
#: TAPE's fluorescence split sizes (train, valid, test); the rebuild is checked against them.
TAPE_FLUORESCENCE_SIZES = (21446, 5362, 27217)


def _genotype_sequence(genotype: str, path: Path, ln: int) -> tuple[str, int]:
    """The protein of one Sarkisyan genotype (``wt`` or ``A109D:K3R``; positions from Met = 0) and its number
    of substitutions; a stop ``*`` is put in place and then deleted, as TAPE's files have it."""
    if genotype == "wt":
        return GFP_WILD_TYPE, 0
    seq = list(GFP_WILD_TYPE)
    subs = genotype.split(":")
    for sub in subs:
        wt, pos, new = sub[:1], sub[1:-1], sub[-1:]
        if not pos.isdigit() or not 1 <= int(pos) <= len(seq) or GFP_WILD_TYPE[int(pos) - 1] != wt:
            raise DataError(f"substitution {sub!r} does not fit the GFP wild type", path=path, line=ln,
                            hint="aa_genotype_native lists substitutions like A109D, counted from Met = 0")
        seq[int(pos) - 1] = new
    return "".join(seq).replace("*", ""), len(subs)


def read_fluorescence(genotypes: str | Path, valid: str | Path, name: str = "fluorescence", check_sizes=True):
    """TAPE's GFP fluorescence task rebuilt from the Sarkisyan 2016 genotype table and TAPE's validation CSV.

    The rule (``MANIFEST.md`` section 7): genotypes with at most 3 substitutions are TAPE's train + valid, those
    with 4 or more its test; train is the first set less the validation sequences. Labels are the table's
    median log10 brightness. With ``check_sizes`` the three splits must be TAPE's 21,446 / 5,362 / 27,217.
    """
    genotypes, valid = Path(genotypes), Path(valid)
    cut = _Truncator()
    val = _read_seq_label_csv(valid, cut, "validation")
    val_seqs = {"".join(r.symbols) for r in val}
    lines = read_text(genotypes, "CSV file").splitlines()
    head = [h.strip() for h in lines[0].split(",")] if lines else []
    if "aa_genotype_native" not in head or "log_brightness" not in head:
        raise DataError("the header lacks aa_genotype_native or log_brightness", path=genotypes, line=1,
                        hint="use the Sarkisyan genotype table named in MANIFEST.md section 7")
    gi, yi = head.index("aa_genotype_native"), head.index("log_brightness")
    train, test = [], []
    for ln, row in enumerate(csv.reader(lines[1:]), 2):
        if not row:
            continue
        seq, n_subs = _genotype_sequence(row[gi].strip(), genotypes, ln)
        try:
            y = float(row[yi])
        except (ValueError, IndexError):
            raise DataError(f"log_brightness {row[yi] if len(row) > yi else ''!r} is not a number",
                            path=genotypes, line=ln) from None
        if n_subs >= 4:
            test.append(Record(label=y, split="test", symbols=cut(_check_protein(seq, genotypes, f"line {ln}"))))
        elif seq not in val_seqs:
            train.append(Record(label=y, split="train", symbols=cut(_check_protein(seq, genotypes, f"line {ln}"))))
    sizes = (len(train), len(val), len(test))
    if check_sizes and sizes != TAPE_FLUORESCENCE_SIZES:
        raise DataError(f"the rebuilt splits have {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,} proteins, not TAPE's "
                        "21,446 / 5,362 / 27,217", path=genotypes,
                        hint="use the exact files named in MANIFEST.md section 7 (sha256 there)")
    return make_dataset(name, "protein", "regression", "spearman", train + val + test, source=str(genotypes.parent),
                        path=genotypes,
                        notes=["TAPE's splits rebuilt from the Sarkisyan 2016 genotype table: <= 3 substitutions "
                               "are train + valid (valid = TAPE's file), >= 4 are test; sizes checked against "
                               "TAPE's 21,446 / 5,362 / 27,217"] + cut.note())


def _tape_loader(task: str, key: str):
    shared = {"stability": STABILITY_CSVS, "fluorescence": FLUORESCENCE_FILES}[task]

    def load(progress=None, **kw):
        found = find_file_set([shared, _tape_files(task)])
        if found is None:
            raise DataError(f"TAPE {task} files not found", path=", ".join(map(str, data_dirs())),
                            hint=f"put {', '.join(shared)} (or TAPE's {', '.join(_tape_files(task))}) under "
                                 "DISC_DATA_DIR")
        d, k = found
        if k == 1:
            return read_tape(*(d / f for f in _tape_files(task)), key=key, name=task)
        if task == "stability":
            return read_stability_csvs(*(d / f for f in shared), name=task)
        return read_fluorescence(*(d / f for f in shared), name=task)

    return load


for _task, _key, _title, _who, _shared, _how in (
        ("stability", "stability_score", "Protein stability (TAPE)", "Rocklin et al. 2017", STABILITY_CSVS,
         "TAPE's train / valid / test CSVs as published"),
        ("fluorescence", "log_fluorescence", "GFP fluorescence (TAPE)", "Sarkisyan et al. 2016", FLUORESCENCE_FILES,
         "TAPE's splits rebuilt from the Sarkisyan genotype table and TAPE's validation file (sizes checked)")):
    register(AnyFilesInfo(
        name=_task, title=_title, discipline="protein", task="regression", metric="spearman", origin="paper",
        loader=_tape_loader(_task, _key), files=_shared, alternatives=(_shared, _tape_files(_task)),
        paper_key=_task.capitalize(),
        description=f"TAPE {_task} ({_who}): {_how}; regression, metric Spearman's rho as in the paper. Also "
                    f"reads TAPE's JSON files ('primary', '{_key}')."))


# --------------------------------------------------------------------------------------------
# modlAMP peptide sets (built in)
# --------------------------------------------------------------------------------------------

def modlamp_data_dir() -> Path:
    """The ``data`` folder shipped inside the installed modlAMP package (found without importing it)."""
    spec = importlib.util.find_spec("modlamp")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the modlamp package is not installed", hint="pip install modlamp")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def read_modlamp_csv(path: str | Path, seed: int = 42, name: str = "amp"):
    """Load a modlAMP classification CSV as a :class:`Dataset` with a seeded, stratified 80/10/10 split.

    Format: a header ``COUNT,N,CLASS0,CLASS1`` (e.g. ``5200,1,UniProt,AMP``), then ``SEQUENCE,LABEL``
    rows with LABEL the class index. The row count must match COUNT.
    """
    path = Path(path)
    lines = read_text(path, "CSV file").splitlines()
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    if len(header) < 4 or not header[0].isdigit():
        raise DataError(f"header {lines[0][:60]!r} is not 'COUNT,N,CLASS0,CLASS1'", path=path, line=1,
                        hint="modlAMP class files start with e.g. '5200,1,UniProt,AMP'")
    names = header[2:]
    rows = []
    for ln, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 2 or not fields[1]:
            raise DataError(f"expected 'SEQUENCE,LABEL', found {len(fields)} field(s)"
                            if len(fields) != 2 else "missing label", path=path, line=ln)
        if fields[1] not in {str(i) for i in range(len(names))}:
            raise DataError(f"label {fields[1]!r} is not a class index 0..{len(names) - 1}", path=path, line=ln)
        rows.append((_check_protein(fields[0], path, f"line {ln}"), int(fields[1])))
    if rows and len(rows) != int(header[0]):
        raise DataError(f"header says {header[0]} sequences, found {len(rows)}", path=path, line=1,
                        hint="the file may be cut short")
    splits = assign_splits([y for _, y in rows], AMP_SPLIT, seed)
    cut = _Truncator()
    records = [Record(label=y, split=s, symbols=cut(seq)) for (seq, y), s in zip(rows, splits)]
    return make_dataset(name, "protein", "classification", "accuracy", records, source=str(path),
                        label_names=names, path=path,
                        notes=[f"random 80/10/10 split stratified by class (seed {seed})"] + cut.note())


def _modlamp_loader(name: str, filename: str):
    def load(progress=None, seed: int = 42, **kw):
        return read_modlamp_csv(modlamp_data_dir() / filename, seed=seed, name=name)

    return load


for _name, _file, _other in (("amp-uniprot", "AMPvsUniProt.csv", "random UniProt peptides"),
                             ("amp-tm", "AMPvsTMset.csv", "transmembrane helices")):
    register(DatasetInfo(
        name=_name, title=f"Antimicrobial peptides vs {_other} (modlAMP)", discipline="protein",
        task="classification", metric="accuracy", origin="builtin", loader=_modlamp_loader(_name, _file),
        description=f"built in: modlAMP's {_file} (antimicrobial peptides vs {_other}); seeded stratified "
                    f"80/10/10 split. Not in the paper; an offline protein task."))
