"""Measure the import graph of a package's own modules (top-level and function-local imports, via ``ast``).

Usage::

    python tools/import_graph.py [PACKAGE_DIR] [--json] [--edges]

``PACKAGE_DIR`` defaults to this checkout's ``genre_utils``; give another checkout's to measure it (the
script reads files only, it imports nothing from the measured tree). Reports

* modules, and module-to-module imports (distinct importer/imported pairs), how many of them happen only
  inside functions, and how many import statements sit inside functions;
* the circles: every strongly connected set of two or more modules, listed with its members;
* private names (a leading underscore) taken from another module, by ``from m import _x`` or ``m._x``;
* with ``genre_utils/floors.py`` present in the measured tree, the imports that go up a floor.

The functions are what ``tests/test_floors.py`` enforces with, so the numbers printed here are the ones the
test sees.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Import:
    """One package module named by one import statement of another module."""

    importer: str      # dotted module name of the importing file
    target: str        # dotted module name imported
    names: tuple       # names taken from it (``from target import a, b``); () for ``import target``
    line: int
    local: bool        # inside a function or method (not executed at import time)
    comment: str       # the comment on the statement's line or the line before it ('' when none)


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``*.py`` under ``package_dir`` (``__init__`` names its package)."""
    package_dir = Path(package_dir)
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = (package_dir.name, *path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _comment(lines: list[str], lineno: int) -> str:
    """The comment that explains the import statement on line ``lineno`` (1-based): one on its own line, else
    a comment-only line above it or above the block of import statements (and blank lines) it belongs to."""
    here = lines[lineno - 1] if lineno - 1 < len(lines) else ""
    if "#" in here:
        return here.split("#", 1)[1].strip()
    i = lineno - 2
    while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith(("import ", "from "))):
        if "#" in lines[i] and lines[i].strip().startswith(("import ", "from ")):
            return lines[i].split("#", 1)[1].strip()  # the block's comment, on its first statement
        i -= 1
    above = lines[i].strip() if i >= 0 else ""
    return above[1:].strip() if above.startswith("#") else ""


def _parents(tree: ast.AST) -> dict:
    parent = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
    return parent


