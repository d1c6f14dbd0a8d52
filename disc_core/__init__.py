"""disc_core: cross-discipline transfer of pretrained language models (Kao & Lee, 2021).

A plain library (it never imports Streamlit). The dashboard in ``app.py``/``views/`` and the CLI
(``python -m disc_core``) are both thin layers over it.

Layers, lowest first; a package imports only from layers below it (``tests/test_layout.py`` checks):

- ``errors``, ``plots``  user-facing exceptions (what, where, what to do); plotly figures shared by the
  dashboard and the report
- ``data``     datasets of every discipline: record shape, registry, loaders, downloads
- ``engine``   one run: model references, token mapping, variants, encoding, the training loop,
  metrics, events, run folders
- ``runs``     background runs: the run store, executors, the worker process
- ``study``    the paper's studies built from runs: comparisons, reproduction plans, pre-training,
  the report, the paper's numbers, the demo
- ``cli``      ``python -m disc_core``: one module per group of commands
"""

__version__ = "0.1.0"
