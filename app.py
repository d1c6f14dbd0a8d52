"""The dashboard: ``streamlit run app.py``.

Navigation over the thin pages in ``views/`` (``ui/nav.py`` lists them); each page reads its widgets, calls
``disc_core`` and draws. Nothing heavy (torch, transformers) is imported here, so the first page renders at
once. Served beyond localhost, the sidebar asks for the teacher secret (``ui/roles.py``).
"""

import streamlit as st

from ui.nav import pages
from ui.roles import role_sidebar

st.set_page_config(page_title="Is BERT a cross-disciplinary learner?", page_icon=":material/biotech:",
                   layout="wide")

page = st.navigation(pages())
with st.sidebar:
    st.caption("Reproducing Kao & Lee (2021), *Is BERT a Cross-Disciplinary Knowledge Learner?* "
               "Findings of EMNLP 2021. Everything here is also in the CLI: `python -m disc_core --help`.")
    role_sidebar()
page.run()
