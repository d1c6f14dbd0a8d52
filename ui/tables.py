"""Tables wider than the page: they scroll sideways instead of being cut off, and text cells get room."""

from __future__ import annotations

import streamlit as st


def scrolling_markdown(md: str) -> None:
    """A Markdown table in a box that scrolls sideways when it is wider than the page."""
    st.markdown(f'<div style="overflow-x:auto">\n\n{md}\n\n</div>', unsafe_allow_html=True)


def wide_dataframe(df, key: str | None = None) -> None:
    """``st.dataframe`` across the page, every text column wide enough for its text (the frame scrolls sideways)."""
    cols = {c: st.column_config.Column(str(c), width="large") for c in df.columns
            if df[c].dtype == object and df[c].astype(str).str.len().max() > 24}
    st.dataframe(df, hide_index=True, width="stretch", column_config=cols or None, key=key)
