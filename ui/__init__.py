"""Streamlit helpers shared by the dashboard's pages (the only place besides pages/ that imports streamlit)."""
