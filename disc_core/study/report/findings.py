"""The report's findings: plain sentences computed from the tables (the discussion starts from these)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .cells import loss_curves, precision_of
from .prose import prose
from .verdicts import CLAIM, PAPER_GAP, PAPER_GAP_VERDICT, segment_tests

__all__ = ["findings", "late_loss"]


def late_loss(root: Path, study: str, ds: str) -> dict[str, float]:
    """Mean training loss over the last quarter of steps, per variant (averaged over seeds): Figure 2's view."""
    out = {}
    for label, runs in loss_curves(root / study, ds).items():
        vals = [np.mean([l for _, l in r[-max(1, len(r) // 4):]]) for r in runs if r]
        if vals:
            out[label] = float(np.mean(vals))
    return out


def findings(tables: dict, root: Path | None = None, round2=None) -> list[str]:
    """Plain sentences computed from the numbers (the report's discussion starts from these). With ``root`` (or
    ``round2``, a :class:`~.round2.Round2` already read from it), also Figure 3's and the best-lr study's."""
    if round2 is not None:
        root = round2.root
    out = []
    # the headline: on how many task settings does pretrained beat rand (and re-emb), the paper's main claims
    for pairs, name in (((("pretrained", "rand"), ("pretrained+shift", "rand+shift"),
                          ("pretrained+random-shift", "rand+random-shift")), "pretrained > rand"),
                        ((("pretrained", "re-emb"),), "pretrained > re-emb")):
        claims = {f"{a} > {b}" for a, b in pairs}
        rows = [(study, r) for study in ("non-text", "text", "text-1pct") if study in tables
                for _, r in tables[study]["orderings"].iterrows() if r[CLAIM] in claims]
        untestable = [f"{s}/{r['dataset']}" for s, r in rows if r["verdict"].startswith("n/a")]
        rows = [(s, r) for s, r in rows if not r["verdict"].startswith("n/a")]
        if rows:
            held = [f"{s}/{r['dataset']} ({r[CLAIM].split(' > ')[0]})" for s, r in rows if r["verdict"] == "holds"]
            out.append(f"**{name}** (95% interval of the paired difference above 0): holds on {len(held)} of "
                       f"{len(rows)} task settings tested" + (": " + ", ".join(held) if held else "")
                       + (f" (not testable yet, fewer than 2 paired seeds: {', '.join(untestable)})" if untestable
                          else "") + ".")
    for study in ("non-text", "text", "text-1pct"):
        if study not in tables:
            continue
        res = tables[study]["results"]
        for ds in dict.fromkeys(r["dataset"] for r in res):
            rs = [r for r in res if r["dataset"] == ds]
            # what the metric counts: pieces where segments are voted (n_groups), else examples
            n_test = min((r.get("test", {}).get("n_groups") or r.get("test", {}).get("n") or 10**9) for r in rs)
            if n_test < 100:
                out.append(f"{study}/{ds}: the test set has {n_test} examples (after voting, where it applies): one "
                           f"example moves accuracy by {100 / n_test:.1f} points.")
            seg = segment_tests(tables[study]["orderings"], rs, ds)
            if seg:
                out.append(f"{study}/{ds}: per segment, before the vote (not the paper's metric, but "
                           f"{min(r['test']['n'] for r in rs):,}+ test segments instead of {n_test} pieces): "
                           + "; ".join(seg) + ".")
            prec = {}
            for r in rs:
                prec.setdefault(r["label"], set()).add(precision_of(r))
            # the pairs the orderings table compared on this dataset (its claims "a > b")
            o = tables[study]["orderings"]
            pairs = [tuple(c.split(" > ")) for c in o.loc[o["dataset"] == ds, CLAIM] if " > " in c]
            mixed = [f"{a} ({'/'.join(sorted(prec[a]))}) > {b} ({'/'.join(sorted(prec[b]))})" for a, b in pairs
                     if a in prec and b in prec and prec[a] | prec[b] != prec[a] & prec[b]]
            if mixed:
                why = prose().get("precision-change")
                out.append(f"{study}/{ds}: compared cells that ran in different precisions: {'; '.join(mixed)}"
                           + (f" ({why})" if why else "") + ": the difference also carries the precision's.")
            flat = [r for r in rs if "mcc" in r.get("test", {}) and abs(r["test"]["mcc"]) < 1e-9]
            if flat:
                out.append(f"{study}/{ds}: {len(flat)} of {len(rs)} runs predict a single class on the test set "
                           f"(MCC 0: {', '.join(sorted({r['label'] for r in flat}))}); within this budget they have "
                           "not started to learn the task, so their score is the majority-class rate.")
            if root is not None:
                late = late_loss(root, study, ds)
                if len(late) > 1:
                    order = sorted(late, key=late.get)
                    out.append(f"{study}/{ds}: training loss over the last quarter of steps (mean over seeds), lowest "
                               "first: " + ", ".join(f"{k} {late[k]:.3f}" for k in order) + ".")
    for study in ("non-text", "text", "text-1pct"):
        if study not in tables:
            continue
        o = tables[study]["orderings"]
        for claim in dict.fromkeys(o["paper's claim"]):
            sub = o[o["paper's claim"] == claim]
            untested = int(sub["verdict"].str.startswith("n/a").sum())
            sub = sub[~sub["verdict"].str.startswith("n/a")]
            n = len(sub)
            if untested:
                out.append(f"{study}: `{claim}`: not testable yet on {untested} dataset(s) (fewer than 2 paired "
                           "seeds).")
            if not n:
                continue
            if "≈" in claim:
                k = int((sub["verdict"].str.startswith("close")).sum())
                out.append(f"{study}: `{claim}`: close on {k} of {n} datasets.")
            else:
                h = int((sub["verdict"] == "holds").sum())
                ns = int((sub["verdict"] == "not significant").sum())
                rv = int(sub["verdict"].str.startswith("reversed").sum())
                nd = int((sub["verdict"] == "no difference").sum())
                same = int(sub["verdict"].str.startswith("right direction on every seed").sum())
                out.append(f"{study}: `{claim}`: holds on {h}, same direction but not significant on {ns}"
                           + (f", same direction by the same amount on every seed (untestable) on {same}"
                              if same else "")
                           + f", reversed on {rv}" + (f", no difference on {nd}" if nd else "") + f" of {n} datasets.")
    for study in ("text", "text-1pct", "non-text"):
        o = tables.get(study, {}).get("orderings")
        if o is None or PAPER_GAP_VERDICT not in o:
            continue
        o = o[o[PAPER_GAP_VERDICT] != ""]
        if len(o):
            kinds = {}
            for _, r in o.iterrows():
                kinds.setdefault(r[PAPER_GAP_VERDICT].split(" (")[0], []).append(
                    f"{r['dataset']} {r[CLAIM]} ({r['mean diff']} against {r[PAPER_GAP]})")
            out.append(f"{study}: against the paper's own difference for each pair it prints (its two numbers ÷ 100; "
                       f"{len(o)} pair{'s' if len(o) != 1 else ''}): "
                       + "; ".join(f"{k} on {len(v)}: {', '.join(v)}" for k, v in kinds.items()) + ".")
    if "pretrain-steps" in tables and root is None:
        s = tables["pretrain-steps"]["summary"].sort_values("step")
        for ds, g in s.groupby("dataset"):
            out.append(f"pretrain-steps ({ds}): step 0 {g.iloc[0]['mean']:.4f}, last {g.iloc[-1]['mean']:.4f}.")
    if root is not None:
        # Figure 3 as the share of the gain at ~2% of the steps, and which verdicts the best-lr study changes
        from .round2 import round2_findings
        out += round2_findings(round2 if round2 is not None else Path(root))
    return out
