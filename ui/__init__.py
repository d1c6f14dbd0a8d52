"""Streamlit helpers shared by the dashboard's pages, one module per concept (the only place besides ``app.py``
and ``views/`` that imports streamlit): ``nav`` (the pages), ``state`` (settings kept in the URL and across
pages), ``roles`` (the teacher secret), ``data`` (cached datasets, tokenizers, the device, the run store),
``models`` (the model picker), ``feedback`` (errors, progress), ``chips``, ``uploads``, ``queue``, ``curves``,
``tables``, and the widget groups of two pages, ``importer`` (Datasets) and ``train_form`` (Train)."""
