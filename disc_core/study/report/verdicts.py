"""The verdict statistics: the paper's orderings tested on paired seeds, and the tables of a study.

:func:`ordering_table` tests each of the paper's claims (``pretrained > rand`` ...) on the score differences
paired by seed (:func:`~disc_core.study.compare.paired_test`) and says :func:`verdict`; beside it the paper's
own difference for the pair and where it lies against our interval (:func:`paper_gap_verdict`).
:func:`tables_from_results` makes every study's summary and orderings from result dicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compare import paired_scores, paired_test, summarize
from ..paper import PAPER_ORDERINGS, paper_cell

__all__ = ["verdict", "ordering_table", "PAPER_GAP", "PAPER_GAP_VERDICT", "PAPER_GAP_NOTE", "paper_gap_verdict",
           "tables_from_results", "segment_tests", "CLAIM"]

#: the column of an ordering table that states the paper's claim
CLAIM = "paper's claim"


def verdict(t: dict | None) -> str:
    """'holds' (95% CI above 0), 'not significant' (right direction), 'reversed' / 'reversed (significant)'."""
    if t is None:
        return "n/a (fewer than 2 paired seeds)"
    if t["holds"]:
        return "holds"
    if t["mean_diff"] == 0:
        return "no difference"
    if t.get("constant"):  # the same nonzero difference on every seed: no variance, so no t-test
        return ("right direction" if t["direction_ok"] else "reversed") + " on every seed by the same amount (untested)"
    if t["direction_ok"]:
        return "not significant"
    return "reversed (significant)" if t["ci95"][1] < 0 else "reversed, not significant"


def ordering_table(results: list[dict], pairs: list[tuple[str, str]], close: list[tuple[str, str]] = (),
                   setting: str | None = None) -> pd.DataFrame:
    """One row per (dataset, better > worse) pair: paired mean difference, 95% CI, one-sided p, verdict.

    ``close`` pairs (the paper's "unused is close to rand") are tested two-sided: "close" when the 95%
    CI of the difference contains 0. With ``setting`` (``"full"`` or ``"1pct"``), each row also gets the
    paper's own difference for the pair (its two numbers ÷ 100, where it prints both) and where that
    difference lies against our interval (:func:`paper_gap_verdict`).
    """
    rows = []
    for ds in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == ds]
        labels = {r["label"] for r in rs}
        for better, worse in pairs:
            if better in labels and worse in labels:
                t = paired_test(rs, better, worse)
                rows.append(_test_row(ds, f"{better} > {worse}", t, verdict(t),
                                      _paper_gap(ds, better, worse, setting), (rs, better, worse)))
        for a, b in close:
            if a in labels and b in labels:
                t = paired_test(rs, a, b)
                v = "n/a (fewer than 2 paired seeds)" if t is None else (
                    "close (CI contains 0)" if t["ci95"][0] <= 0 <= t["ci95"][1] else "differs")
                rows.append(_test_row(ds, f"{a} ≈ {b}", t, v, _paper_gap(ds, a, b, setting), (rs, a, b)))
    columns = ["dataset", "paper's claim", "seeds", "mean diff", "95% CI", "p (one-sided)", "verdict"]
    if setting is not None:
        columns += [PAPER_GAP, PAPER_GAP_VERDICT]
    return pd.DataFrame(rows, columns=columns)


#: the ordering tables' columns that set our difference beside the paper's
PAPER_GAP, PAPER_GAP_VERDICT = "paper's diff", "ours against the paper's diff"
#: what those two columns mean (the report and the Reproduction page print it under the tables)
PAPER_GAP_NOTE = ("*paper's diff*: the paper's own difference for the pair (its two numbers ÷ 100, blank where it "
                  "prints no number for either side). Against our 95% interval: *agrees* = the paper's difference "
                  "lies inside it and 0 does not (or both are 0); *cannot tell* = both lie inside it, so our seeds "
                  "do not separate the paper's gap from none; *ours larger* / *ours smaller* = the whole interval "
                  "lies above / below the paper's difference.")


def _paper_gap(ds: str, a: str, b: str, setting: str | None) -> float | None:
    """The paper's ``a`` minus its ``b`` on our 0-1 scale, or None where it prints no number for either."""
    if setting is None:
        return None
    ca, cb = paper_cell(ds, a, setting), paper_cell(ds, b, setting)
    if not (ca.reported and cb.reported):
        return None
    return float(ca._scaled_decimal - cb._scaled_decimal)


def paper_gap_verdict(t: dict | None, gap: float | None) -> str:
    """Where the paper's difference lies against our 95% interval of the paired difference.

    *agrees*: inside it, and the interval does not also hold 0 (or the paper's difference is 0 too);
    *cannot tell*: inside it, but so is 0: our seeds do not separate the paper's gap from none;
    *ours larger* / *ours smaller*: the whole interval lies above / below the paper's difference
    (*reversed* added when it lies below 0). Blank where the paper prints no pair or we have < 2 seeds.
    """
    if gap is None or t is None:
        return ""
    lo, hi = t["ci95"]
    eps = 1e-9
    if t.get("constant") and abs(gap - lo) > eps:
        return f"ours {'larger' if gap < lo else 'smaller'} by the same amount on every seed (untested)"
    if lo - eps <= gap <= hi + eps:
        if abs(gap) > eps and lo - eps <= 0 <= hi + eps:
            return "cannot tell (our interval holds both 0 and the paper's diff)"
        return "agrees (the paper's diff is in our interval)"
    if gap < lo:
        return "ours larger"
    return "ours smaller, reversed" if hi < 0 else "ours smaller"


def _test_row(ds, claim, t, v, gap: float | None = None, tested: tuple = ((), "", "")) -> dict:
    """One ordering row; without a test (fewer than 2 paired seeds), the paired seeds there are and, for one,
    its difference (no interval). ``tested``: ``(results, a, b)``, the pair :func:`paired_test` was given."""
    paper = {PAPER_GAP: "" if gap is None else f"{gap:+.4f}", PAPER_GAP_VERDICT: paper_gap_verdict(t, gap)}
    if t is None:
        _, xa, xb = paired_scores(*tested)
        diffs = [x - y for x, y in zip(xa, xb)]
        return {"dataset": ds, "paper's claim": claim, "seeds": len(diffs),
                "mean diff": f"{diffs[0]:+.4f}" if len(diffs) == 1 else "", "95% CI": "",
                "p (one-sided)": "", "verdict": v, **paper}
    return {"dataset": ds, "paper's claim": claim, "seeds": t["n"], "mean diff": f"{t['mean_diff']:+.4f}",
            "95% CI": f"[{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}]", "p (one-sided)": f"{t['p_value']:.3f}",
            "verdict": v, **paper}


def tables_from_results(by_study: dict[str, list[dict]], pretrain_results: list[dict] = (),
                        checkpoints: list[dict] = ()) -> dict[str, dict]:
    """The tables of :func:`study_tables` from result dicts (``results.json`` contents)."""
    out = {}
    for study, pairs, close in (("non-text", PAPER_ORDERINGS["non-text"], [("unused", "rand")]),
                                ("text", PAPER_ORDERINGS["text"], []),
                                ("text-1pct", PAPER_ORDERINGS["text"][:2], []),
                                ("signal", [], [])):
        res = list(by_study.get(study) or [])
        if res:
            pairs = [("pretrained", "rand"), *pairs]
            # text-1pct runs use 1% of the data: they compare with the paper's "shift 1000 1% data" rows
            setting = "1pct" if study == "text-1pct" else "full"
            out[study] = {"summary": summarize(res, setting=setting),
                          "orderings": ordering_table(res, pairs, close, setting=setting),
                          "results": res}
    res = list(pretrain_results)
    if res:
        df = pd.DataFrame([{"dataset": r["dataset"], "step": r["pretrain_step"], "score": r["score"],
                            "metric": r["metric"], "seed": r["seed"]} for r in res])
        g = df.groupby(["dataset", "metric", "step"])["score"]
        summ = g.agg(mean="mean", std=lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
                     n="count").reset_index()
        loss = {c["step"]: c.get("mlm_loss") for c in checkpoints}
        summ["mlm_loss"] = [loss.get(s) for s in summ["step"]]
        out["pretrain-steps"] = {"summary": summ, "results": res, "checkpoints": list(checkpoints)}
    return out


def segment_tests(orderings: pd.DataFrame, rs: list[dict], ds: str) -> list[str]:
    """The orderings' pairs tested again on segment accuracy, for a task voted per piece (MAESTRO, composers)."""
    if not rs or not all(isinstance((r.get("test") or {}).get("segment_accuracy"), (int, float)) for r in rs):
        return []
    seg = [{"label": r["label"], "seed": r["seed"], "score": float(r["test"]["segment_accuracy"])} for r in rs]
    out = []
    for claim in orderings.loc[orderings["dataset"] == ds, CLAIM]:
        if " > " not in claim:
            continue
        t = paired_test(seg, *claim.split(" > "))
        if t is not None:
            out.append(f"{claim} by {t['mean_diff']:+.4f} [{t['ci95'][0]:+.4f}, {t['ci95'][1]:+.4f}] over {t['n']} "
                       f"seeds: {verdict(t)}")
    return out
