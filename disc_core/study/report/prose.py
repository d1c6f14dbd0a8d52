"""The report's prose that is this study's own: its discussion, its history, the numbers it quotes from past
measurements. It lives in ``docs/report-discussion.md`` (data, not code), one ``## key`` section each, and the
writer includes the sections it finds:

- ``discussion``: the closing "where and why this differs from the paper"
- ``lr-grid``: what the learning-rate grid is (printed above its table); ``lr-grid after: <folder>``: a note
  under it, printed when ``<root>/<folder>`` exists
- ``lr-look``: what the ``lr-look`` side study is, printed when ``<root>/lr-look`` exists
- ``set-aside: <folder>``: why the cells under ``<root>/<folder>`` were set aside by a change of plan
- ``throughput: <dataset>``: a sentence on the measured training throughput of ``<dataset>``'s cells, with
  ``{median}`` (tokens/s) and ``{load_average}`` filled in
- ``precision-change``: why compared cells ran in different precisions (inside a finding)

A missing file or section leaves that part out; nothing else depends on it.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["PROSE_FILE", "prose", "keyed"]

PROSE_FILE = Path(__file__).resolve().parents[3] / "docs" / "report-discussion.md"
_HEADING = re.compile(r"^## (.+?)\s*$")


def prose(path: str | Path | None = None) -> dict[str, str]:
    """``{section key: its text}`` of the prose file (the text between its heading and the next one, without
    the blank lines around it); empty when the file is missing."""
    try:
        lines = Path(path or PROSE_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    out: dict[str, list[str]] = {}
    key = None
    for line in lines:
        m = _HEADING.match(line)
        if m:
            key = m.group(1)
            out[key] = []
        elif key is not None:
            out[key].append(line)
    return {k: "\n".join(v).strip("\n") for k, v in out.items()}


def keyed(kind: str, sections: dict[str, str] | None = None) -> dict[str, str]:
    """``{argument: text}`` of the sections headed ``<kind>: <argument>``, in the file's order."""
    sections = prose() if sections is None else sections
    prefix = f"{kind}: "
    return {k[len(prefix):]: v for k, v in sections.items() if k.startswith(prefix)}
