"""The numbers an inspection is made of: linear CKA, attention entropy, embedding drift (and the PCA, from plots).

Each takes plain arrays and knows nothing of runs or models, so each can be checked against a hand computation.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...plots import fit_pca  # the one PCA of the tool (sklearn's, with a sign convention)

__all__ = ["linear_cka", "attention_entropy", "embedding_drift", "fit_pca"]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same ``n`` items.

    Parameters
    ----------
    x : (n, d1) and y : (n, d2) arrays, row i of both describing item i.

    Returns ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc, Yc``: 1 for ``y = x``,
    unchanged by an orthogonal transform or a scaling of either; 0 when the two share no linear structure.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same items: {x.shape[0]} rows against {y.shape[0]}")
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    xx, yy = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    if xx == 0 or yy == 0:
        return float("nan")  # a constant representation has no structure to compare
    return float(np.linalg.norm(y.T @ x) ** 2 / (xx * yy))


def attention_entropy(attn: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each query's attention distribution.

    Parameters
    ----------
    attn : (B, H, T, T) attention probabilities (rows sum to 1 over the keys).
    mask : (B, T) 1 for a real token, 0 for padding.

    Returns (B, H, T): entropy per example, head and query (0 at padded queries).
    """
    a = np.asarray(attn, dtype=np.float64)
    ent = -(a * np.log(np.clip(a, 1e-12, None))).sum(-1)  # (B, H, T)
    return ent * np.asarray(mask, dtype=np.float64)[:, None, :]


def embedding_drift(before: np.ndarray, after: np.ndarray, ids: Sequence[int]) -> dict:
    """How far rows ``ids`` of an embedding matrix moved, and how the other rows did.

    Parameters
    ----------
    before, after : (V, H) input embeddings at the start and the end of fine-tuning.
    ids : the rows of interest (the mapped tokens).

    Returns ``distance`` (||after - before||), ``relative`` (distance / ||before||) and ``cosine`` (before vs
    after), each a list over ``ids``; ``mean_relative`` over ``ids``; and for the other rows ``others_moved`` (how
    many moved at all), ``others_n`` and ``others_median_relative``.
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    ids = np.asarray(list(ids), dtype=np.int64)
    diff = np.linalg.norm(after - before, axis=1)  # (V,)
    norm = np.linalg.norm(before, axis=1)
    rel = diff / np.where(norm > 0, norm, 1.0)
    cos = (before * after).sum(1) / np.where(norm * np.linalg.norm(after, axis=1) > 0,
                                             norm * np.linalg.norm(after, axis=1), 1.0)
    others = np.setdiff1d(np.arange(before.shape[0]), ids)
    return {"distance": diff[ids].tolist(), "relative": rel[ids].tolist(), "cosine": cos[ids].tolist(),
            "mean_relative": float(rel[ids].mean()) if len(ids) else 0.0,
            "others_n": int(len(others)), "others_moved": int((diff[others] > 0).sum()),
            "others_median_relative": float(np.median(rel[others])) if len(others) else 0.0}
