"""A custom mapping table (symbol -> token), read from a file, typed-in text or a dict, and checked.

:func:`parse_mapping_table` is the one reader: the ``custom`` strategy, the CLI (``--table FILE``) and the
dashboard's text box all go through it, so a bad row gets the same message (with its line) everywhere.
:func:`resolve_table` then checks the tokens against a tokenizer's vocabulary.

Formats: CSV or TSV lines ``symbol,token`` (a header ``symbol,token`` or ``symbol,token_id`` is optional; with
``token_id`` the second column holds token ids), or JSON: an object ``{symbol: token}`` or a list of
``{"symbol": ..., "token": ...}`` (or ``"token_id"``) records. Messages name no Python type and no CLI
option: the dashboard shows them as they are.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Mapping, Sequence

from ...errors import DataError
from .vocab import id_to_token, short_list, special_ids, unused_ids

__all__ = ["MappingTable", "parse_mapping_table", "TABLE_FORMATS"]

#: What a table may look like, in words (for messages and help texts).
TABLE_FORMATS = ("CSV/TSV lines symbol,token (a header symbol,token_id gives token ids instead), "
                 "or JSON {symbol: token}")
#: How typed-in text (no file) is named in messages.
TEXT_NAME = "the mapping table"


class MappingTable(dict):
    """symbol -> token (a string) or token id (an int), in the table's order.

    ``where[symbol]`` is the row's place: a 1-based line for CSV/TSV, ``"key 'A'"`` / ``"record 3"`` for JSON,
    ``"symbol 'A'"`` for a dict; ``source`` is the file it was read from (None for typed-in text or a dict).
    """

    def __init__(self, pairs=(), where: Mapping | None = None, source: Path | None = None, typed: bool = False):
        super().__init__(pairs)
        self.where = dict(where or {})
        self.source = source
        self.typed = typed  # read from typed-in text: a line number refers to TEXT_NAME

    def error(self, message: str, symbol: str | None = None, hint: str | None = None) -> DataError:
        """A :class:`DataError` that names the file (or the typed-in table) and the row of ``symbol``."""
        return _error(message, self.where.get(symbol) if symbol is not None else None,
                      self.source if self.source is not None else (TEXT_NAME if self.typed else None), hint)


def _error(message, loc, name, hint=None) -> DataError:
    if isinstance(loc, int):
        return DataError(message, path=name, line=loc, hint=hint)
    if loc is not None and name is None:
        return DataError(message, record=loc, hint=hint)
    return DataError(message, path=name, record=loc, hint=hint)


def _is_file_ref(s: str) -> bool:
    """A one-line string is a file name unless it holds a comma, a tab or JSON (then it is a one-row table)."""
    s = s.strip()
    if not s or "\n" in s:
        return False
    return Path(s).expanduser().is_file() or not (any(c in s for c in ",\t") or s.startswith(("{", "[")))


def parse_mapping_table(source, alphabet: Sequence[str] | None = None) -> MappingTable:
    """Read a custom mapping table: symbol -> token (``str``) or token id (``int``), in the table's order.

    Parameters
    ----------
    source : the table's text (CSV/TSV lines or JSON, see the module's docstring), a file (a ``Path``, or a
        one-line string without a comma or tab naming it), or a mapping symbol -> token / token id.
    alphabet : the dataset's symbols. When given, every symbol must have a row and every row a symbol of
        the alphabet (a misspelt or foreign symbol is reported with its line, not silently kept).

    Raises
    ------
    DataError : a missing file, a row that cannot be read, an empty symbol or token, a symbol given twice,
        a symbol not in ``alphabet`` or one of ``alphabet`` missing; each names the file (or "the mapping
        table" for typed-in text) and the line (JSON: the key or record).
    """
    if isinstance(source, MappingTable):
        table = source
    elif isinstance(source, Mapping):
        table = _collect([(f"symbol {str(k)!r}", k, v) for k, v in source.items()], None)
    elif isinstance(source, Path) or (isinstance(source, str) and _is_file_ref(source)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError("mapping table not found", path=path, hint=f"give a file of {TABLE_FORMATS}")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read the mapping table ({err})", path=path) from err
        table = _collect(_rows(text, path, as_json=path.suffix.lower() == ".json",
                               tabs=path.suffix.lower() in (".tsv", ".tab")), path)
    elif isinstance(source, str):
        table = _collect(_rows(source.lstrip("\ufeff"), TEXT_NAME), None, typed=True)
    else:
        raise DataError(f"a mapping table is text ({TABLE_FORMATS}), a file of it, or pairs of symbol and token")
    if alphabet is not None:
        alphabet = [str(s) for s in alphabet]
        known = set(alphabet)
        extra = [s for s in table if s not in known]
        if extra:
            raise table.error(f"symbol(s) {short_list(map(repr, extra))} are not in the dataset's alphabet "
                              f"({short_list(alphabet)})", extra[0],
                              "remove the row, or check the symbol's spelling (symbols are case-sensitive)")
        missing = [s for s in alphabet if s not in table]
        if missing:
            raise table.error(f"the table does not cover symbol(s) {short_list(missing)} of the alphabet",
                              hint="add one row per missing symbol")
    return table


def _collect(rows, path: Path | None, typed: bool = False) -> MappingTable:
    """A :class:`MappingTable` from rows (location, symbol, token-or-id); refuses empty and repeated symbols."""
    name = path if path is not None else (TEXT_NAME if typed else None)
    pairs, where = {}, {}
    for loc, sym, tok in rows:
        sym = str(sym).strip()
        if not sym:
            raise _error("empty symbol", loc, name)
        if sym in pairs:
            raise _error(f"symbol {sym!r} appears twice (also at {where[sym]})", loc, name)
        if isinstance(tok, bool) or not isinstance(tok, (int, str)):
            raise _error(f"the token of symbol {sym!r} must be a token or a token id (a whole number)", loc, name)
        if isinstance(tok, str):
            tok = tok.strip()
            if not tok:
                raise _error(f"symbol {sym!r} has no token", loc, name, "give one token per symbol: symbol,token")
        pairs[sym], where[sym] = tok, loc
    return MappingTable(pairs, where, path, typed)


def _rows(text: str, name, as_json: bool | None = None, tabs: bool = False) -> list[tuple[object, str, object]]:
    """Rows (location, symbol, token-or-id) of a table's text; ``name`` is the file (or :data:`TEXT_NAME`)."""
    if as_json or (as_json is None and text.lstrip().startswith(("{", "["))):
        return _json_rows(text, name)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delim = "\t" if tabs or "\t" in first else ","
    lines = list(csv.reader(text.splitlines(), delimiter=delim))
    header = [h.strip().lower() for h in lines[0]] if lines else []
    if "symbol" in header and ("token" in header or "token_id" in header):
        cs = header.index("symbol")
        ct, as_id = (header.index("token"), False) if "token" in header else (header.index("token_id"), True)
        start = 1
    else:
        cs, ct, as_id, start = 0, 1, False, 0
    sep = "a tab" if delim == "\t" else "a comma"
    rows = []
    for n, r in enumerate(lines[start:], start=start + 1):
        if not any(c.strip() for c in r):
            continue
        if len(r) <= max(cs, ct):
            raise DataError(f"expected two columns, symbol and token, separated by {sep} (got {len(r)})",
                            path=name, line=n)
        tok = r[ct].strip()
        if as_id:
            try:
                tok = int(tok)
            except ValueError:
                raise DataError(f"token_id {tok!r} is not a whole number", path=name, line=n) from None
        rows.append((n, r[cs], tok))
    if not rows:
        raise DataError("the table has no rows", path=name, hint="one line per symbol: symbol,token")
    return rows


def _json_rows(text: str, name) -> list[tuple[object, str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"not valid JSON ({e.msg})", path=name, line=e.lineno) from e
    if isinstance(data, dict):
        rows = [(f"key {k!r}", k, v) for k, v in data.items()]
    elif isinstance(data, list):
        rows = []
        for n, r in enumerate(data, start=1):
            if not isinstance(r, dict) or "symbol" not in r or not ("token" in r or "token_id" in r):
                raise DataError("each entry needs 'symbol' and 'token' (or 'token_id')", path=name, record=n)
            tok = r["token_id"] if "token_id" in r else r["token"]
            if "token_id" in r:
                try:
                    tok = int(tok)
                except (TypeError, ValueError):
                    raise DataError(f"token_id {tok!r} is not a whole number", path=name, record=n) from None
            rows.append((f"record {n}", r["symbol"], tok))
    else:
        raise DataError('expected a JSON object {"symbol": "token", ...} or a list of {"symbol", "token"} '
                        "records", path=name)
    if not rows:
        raise DataError("the table has no rows", path=name, hint='one entry per symbol: {"symbol": "token"}')
    return rows


def resolve_table(table: MappingTable, order: Sequence[str], tokenizer) -> dict[str, int]:
    """symbol -> token id for the symbols of ``order`` (in that order), every token checked against the
    vocabulary: it must exist, be neither special nor ``[unusedK]``, and serve one symbol only."""
    vocab = tokenizer.get_vocab()
    id2tok = id_to_token(tokenizer)
    specials, unused = special_ids(tokenizer), set(unused_ids(tokenizer))
    m: dict[str, int] = {}
    seen_id: dict[int, str] = {}
    for sym, tok in table.items():
        if isinstance(tok, int):
            if tok not in id2tok:
                raise table.error(f"token id {tok} is not in the vocabulary (0..{len(tokenizer) - 1})", sym)
            i = tok
        else:
            if tok not in vocab:
                hint = (f"did you mean {tok.lower()!r}? the vocabulary is lower-case"
                        if tok.lower() in vocab else "each symbol needs exactly one existing token of the model's "
                        "vocabulary (the frequent strategy's table shows valid ones)")
                raise table.error(f"token {tok!r} (for symbol {sym!r}) is not in the vocabulary", sym, hint)
            i = vocab[tok]
        if i in specials:
            raise table.error(f"symbol {sym!r} is mapped to the special token {id2tok[i]}", sym,
                              "special tokens mark sentence structure; pick an ordinary token")
        if i in unused:
            raise table.error(f"symbol {sym!r} is mapped to the reserved token {id2tok[i]}", sym,
                              "the unused strategy is the one that maps onto [unused*] tokens")
        if i in seen_id:
            raise table.error(f"token {id2tok[i]!r} is already used for another symbol "
                              f"(at {table.where.get(seen_id[i])}); the mapping must be one-to-one", sym)
        m[sym], seen_id[i] = i, sym
    return {s: m[s] for s in order}
