"""The package keeps its floors (genre_utils.floors): every module on one, imports only downwards, no circle,
no private name across modules, function-local imports only where the floors allow them and explained."""

import subprocess
import sys
from pathlib import Path

import pytest

from genre_utils import floors, imports

ROOT = Path(__file__).resolve().parents[1]
RECORDS = imports.package_imports()
MODULES = imports.module_names()


def test_every_module_has_a_floor_and_every_entry_a_module():
    assert [m for m in MODULES if floors.floor_of(m) is None] == []
    assert set(floors.FLOORS.values()) <= set(floors.FLOOR_ORDER)
    short = {m.split(".", 1)[1] if "." in m else "" for m in MODULES}
    assert sorted(k for k in floors.FLOORS if k not in short) == []  # no entry left from a removed module


def test_no_module_imports_a_higher_floor():
    def level(m):
        return floors.FLOOR_ORDER.index(floors.floor_of(m))

    upward = sorted({f"{r.importer} ({floors.floor_of(r.importer)}) -> {r.target} ({floors.floor_of(r.target)})"
                     for r in RECORDS if level(r.target) > level(r.importer)})
    assert upward == []


def test_no_import_circle():
    assert imports.circles(imports.import_graph(RECORDS)) == []


def test_no_private_name_is_imported_across_modules():
    assert imports.private_names() == []


def test_function_local_package_imports_only_on_the_top_floors_and_each_explained():
    local = [r for r in RECORDS if r.local]
    misplaced = sorted(f"{r.importer}:{r.line} -> {r.target}" for r in local
                       if floors.floor_of(r.importer) not in floors.LOCAL_IMPORT_FLOORS)
    assert misplaced == []
    unexplained = sorted(f"{r.importer}:{r.line} -> {r.target}" for r in local if not r.comment)
    assert unexplained == []


def test_function_local_imports_of_libraries_are_declared():
    undeclared = [f"{m}:{line} imports {lib}" for m, line, lib in imports.library_imports_in_functions()
                  if lib not in floors.DEFERRED_LIBRARIES]
    assert undeclared == []


def test_the_checks_see_what_they_look_for(tmp_path):
    """The graph reader finds a circle, an upward-looking local import, a private name and its comment."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import _hidden\n")
    (pkg / "b.py").write_text("def f():\n    # why: to see it\n    from . import a\n\n    return a\n\n"
                              "def g():\n    from .a import x\n    return x\n")
    records = imports.package_imports(pkg)
    assert imports.circles(imports.import_graph(records)) == [["pkg.a", "pkg.b"]]
    assert imports.circles(imports.import_graph(records, top_level_only=True)) == []
    assert [(r.target, r.local, r.comment) for r in records if r.importer == "pkg.b"] == [
        ("pkg.a", True, "why: to see it"), ("pkg.a", True, "")]
    assert imports.private_names(pkg) == [("pkg.a", "pkg.b", "_hidden")]


def test_notebook_modules_reads_the_imports_of_code_cells(tmp_path):
    import json

    nb = tmp_path / "n.ipynb"
    cells = [{"cell_type": "code", "source": ["%matplotlib inline\n", "from genre_utils import paper, report\n"]},
             {"cell_type": "markdown", "source": ["from genre_utils import store"]},
             {"cell_type": "code", "source": ["from genre_utils.stats import Accuracy\n"]}]
    nb.write_text(json.dumps({"cells": cells}))
    assert imports.notebook_modules(nb) == ["genre_utils.paper", "genre_utils.report", "genre_utils.stats"]


@pytest.mark.parametrize("book_notebook", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_imports_only_existing_modules(book_notebook):
    modules = imports.notebook_modules(book_notebook)
    assert modules and set(modules) <= set(MODULES)


def test_the_measuring_script_reports_the_clean_graph():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py")], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for line in ("circles: 0", "private names: 0", "upward imports: 0", "unassigned: 0"):
        assert line in proc.stdout.splitlines(), proc.stdout
