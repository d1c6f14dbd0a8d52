"""disc_core: cross-discipline transfer of pretrained language models (Kao & Lee, 2021).

A plain library (it never imports Streamlit). The dashboard in ``app.py``/``pages/`` and the CLI
(``python -m disc_core``) are both thin layers over it.

Modules, one concept each:

- ``disc_core.errors``   user-facing exceptions (what, where, what to do)
- ``disc_core.models``   model references -> tokenizer / config / weights (bundled MiniLM by default)
- ``disc_core.data``     dataset registry, record shape, loaders of every discipline, downloads
- ``disc_core.mapping``  symbol -> BERT token mappings and text token shifting, with previews
"""

__version__ = "0.1.0"
