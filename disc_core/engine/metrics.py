"""Metrics of the paper and piece-level voting for grouped (music) data.

Each dataset declares its paper metric (``Dataset.metric``); :func:`compute_metrics` returns all
metrics that make sense for the task, the paper's one included, so tables can show either.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["METRICS", "compute_metrics", "vote", "higher_is_better", "prediction_checks"]


def _accuracy(y, p):
    return float(np.mean(np.asarray(y) == np.asarray(p)))


def _f1(y, p):
    from sklearn.metrics import f1_score

    y, p = np.asarray(y), np.asarray(p)
    avg = "binary" if len(set(y.tolist()) | set(p.tolist())) <= 2 and set(y.tolist()) <= {0, 1} else "macro"
    return float(f1_score(y, p, average=avg, zero_division=0))


def _mcc(y, p):
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(y, p))


def _spearman(y, p):
    from scipy.stats import spearmanr

    if np.std(p) == 0 or np.std(y) == 0:
        return 0.0
    return float(spearmanr(y, p).statistic)


def _pearson(y, p):
    from scipy.stats import pearsonr

    if np.std(p) == 0 or np.std(y) == 0:
        return 0.0
    return float(pearsonr(y, p).statistic)


#: name -> (function(labels, predictions), task)
METRICS = {
    "accuracy": (_accuracy, "classification"),
    "f1": (_f1, "classification"),
    "mcc": (_mcc, "classification"),
    "spearman": (_spearman, "regression"),
    "pearson": (_pearson, "regression"),
}


def higher_is_better(metric: str) -> bool:
    return metric != "loss"


def vote(groups: list, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Piece-level predictions by majority vote over each group's segments.

    Parameters
    ----------
    groups : (N,) group id of each segment.
    logits : (N, C) segment logits.
    labels : (N,) segment labels (all segments of a group share the label).

    Ties between classes are broken by the summed softmax probability. Returns (piece labels,
    piece predictions), one entry per group, in first-seen order.
    """
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    votes: dict = defaultdict(lambda: np.zeros(logits.shape[1]))
    mass: dict = defaultdict(lambda: np.zeros(logits.shape[1]))
    label_of: dict = {}
    for g, pr, y in zip(groups, probs, labels):
        votes[g][int(pr.argmax())] += 1
        mass[g] += pr
        label_of.setdefault(g, int(y))
    keys = list(label_of)
    preds = [int(np.lexsort((mass[g], votes[g]))[-1]) for g in keys]
    return np.array([label_of[g] for g in keys]), np.array(preds)


def compute_metrics(task: str, logits: np.ndarray, labels: np.ndarray, groups: list | None = None) -> dict:
    """All metrics of ``task`` for model outputs.

    ``logits`` is (N, C) for classification, (N,) or (N, 1) for regression. With ``groups`` (voting),
    classification metrics are computed per group and ``segment_accuracy`` is added.
    """
    labels = np.asarray(labels)
    out: dict = {"n": int(len(labels))}
    if task == "regression":
        preds = np.asarray(logits, dtype=float).reshape(-1)
        out["mse"] = float(np.mean((preds - labels) ** 2))
    else:
        logits = np.asarray(logits, dtype=float)
        preds = logits.argmax(axis=1)
        if groups is not None and any(g is not None for g in groups):
            out["segment_accuracy"] = _accuracy(labels, preds)
            labels, preds = vote(list(groups), logits, labels)
            out["n_groups"] = int(len(labels))
    for name, (fn, t) in METRICS.items():
        if t == task:
            out[name] = fn(labels, preds)
    return out


def prediction_checks(task: str, logits: np.ndarray, labels: np.ndarray, train_labels: np.ndarray,
                      groups: list | None = None) -> dict:
    """What a test score rests on, for a classification run: the level of always predicting the training
    set's most frequent class, and whether the model predicts a single class.

    Parameters
    ----------
    logits : (N, C) test logits; labels : (N,) test labels; train_labels : (M,) training labels.
    groups : (N,) piece of each segment when the test score votes per piece (then pieces are counted).

    Returns ``{}`` for regression or an empty test set, else ``majority_class`` (index),
    ``majority_accuracy`` (accuracy of always predicting it on the test set), ``predicted_classes`` (how many
    classes the model predicts at all) and ``predicts_one_class``.
    """
    labels = np.asarray(labels)
    if task != "classification" or len(labels) == 0 or len(train_labels) == 0:
        return {}
    logits = np.asarray(logits, dtype=float)
    majority = int(np.bincount(np.asarray(train_labels, dtype=np.int64)).argmax())
    preds = logits.argmax(axis=1)
    if groups is not None and any(g is not None for g in groups):
        labels, preds = vote(list(groups), logits, labels)
    n_pred = int(len(np.unique(preds)))
    return {"majority_class": majority, "majority_accuracy": float(np.mean(labels == majority)),
            "predicted_classes": n_pred, "predicts_one_class": n_pred == 1}
