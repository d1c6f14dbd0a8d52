"""Inside a finished run: which layers the task rewrote, how far the mapped tokens moved, what the model attends to.

Why does an English-text model help on DNA? For one finished BERT run (its saved ``model/``) and its starting point
(the same variant rebuilt from the run's config and seed: the pretrained weights, re-emb's re-drawn embeddings,
rand's initialisation), on a fixed, seeded sample of the validation split:

- **cka**: linear CKA (Kornblith et al. 2019) between the starting point's and the finished model's token
  representations, layer by layer (layer 0 = the embedding output). 1: the layer represents the sample as before,
  up to a rotation and a scale; low: fine-tuning rewrote it.
- **drift**: how far the mapped tokens' input embeddings moved (L2 distance, relative to their length, cosine
  before/after), beside the rest of the vocabulary (rows the task never used do not move at all under Adam without
  weight decay), and a 2-D PCA fitted on the starting vocabulary that places each mapped token before and after
  (sklearn's, with a fixed sign convention: :func:`fit_pca`).
- **attention**: each layer's attention, per head, on the first few examples of the sample over their symbols (what a
  reader of BertViz expects), and the mean entropy of attention by layer for the finished model and its start
  (``uniform`` is the entropy of attending evenly to every symbol: the ceiling).
- **outcome**: the run's ``metric`` and ``score`` and whether it ``predicts_one_class`` (from its results.json):
  the insides of a run that predicts one class explain no learning.

:func:`inspect_run` writes ``<run>/inspect/inspect.json`` (the numbers) and ``attention.npz`` (the maps) once per
sample setting and reads them back afterwards, so the dashboard never recomputes on a rerun. The figures are
plotly (:func:`cka_figure`, :func:`entropy_figure`, :func:`drift_figure`, :func:`embedding_figure`,
:func:`attention_figure`) for the dashboard and the CLI's HTML, and matplotlib PNGs (:func:`write_pngs`) for
documents.

Modules: :mod:`.measures` (the numbers, from plain arrays), :mod:`.sample` (which runs, the sample, the starting
point), :mod:`.compute` (the inspection and its cache), :mod:`.figures` (plotly), :mod:`.pngs` (matplotlib).
"""

from __future__ import annotations

from .compute import INSPECT_VERSION, OUTCOME_KEYS, attention_maps, cached_inspection, drift_table, inspect_run
from .figures import attention_figure, cka_figure, drift_figure, embedding_figure, entropy_figure
from .measures import attention_entropy, embedding_drift, fit_pca, linear_cka
from .pngs import write_pngs
from .sample import DEFAULTS, Sample, inspectable, inspection_sample, resolve_run, starting_model

__all__ = ["INSPECT_VERSION", "DEFAULTS", "linear_cka", "attention_entropy", "embedding_drift", "resolve_run",
           "inspectable", "inspect_run", "cached_inspection", "Sample", "inspection_sample", "starting_model",
           "cka_figure", "entropy_figure", "drift_figure", "embedding_figure", "attention_figure", "write_pngs",
           "drift_table", "attention_maps", "fit_pca", "OUTCOME_KEYS"]
