"""Token mapping: how symbols (or shifted text ids) reach BERT, shown on a sample of the chosen dataset."""

import pandas as pd
import streamlit as st

from disc_core import plots
from disc_core.engine.mapping import (MAPPINGS, PAPER_SHIFT, TABLE_FORMATS, TEXT_MAPPINGS, build_symbol_mapping,
                                     build_text_shift, preview)
from ui.chips import chip_colors, chips
from ui.data import dataset_picker, get_dataset, get_tokenizer
from ui.feedback import show_error
from ui.models import model_picker

st.title("Token mapping")
c1, c2 = st.columns(2)
with c1:
    name = dataset_picker("mapping-dataset")
with c2:
    ref = model_picker("mapping")
try:
    ds, tok = get_dataset(name), get_tokenizer(ref)
except Exception as err:
    show_error(err)
    st.stop()

if ds.is_text:
    modes = {"shift": "shift by c", "random-shift": "random shift", "none": "no shift (baseline)"}
    mode = st.radio("Text shift", [m for m in modes if m in TEXT_MAPPINGS], format_func=modes.get,
                    key="mapping-text-mode", horizontal=True)
    c = st.number_input("c", min_value=1, max_value=len(tok) - 1, value=PAPER_SHIFT, key="mapping-c",
                        disabled=mode != "shift", help="T(i) = (i + c) mod D; the paper uses c = 1000")
    seed = st.number_input("seed", 0, 10_000, 0, key="mapping-text-seed", disabled=mode != "random-shift")
    build = lambda: build_text_shift(tok, mode, c=int(c), seed=int(seed))  # noqa: E731
else:
    strategy = st.radio("Strategy", list(MAPPINGS), key="mapping-strategy", horizontal=True,
                        help="frequent: the paper's choice; unused: BERT's [unused*] rows")
    seed, table, counts = 0, None, ds.symbol_counts("train")
    if strategy == "random":
        seed = st.number_input("seed", 0, 10_000, 0, key="mapping-seed")
    if strategy == "custom":  # typed in, read by the engine's one table reader (line numbers in its messages)
        start = build_symbol_mapping(ds.alphabet, tok, "frequent", symbol_counts=counts)
        table = st.text_area(f"Mapping table: {TABLE_FORMATS}", "\n".join(f"{s},{t}" for s, t in start.tokens.items()),
                             key="mapping-table", height=150)
    build = lambda: build_symbol_mapping(ds.alphabet, tok, strategy, seed=int(seed), table=table,  # noqa: E731
                                         symbol_counts=counts)

try:
    with st.spinner("Mapping the symbols and drawing a sample ..."):
        mapping = build()
        p = preview(ds, tok, mapping, n_samples=3, seed=st.session_state.get("mapping-sample", 0))
except Exception as err:
    show_error(err)
    st.stop()

st.info(p.basis, icon=":material/info:")
left, right = st.columns([1, 1] if p.kind != "symbols" else [2, 3])  # text: two token columns to show whole
with left:
    st.subheader("The table")
    # whole tokens (no cut-off column) and no raw missing values: a token with no frequency rank (an [unused]
    # row, a special token) says so
    shown = p.table.copy()
    if "frequency_rank" in shown:
        shown["frequency_rank"] = ["not ranked" if pd.isna(r) else str(int(r)) for r in shown["frequency_rank"]]
    shown = shown.astype(object).where(shown.notna(), "–")
    widths = {c: st.column_config.Column(c, width="medium" if c.endswith("token") else "small") for c in shown.columns
              } if p.kind != "symbols" else None  # text: the shifted tokens' column must not fall off the edge
    st.dataframe(shown, hide_index=True, key="mapping-tableview", column_config=widths, width="stretch")
with right:
    st.subheader("A sample, both alphabets")
    st.number_input("sample seed", 0, 10_000, key="mapping-sample")
    # one colour per symbol of the whole alphabet, no two alike: a symbol and its token share it in every sample
    alphabet_colors = chip_colors(p.table["symbol"]) if p.kind == "symbols" else None
    for s in p.samples:
        st.caption(f"label: {s['label']}")
        if p.kind == "symbols":
            st.markdown("symbols")
            chips(s["symbols"], limit=60, colors=alphabet_colors)
            st.markdown("BERT tokens (coloured by their symbol)")
            chips(s["tokens"], keys=s["symbols"], limit=60, colors=alphabet_colors)
        else:
            a, b = st.columns(2)
            keys = [str(i) for i in s["original_ids"]]  # a word keeps its colour on both sides
            colors = chip_colors(keys[:60])
            with a:
                st.markdown("**original sentence**")
                st.text(s["text"])
                chips(s["original_tokens"], keys=keys, limit=60, colors=colors)
            with b:
                st.markdown("**shifted ids, decoded by BERT**")
                st.text(s["shifted_text"])
                chips(s["shifted_tokens"], keys=keys, limit=60, colors=colors)
        st.divider()

if not ds.is_text and st.toggle("Where the chosen tokens sit in the pretrained embedding space", key="mapping-emb"):
    from disc_core.engine.models import resolve_model

    @st.cache_resource(show_spinner="Reading the embedding matrix ...", max_entries=2)
    def _emb(path: str):
        return plots.input_embeddings(path)

    symbols = [str(x) for x in p.table["symbol"]]
    labelled = None
    if len(symbols) > plots.MAX_LABELS:  # crowded: hover names every point, labels only for the chosen symbols
        labelled = st.multiselect("Label these symbols on the chart", symbols, default=symbols[:5],
                                  key="mapping-emb-labels", help="every point names its symbol and token on hover")
    try:
        emb = _emb(resolve_model(ref).path)
        fig = plots.embedding_projection(emb, p.table["token_id"].tolist(), symbols, p.table["token"].tolist(),
                                         labelled=labelled)
        st.plotly_chart(fig, key="mapping-embfig")
    except Exception as err:
        show_error(err)
