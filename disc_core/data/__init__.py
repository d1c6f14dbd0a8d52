"""Datasets of every discipline, one record shape, one registry.

>>> from disc_core.data import load_dataset, DATASETS
>>> ds = load_dataset("splice")          # needs DISC_DATA_DIR or a download
>>> ds.sizes(), ds.metric, ds.alphabet

Loader modules (each registers its datasets on import; :data:`LOADER_MODULES` imports them all, by name):

- ``dna``      UCI Splice, yeast histone marks (Hilbert-CNN text and GUE CSV formats), synthetic splice
- ``protein``  DeepLoc, TAPE stability / fluorescence, modlAMP peptide sets (built in)
- ``music``    music21 composer corpus (built in), MAESTRO, MIDI folders; 128-pitch segments, voting
- ``text``     the paper's eight GLUE tasks
- ``user``     the user's own FASTA / CSV / TSV files and MIDI folders (or zips of them), and the saved ones
- ``checks``   what looks wrong in the user's data (``Dataset.warnings``), and the empty test split refused
- ``download`` fetching the paper's published files into the per-user cache, checksum checked
- ``splits``   the seeded, stratified random split the loaders share
"""

from __future__ import annotations

from . import dna, music, protein, text
from . import user  # last: the saved user datasets are registered after every built-in and paper dataset
from .base import (DATASETS, MAX_SYMBOLS, SPLITS, Dataset, DatasetInfo, Record, cache_dir, data_dirs,
                   find_data_file, get_info, iter_names, load_dataset, make_dataset, register)

#: Every module that registers datasets, imported above: the registry is complete once this package is.
LOADER_MODULES = (dna, protein, music, text, user)

__all__ = [
    "DATASETS", "SPLITS", "MAX_SYMBOLS", "Dataset", "DatasetInfo", "Record", "cache_dir", "data_dirs",
    "find_data_file", "get_info", "iter_names", "load_dataset", "make_dataset", "register",
    "ensure_registered", "LOADER_MODULES",
]


def ensure_registered() -> None:
    """Nothing is left to do: importing this package imports every loader module (:data:`LOADER_MODULES`),
    so ``DATASETS`` is complete. Kept for the callers that ask for it."""
