"""The dashboard: ``streamlit run app.py``.

Navigation over the thin pages in ``pages/``; each page reads its widgets, calls ``disc_core`` and
draws. Nothing heavy (torch, transformers) is imported here, so the first page renders at once.
"""

import streamlit as st

st.set_page_config(page_title="Is BERT a cross-disciplinary learner?", page_icon=":material/biotech:",
                   layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/datasets.py", title="Datasets", icon=":material/dataset:"),
    st.Page("pages/mapping.py", title="Token mapping", icon=":material/swap_horiz:"),
    st.Page("pages/train.py", title="Train", icon=":material/play_circle:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/monitoring:"),
    st.Page("pages/results.py", title="Results", icon=":material/table_chart:"),
    st.Page("pages/reproduction.py", title="Reproduction", icon=":material/science:"),
    st.Page("pages/inspect.py", title="Inside the model", icon=":material/visibility:"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.caption("Reproducing Kao & Lee (2021), *Is BERT a Cross-Disciplinary Knowledge Learner?* "
               "Findings of EMNLP 2021. Everything here is also in the CLI: `python -m disc_core --help`.")
page.run()
