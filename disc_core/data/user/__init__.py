"""The user's own data: FASTA, CSV/TSV files and MIDI folders turned into a :class:`~disc_core.data.base.Dataset`.

>>> ds = read_user_data("peptides.csv")                      # look at it
>>> import_user_dataset("peptides.csv", name="my-peptides")  # keep it: load_dataset("my-peptides") works
...                                                          # from then on, in any process

One module per concept:

- :mod:`.readers`  the formats, one reader each in ``READERS`` (FASTA, CSV/TSV, MIDI folder, zip of one),
  and :func:`read_user_data`, which picks the reader;
- :mod:`.options`  :class:`ImportOptions`, every option a field checked by its own metadata;
- :mod:`.fasta`    where a FASTA record's label comes from (its header or a side CSV of id,label);
- :mod:`.table`    which CSV/TSV column is the sequence, the label and the split;
- :mod:`.zipped`   a zip of a MIDI folder, unpacked safely (entries that point outside are refused);
- :mod:`.guess`    the discipline from the letters, the task from the labels;
- :mod:`.build`    rows to a dataset: symbols, classes (case-only differences merged), splits, warnings;
- :mod:`.saved`    the saved datasets (JSON, never pickle) and their registry entries.

Then: the discipline is ``discipline=`` or guessed (:func:`explain_discipline`) -- nucleotide letters
(``ACGTN``, RNA's ``U``, a few IUPAC ambiguity codes) is DNA, amino-acid letters is protein,
whitespace-separated numbers 0..127 is music (MIDI pitches), a MIDI folder is music; ``text`` must be asked
for. The task is ``task=`` or inferred: classification unless every label is a number and they are not all
integers, or there are more than :data:`MAX_INTEGER_CLASSES` distinct integers (then regression). Class
labels that differ only in case or surrounding spaces are merged (``merge_labels=False`` refuses them).
Sequences longer than :data:`~disc_core.data.base.MAX_SYMBOLS` are truncated and counted in the notes.
Splits come from a ``split`` column/token when present, else a seeded 80/10/10 split (stratified by class
for classification); a test split that would be empty is refused.

What looks wrong but can be let through is in ``Dataset.warnings`` (shown by the CLI and the dashboard, not
only kept in the notes): merged labels, FASTA labels that look like header fields (``SV=1``) or one label per
record, FASTA ids that occur twice, a discipline guessed against some of the sequences, classes with a handful
of examples or none in validation or test, and for MIDI folders every file or folder left out and why
(:mod:`~disc_core.data.checks`).

Importing this package registers the saved datasets (:func:`register_saved_user_datasets`).
"""

from __future__ import annotations

import warnings as _warnings

from .build import Row, build_dataset
from .fasta import FASTA_SUFFIXES, read_fasta
from .guess import (DNA_LETTERS, IUPAC_DNA, MAX_INTEGER_CLASSES, NUCLEOTIDES, PROTEIN_LETTERS, DisciplineGuess,
                    explain_discipline, guess_discipline, infer_task)
from .options import FASTA_RULES, ImportOptions
from .readers import DATA_SUFFIXES, READERS, Reader, read_user_data, reader_for, upload_kind
from .saved import (UserDatasetInfo, check_dataset_name, import_user_dataset, list_user_datasets,
                    register_saved_user_datasets, remove_user_dataset, saved_user_dataset_meta, user_datasets_dir)
from .table import (LABEL_COLUMNS, SEQUENCE_COLUMNS, TABLE_SUFFIXES, guess_columns, pick_columns, read_table,
                    read_table_header)
from .zipped import MAX_ZIP_BYTES, unsafe_entry

__all__ = [
    "read_user_data", "import_user_dataset", "remove_user_dataset", "saved_user_dataset_meta",
    "list_user_datasets", "user_datasets_dir", "register_saved_user_datasets", "guess_discipline",
    "explain_discipline", "infer_task", "check_dataset_name", "read_table_header", "guess_columns",
    "pick_columns", "UserDatasetInfo", "DNA_LETTERS", "PROTEIN_LETTERS", "MAX_INTEGER_CLASSES", "MAX_ZIP_BYTES",
    "DATA_SUFFIXES", "FASTA_RULES", "upload_kind", "DisciplineGuess", "ImportOptions", "READERS", "Reader",
    "reader_for", "unsafe_entry",
]

try:
    register_saved_user_datasets()
except OSError as _err:  # an unwritable cache must not break the built-in datasets
    _warnings.warn(f"saved user datasets not registered: {_err}")
