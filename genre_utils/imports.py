"""The package's own import statements, read from its files with ``ast`` (nothing is imported).

What :func:`genre_utils.provenance.code_fingerprint` follows to key a stage on its code, what the floor
checks of :mod:`genre_utils.floors` are made with, and what ``tools/import_graph.py`` reports. An import is
*local* when it sits inside a function (it runs when the function is called, not when the module is
imported).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGE_DIR", "Import", "module_names", "imports_of", "package_imports", "import_graph", "circles",
           "private_names", "library_imports_in_functions", "notebook_modules"]

#: The package's folder (this checkout's or the installed one).
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    """One package module named by one import statement of another module."""

    importer: str      # dotted name of the importing module
    target: str        # dotted name of the module imported
    names: tuple       # names taken from it (``from target import a, b``); () for a whole module
    line: int
    local: bool        # inside a function (runs when called, not when the module is imported)
    comment: str       # the comment that explains the statement ('' when none; see _comment)


def module_names(package_dir=PACKAGE_DIR) -> dict[str, Path]:
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
    """The comment explaining the import on line ``lineno`` (1-based): on its line, else on a comment-only
    line above it or above the block of import statements (and blank lines) it belongs to, or on that
    block's first statement."""
    here = lines[lineno - 1] if lineno - 1 < len(lines) else ""
    if "#" in here:
        return here.split("#", 1)[1].strip()
    i = lineno - 2
    while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith(("import ", "from "))):
        if "#" in lines[i]:
            return lines[i].split("#", 1)[1].strip()
        i -= 1
    above = lines[i].strip() if i >= 0 else ""
    return above[1:].strip() if above.startswith("#") else ""


def _statements(tree: ast.AST):
    """``(node, inside_a_function)`` for every import statement of ``tree``."""
    todo = [(tree, False)]
    while todo:
        node, local = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, local
        inner = local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        todo += [(child, inner) for child in ast.iter_child_nodes(node)]


def _resolve(node: ast.ImportFrom, base: list[str]) -> str:
    if not node.level:
        return node.module or ""
    stem = base[:len(base) - node.level + 1]
    return ".".join([*stem, node.module] if node.module else stem)


def imports_of(name: str, path, modules: dict[str, Path], source: str | None = None) -> list[Import]:
    """Every package module that module ``name`` (file ``path``) imports, one record per module named.

    ``from pkg import sub`` names ``pkg`` and, when ``sub`` is a module, ``pkg.sub`` (both run); a package
    the importer lives in is not counted (it is already running).
    """
    source = Path(path).read_text(encoding="utf-8") if source is None else source
    lines = source.splitlines()
    pkg = name.split(".")[0]
    base = name.split(".") if Path(path).name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node, local in _statements(ast.parse(source, filename=str(path))):
        comment = _comment(lines, node.lineno)
        if isinstance(node, ast.Import):
            out += [Import(name, a.name, (), node.lineno, local, comment) for a in node.names if a.name in modules]
            continue
        mod = _resolve(node, base)
        if mod.split(".")[0] != pkg:
            continue
        submodules = [a.name for a in node.names if f"{mod}.{a.name}" in modules]
        others = tuple(a.name for a in node.names if a.name not in submodules)
        if others or not (name == mod or name.startswith(mod + ".")):
            out.append(Import(name, mod, others, node.lineno, local, comment))
        out += [Import(name, f"{mod}.{sub}", (), node.lineno, local, comment) for sub in submodules]
    return sorted(out, key=lambda r: (r.line, r.target))


def package_imports(package_dir=PACKAGE_DIR) -> list[Import]:
    """The import records of every module under ``package_dir``."""
    modules = module_names(package_dir)
    return [rec for name, path in modules.items() for rec in imports_of(name, path, modules)]


def import_graph(records: list[Import], top_level_only: bool = False) -> dict[str, set[str]]:
    """importer -> the package modules it imports (no self edges)."""
    out: dict[str, set[str]] = {}
    for rec in records:
        if rec.importer != rec.target and not (top_level_only and rec.local):
            out.setdefault(rec.importer, set()).add(rec.target)
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of two or more modules of ``graph`` (each sorted), found with Tarjan's
    algorithm without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return sorted(out)


def private_names(package_dir=PACKAGE_DIR) -> list[tuple[str, str, str]]:
    """``(importer, module, name)`` for each private name (one leading underscore) a module takes from another
    module of the package: ``from m import _x``, or ``m._x`` where ``m`` names a package module it imported."""
    modules = module_names(package_dir)
    found = set()
    for name, path in modules.items():
        records = imports_of(name, path, modules)
        aliases = {}
        for rec in records:
            if rec.target == name:
                continue
            found.update((name, rec.target, n) for n in rec.names if n.startswith("_") and not n.startswith("__"))
            aliases[rec.target.rsplit(".", 1)[-1]] = rec.target
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.alias) and node.asname and node.name.rsplit(".", 1)[-1] in aliases:
                aliases[node.asname] = aliases[node.name.rsplit(".", 1)[-1]]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.add((name, aliases[node.value.id], node.attr))
    return sorted(found)


def library_imports_in_functions(package_dir=PACKAGE_DIR) -> list[tuple[str, int, str]]:
    """``(module, line, library)`` for every import of another library (not the package) inside a function."""
    out = []
    pkg = Path(package_dir).name
    for name, path in module_names(package_dir).items():
        for node, local in _statements(ast.parse(path.read_text(encoding="utf-8"))):
            if not local or getattr(node, "level", 0):
                continue
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            out += [(name, node.lineno, lib.split(".")[0]) for lib in names if lib.split(".")[0] != pkg]
    return sorted(out)


def notebook_modules(notebook, package_dir=PACKAGE_DIR) -> list[str]:
    """The package modules the code cells of ``notebook`` (an ``.ipynb`` path) import, sorted.

    IPython's ``%magic`` and ``!shell`` lines are left out before the cells are parsed; a cell that still
    does not parse counts as importing the whole package (``genre_utils`` and every module).
    """
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    modules = module_names(package_dir)
    pkg = Path(package_dir).name
    found = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell.get("source", []))
        code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in text.splitlines())
        try:
            records = imports_of(f"{pkg}.__notebook__", Path(package_dir) / "__notebook__.py", modules, code)
        except SyntaxError:
            return sorted(modules)
        found.update(r.target for r in records)
    return sorted(found)
