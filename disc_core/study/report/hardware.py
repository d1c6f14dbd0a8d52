"""What ran the report: the machine, the runs' measured speed, and where each cell ran (local or a Ray node)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from .cells import precision_of, read_json, result_problem
from .prose import keyed

__all__ = ["hardware", "throughput_lines", "where_section"]


def hardware(results: list[dict] | None = None) -> dict:
    """What ran the report: platform, CPU count, torch, device, and the runs' measured speed."""
    import torch

    hw = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
          "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
          "torch_threads": torch.get_num_threads(),
          "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}
    try:
        hw["load_average"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        pass
    if results:
        hw["devices_used"] = ", ".join(sorted({str(r.get("device")) for r in results}))
        hw["compute_hours"] = sum(r.get("wall_time_s", 0) for r in results) / 3600
    return hw


def throughput_lines(results: list[dict], hw: dict, sections: dict[str, str] | None = None) -> list[str]:
    """The prose file's ``throughput: <dataset>`` sentences, with the median training tokens/s of that
    dataset's cells (not the pre-training-steps runs) and the load average now; none for a dataset without
    such cells."""
    out = []
    for dataset, text in keyed("throughput", sections).items():
        tps = [r["tokens_per_s"] for r in results if r.get("tokens_per_s") and r["dataset"] == dataset
               and "pretrain_step" not in r]
        if tps:
            out.append("- " + text.format(median=f"{np.median(tps):,.0f}", load_average=hw.get("load_average", "?")))
    return out


def where_section(root: Path) -> list[str]:
    """'Where the cells ran': each finished cell's ``ran_on`` (local machine or Ray node) and precision, counted."""
    counts: dict[tuple[str, str], list[str]] = {}
    for p in sorted(root.rglob("results.json")):
        rel = p.parent.relative_to(root)
        if any(part.startswith("superseded") for part in rel.parts):
            continue
        res, err = read_json(p)
        if err or result_problem(res):
            continue  # named under "Cells that could not be read"
        where = res.get("ran_on")
        if not where:
            key = "not recorded (a cell from before cells recorded where they ran)"
        elif where.get("executor") == "ray":
            key = f"`{where.get('host')}` (ray node {str(where.get('node'))[:6]})"
        else:
            key = f"`{where.get('host')}` (local)"
        precision = precision_of(res) + ("" if res.get("precision") else " (not recorded)")
        counts.setdefault((key, precision), []).append(str(rel.parts[0]))
    if not counts:
        return []
    L = ["## Where the cells ran", "",
         "Precision: `bf16` is bf16 autocast (CUDA, or a CPU with AMX / AVX512-BF16 for a model of hidden size >= "
         "256), `fp32` plain; a compared pair whose two sides ran in different precisions is named under "
         "Findings.", "",
         "| where | precision | cells | studies |", "|---|---|---|---|"]
    for (key, precision), studies in sorted(counts.items(), key=lambda kv: -len(kv[1])):
        L.append(f"| {key} | {precision} | {len(studies)} | {', '.join(sorted(set(studies)))} |")
    return L + [""]
