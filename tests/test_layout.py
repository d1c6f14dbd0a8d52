"""The package layout names the architecture: layers, lowest first, and no import circle.

The import graph is built from the source (every ``import`` and ``from ... import``, the ones inside
functions too), so an import that only runs on some path still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "disc_core"

#: Layer of each top-level part of disc_core; a module may import only from its own layer or below.
LAYERS = {"errors": 0, "fileio": 0, "plots": 0, "data": 1, "engine": 2, "runs": 3, "study": 4, "cli": 5,
          "__init__": 6, "__main__": 6}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The disc_core modules ``name`` imports (``from . import x`` resolves to module ``x`` when it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            # the longest known module that t names (``disc_core.data.base.Record`` -> ``disc_core.data.base``)
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {n: imports_of(n, p, set(mods)) for n, p in mods.items()}


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS["__init__"] if len(parts) == 1 else LAYERS[parts[1]]


def test_every_top_level_part_has_a_layer():
    for name in modules():
        parts = name.split(".")
        if len(parts) > 1:
            assert parts[1] in LAYERS, f"{name}: a new top-level part of disc_core needs a place in LAYERS"


def test_imports_follow_the_layer_order():
    bad = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
           for a, deps in graph().items() for b in deps
           if layer(b) > layer(a) and not a.startswith(b + ".") and not b.startswith(a + ".")]
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``g`` as a list of nodes (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(g, WHITE)
    stack: list[str] = []

    def visit(n):
        color[n] = GREY
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if color.get(m) == GREY:
                return stack[stack.index(m):] + [m]
            if color.get(m) == WHITE:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(g):
        if color[n] == WHITE:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_circle():
    # a package's __init__ may re-export its own submodules; a submodule reaching back up into its
    # package's __init__ is the circle that counts
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checker_sees_circles_and_layer_breaks():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    src = (PKG / "data" / "base.py").read_text()
    assert "from ..engine" not in src  # the layer rule below would flag it: data is layer 1, engine 2
    assert layer("disc_core.engine.models") > layer("disc_core.data.text")


def test_disc_core_never_imports_streamlit():
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(x == "streamlit" or x.startswith("streamlit.") for x in names), name


@pytest.mark.parametrize("row", ["disc_core/data/", "disc_core/engine/", "disc_core/runs/", "disc_core/study/",
                                 "disc_core/cli/"])
def test_readme_table_names_each_package(row):
    readme = (PKG.parent / "README.md").read_text()
    assert f"`{row}" in readme, f"README's 'Where things are' table lacks {row}"


def test_readme_table_paths_exist():
    import re

    readme = (PKG.parent / "README.md").read_text()
    table = readme[readme.index("## Where things are"):readme.index("## The dashboard")]
    for path in re.findall(r"^\| `([^`]+)`", table, re.M):
        assert (PKG.parent / path).exists(), f"README names {path}, which is not in the tree"
    for pkg in ("data", "engine", "runs", "study", "cli"):
        for mod in (PKG / pkg).glob("*.py"):
            if mod.stem != "__init__":
                assert f"`{mod.stem}`" in table, f"README's table does not name disc_core/{pkg}/{mod.name}"


def test_atomic_write_leaves_old_or_new(tmp_path, monkeypatch):
    import os

    from disc_core.fileio import atomic_write_json

    p = tmp_path / "sub" / "r.json"
    atomic_write_json(p, {"a": 1})
    assert p.read_text() == '{\n  "a": 1\n}'

    def disk_gone(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_gone)  # the crash comes after the bytes, before the rename
    with pytest.raises(OSError, match="No space"):
        atomic_write_json(p, {"a": 2})
    assert p.read_text() == '{\n  "a": 1\n}' and sorted(x.name for x in p.parent.iterdir()) == ["r.json"]
