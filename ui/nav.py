"""The dashboard's pages: one file each under ``views/``, run by ``app.py``'s ``st.navigation``.

(The folder is not called ``pages/``: Streamlit treats a ``pages/`` folder beside the entry script as a legacy
multipage app, which ran a page without ``app.py`` on a fresh server's first request.)
"""

from __future__ import annotations

#: name -> (file, title, icon); the first is the default page
PAGES_INFO = {
    "overview": ("views/overview.py", "Overview", ":material/home:"),
    "datasets": ("views/datasets.py", "Datasets", ":material/dataset:"),
    "mapping": ("views/mapping.py", "Token mapping", ":material/swap_horiz:"),
    "train": ("views/train.py", "Train", ":material/play_circle:"),
    "runs": ("views/runs.py", "Runs", ":material/monitoring:"),
    "results": ("views/results.py", "Results", ":material/table_chart:"),
    "reproduction": ("views/reproduction.py", "Reproduction", ":material/science:"),
    "inspect": ("views/inspect.py", "Inside the model", ":material/visibility:"),
}

#: name -> the page's file, for ``st.page_link`` and ``st.switch_page``
PAGES = {name: path for name, (path, _, _) in PAGES_INFO.items()}


def pages() -> list:
    """The ``st.Page`` objects of :data:`PAGES_INFO`, in order, the Overview the default."""
    import streamlit as st

    return [st.Page(path, title=title, icon=icon, default=k == 0)
            for k, (path, title, icon) in enumerate(PAGES_INFO.values())]
