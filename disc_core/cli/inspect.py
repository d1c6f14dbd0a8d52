"""CLI command ``inspect``: look inside finished runs (layer-wise CKA, embedding drift, attention).

``python -m disc_core inspect RUN [RUN ...]`` takes run folders or run-store ids (``runs list``), computes each
run's inspection once (saved under ``<run>/inspect/``, reused afterwards) and writes the numbers and figures of
all of them together: ``inspect.json``, ``inspect.html`` (interactive, works offline) and PNGs.
"""

from __future__ import annotations

from pathlib import Path

from .base import command, print_table

__all__: list[str] = []


@command("inspect", "look inside finished runs: which layers fine-tuning rewrote (CKA), how far the mapped "
                    "tokens' embeddings moved, attention maps and entropy")
def _inspect(p):
    from ..study.inspect import DEFAULTS

    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders or run ids (`python -m disc_core runs list`); "
                                                          "e.g. a pretrained and a rand run of one comparison")
    p.add_argument("--out", help="folder for the figures and numbers of all the runs given (default: the first "
                                 "run's inspect/ folder)")
    p.add_argument("--examples", type=int, default=DEFAULTS["n_examples"],
                   help=f"validation examples in the sample (default {DEFAULTS['n_examples']})")
    p.add_argument("--max-tokens", type=int, default=DEFAULTS["max_tokens"],
                   help=f"each example cut to this many ids, [SEP] kept (default {DEFAULTS['max_tokens']})")
    p.add_argument("--sample-seed", type=int, default=DEFAULTS["sample_seed"], help="seed of the sample (default 0)")
    p.add_argument("--recompute", action="store_true", help="ignore the saved inspection and compute it again")
    p.add_argument("--no-png", action="store_true", help="write no PNG (only inspect.json and inspect.html)")

    def run(args) -> int:
        from ..errors import ConfigError
        from ..fileio import atomic_write_json, atomic_write_text
        from ..study.inspect import (cka_figure, drift_figure, embedding_figure, entropy_figure, attention_figure,
                                     inspect_run, resolve_run, write_pngs)

        if args.examples < 2 or args.max_tokens < 3:
            raise ConfigError("--examples must be at least 2 and --max-tokens at least 3")
        dirs = [resolve_run(r) for r in args.runs]
        runs = []
        for d in dirs:
            where = f"{d.parent.name}/{d.name}"
            data = inspect_run(d, recompute=args.recompute, n_examples=args.examples, max_tokens=args.max_tokens,
                               sample_seed=args.sample_seed, progress=lambda t, w=where: print(f"{w}: {t} ..."))
            runs.append(data)
        out = Path(args.out) if args.out else dirs[0] / "inspect"
        out.mkdir(parents=True, exist_ok=True)
        keep = ("label", "variant", "dataset", "seed", "model", "run_dir", "metric", "score", "predicts_one_class",
                "split", "n_examples", "n_tokens", "params", "layers", "cka", "entropy")
        summary = [{**{k: r[k] for k in keep}, "drift": {k: v for k, v in r["drift"].items() if k != "pca"}}
                   for r in runs]
        atomic_write_json(out / "inspect.json", summary, indent=1)
        figs = [cka_figure(runs), entropy_figure(runs), drift_figure(runs)]
        for r in runs:
            figs += [embedding_figure(r), attention_figure(r, layer=r["attention"]["layers"] - 1)]
        html = ["<html><head><meta charset='utf-8'><title>disc_core inspect</title></head><body>"]
        for k, f in enumerate(figs):
            html.append(f.to_html(full_html=False, include_plotlyjs=(k == 0)))
        html.append("</body></html>")
        atomic_write_text(out / "inspect.html", "\n".join(html))
        pngs = [] if args.no_png else write_pngs(runs, out)
        n_layers = max(len(r["cka"]) for r in runs)
        print("\nlinear CKA between the start and the fine-tuned model, by layer (0 = embeddings; 1 = unchanged):")
        print_table([{"run": f"{r['label']} seed {r['seed']}", **{f"L{i}": f"{c:.3f}" for i, c in enumerate(r["cka"])}}
                     for r in runs], ["run", *[f"L{i}" for i in range(n_layers)]])
        print("\nattention entropy by layer (nats; fine-tuned / start; uniform attention "
              f"{runs[0]['entropy']['uniform']:.2f}):")
        print_table([{"run": f"{r['label']} seed {r['seed']}",
                      **{f"L{i + 1}": f"{a:.2f}/{b:.2f}" for i, (a, b) in
                         enumerate(zip(r["entropy"]["finished"], r["entropy"]["start"]))}} for r in runs],
                    ["run", *[f"L{i + 1}" for i in range(n_layers - 1)]])
        print("\nhow far the mapped tokens' input embeddings moved (||after - before|| / ||before||):")
        print_table([{"run": f"{r['label']} seed {r['seed']}", "tokens": len(r["drift"]["ids"]),
                      "mean relative drift": f"{r['drift']['mean_relative']:.4f}",
                      "max": f"{max(r['drift']['relative'], default=0):.4f}",
                      "other vocabulary rows moved": f"{r['drift']['others_moved']} of {r['drift']['others_n']}"}
                     for r in runs])
        for r in runs:
            if r.get("predicts_one_class"):
                print(f"\nnote: {r['label']} seed {r['seed']} predicts a single class on its test set: its score is "
                      "the majority level, and what its layers and embeddings did explains no learning")
        print(f"\nwrote {out / 'inspect.json'}, {out / 'inspect.html'}" + "".join(f", {p.name}" for p in pngs))
        return 0

    return run
