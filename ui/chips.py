"""Symbols and tokens drawn as coloured chips (a symbol and its token share a colour)."""

from __future__ import annotations

import html
from typing import Sequence

import streamlit as st

CHIP_COLORS = ("#cfe2f3", "#f4cccc", "#d9ead3", "#fff2cc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc",
               "#c9daf8", "#e6b8af", "#b6d7a8", "#ffe599")


def chip_color(key: str) -> str:
    """A stable pastel colour for a symbol or token on its own (two keys may share one: use
    :func:`chip_colors` for the keys in view)."""
    return CHIP_COLORS[sum(ord(c) * (k + 1) for k, c in enumerate(str(key))) % len(CHIP_COLORS)]


def chip_colors(keys: Sequence) -> dict[str, str]:
    """One colour per distinct key, no two alike: the palette for up to 12 keys, else evenly spaced hues.

    Keys are ordered by their text, so the same set of keys always gets the same colours (a symbol keeps its
    colour from one sample to the next when the colours are made for the whole alphabet).
    """
    distinct = sorted({str(k) for k in keys})
    if len(distinct) <= len(CHIP_COLORS):
        return {k: CHIP_COLORS[i] for i, k in enumerate(distinct)}
    return {k: f"hsl({round(i * 360 / len(distinct))}, 70%, {82 if i % 2 else 88}%)" for i, k in enumerate(distinct)}


def chips(items: Sequence[str], keys: Sequence[str] | None = None, limit: int = 80,
          colors: dict[str, str] | None = None) -> None:
    """Draw ``items`` as coloured chips; ``keys`` pick the colours (default: the items themselves).

    ``colors`` (from :func:`chip_colors`) maps keys to colours; pass the same map to the chips of a symbol
    sequence and of its tokens (keyed by the symbols) so that a symbol and its token share a colour. Without
    it, the keys in view get distinct colours.
    """
    keys = [str(k) for k in (keys if keys is not None else items)]
    colors = colors or chip_colors(keys[:limit])
    spans = "".join(
        f'<span style="background:{colors.get(k) or chip_color(k)};border-radius:4px;padding:1px 5px;margin:1px;'
        f'font-family:monospace;font-size:0.85em;display:inline-block" title="{html.escape(k)}">'
        f'{html.escape(str(t))}</span>'
        for t, k in zip(list(items)[:limit], keys[:limit]))
    more = f" <span style='color:#888'>… +{len(items) - limit} more</span>" if len(items) > limit else ""
    st.markdown(f'<div style="line-height:1.9">{spans}{more}</div>', unsafe_allow_html=True)