def _inside_function(node, parent) -> bool:
    while node in parent:
        node = parent[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every package module that the module ``name`` (file ``path``) imports, one record per module named.

    ``from pkg import sub`` names ``pkg`` and, when ``sub`` is a module, ``pkg.sub`` too (both run).
    """
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    parent = _parents(tree)
    pkg = name.split(".")[0]
    is_package = Path(path).name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        local = _inside_function(node, parent)
        comment = _comment(lines, node.lineno)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == pkg and alias.name in modules:
                    out.append(Import(name, alias.name, (), node.lineno, local, comment))
            continue
        if node.level:
            stem = base[:len(base) - node.level + 1]
            mod = ".".join([*stem, node.module] if node.module else stem)
        else:
            mod = node.module or ""
        if mod.split(".")[0] != pkg:
            continue
        submodules = [a.name for a in node.names if f"{mod}.{a.name}" in modules]
        others = tuple(a.name for a in node.names if a.name not in submodules)
        if others or not submodules:
            out.append(Import(name, mod, others, node.lineno, local, comment))
        elif not name.startswith(mod + ".") and name != mod:  # `from .synth import corpus` runs synth/__init__
            # too, unless synth is the importer's own package (already running)
            out.append(Import(name, mod, (), node.lineno, local, comment))
        out += [Import(name, f"{mod}.{sub}", (), node.lineno, local, comment) for sub in submodules]
    return out


def private_attributes(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``alias._private`` of ``name``'s file where ``alias`` is a package module
    bound by an import (``from . import widgets`` ... ``widgets._store_windows``)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    aliases = {}
    for rec in imports_of(name, path, modules):
        if rec.target in modules:
            aliases[rec.target.rsplit(".", 1)[-1]] = rec.target
    for node in ast.walk(tree):  # `import genre_utils.x as y` / `from . import x as y`
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.asname:
                    full = [t for t in aliases.values() if t.endswith("." + alias.name) or t == alias.name]
                    if full:
                        aliases[alias.asname] = full[0]
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_")
                and not node.attr.startswith("__") and node.value.id in aliases
                and aliases[node.value.id] != name):
            found.add((aliases[node.value.id], node.attr))
    return sorted(found)


def all_imports(package_dir: Path) -> list[Import]:
    """The import records of every module under ``package_dir``."""
    modules = module_names(package_dir)
    return [rec for name, path in modules.items() for rec in imports_of(name, path, modules)]


def edges(records: list[Import], top_level_only: bool = False) -> dict[str, set[str]]:
    """importer -> the package modules it imports (no self edges)."""
    out: dict[str, set[str]] = {}
    for rec in records:
        if rec.importer != rec.target and not (top_level_only and rec.local):
            out.setdefault(rec.importer, set()).add(rec.target)
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of two or more modules (Tarjan), each sorted; sorted by first member."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return sorted(out)


def private_imports(package_dir: Path) -> list[tuple[str, str, str]]:
    """``(importer, module, name)`` for each private name one module takes from another."""
    modules = module_names(package_dir)
    found = set()
    for name, path in modules.items():
        for rec in imports_of(name, path, modules):
            if rec.target != name:
                found.update((name, rec.target, n) for n in rec.names if n.startswith("_") and n != "__version__")
        found.update((name, mod, attr) for mod, attr in private_attributes(name, path, modules))
    return sorted(found)


def measure(package_dir: Path) -> dict:
    """The numbers this script prints, as a dict."""
    package_dir = Path(package_dir)
    records = all_imports(package_dir)
    graph = edges(records)
    top = edges(records, top_level_only=True)
    pairs = {(a, b) for a, bs in graph.items() for b in bs}
    top_pairs = {(a, b) for a, bs in top.items() for b in bs}
    report = {
        "modules": len(module_names(package_dir)),
        "module_imports": len(pairs),
        "only_inside_functions": len(pairs - top_pairs),
        "local_import_statements": len({(r.importer, r.line) for r in records if r.local}),
        "circles": circles(graph),
        "private_names": [".".join(p[1:]) + f" (in {p[0]})" for p in private_imports(package_dir)],
    }
    floors_file = package_dir / "floors.py"
    if floors_file.is_file():
        spec = {}
        exec(compile(floors_file.read_text(encoding="utf-8"), str(floors_file), "exec"), spec)  # data only
        order = spec["FLOOR_ORDER"]
        floor = spec["FLOORS"]
        short = package_dir.name + "."
        level = {m: order.index(floor[m[len(short):]]) for m in module_names(package_dir)
                 if m[len(short):] in floor}
        report["upward_imports"] = sorted(f"{a} -> {b}" for a, b in pairs
                                          if a in level and b in level and level[b] > level[a])
        report["unassigned"] = sorted(m for m in module_names(package_dir)
                                      if m != package_dir.name and m not in level)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", nargs="?", default=str(ROOT / "genre_utils"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--edges", action="store_true", help="also list every import record")
    args = parser.parse_args(argv)
    report = measure(Path(args.package_dir))
    if args.edges:
        report["records"] = [asdict(r) for r in all_imports(Path(args.package_dir))]
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"modules: {report['modules']}")
    print(f"module-to-module imports: {report['module_imports']}, "
          f"{report['only_inside_functions']} of them only inside functions")
    print(f"import statements inside functions: {report['local_import_statements']}")
    print(f"circles: {len(report['circles'])}")
    for group in report["circles"]:
        print("  " + ", ".join(group))
    print(f"private names imported across modules: {len(report['private_names'])}")
    for item in report["private_names"]:
        print("  " + item)
    for key in ("upward_imports", "unassigned"):
        if key in report:
            print(f"{key.replace('_', ' ')}: {len(report[key])}")
            for item in report[key]:
                print("  " + item)
    return 0


if __name__ == "__main__":
    sys.exit(main())
