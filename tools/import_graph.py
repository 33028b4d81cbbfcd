"""Measure the import graph of the package's own modules (top-level and function-local imports, via ``ast``).

Usage::

    python tools/import_graph.py [PACKAGE_DIR] [--json] [--edges]

``PACKAGE_DIR`` defaults to this checkout's ``genre_utils``; give another checkout's to measure it (its files
are read, never imported; the reading is :mod:`genre_utils.imports` of this checkout). Reports

* modules, and module-to-module imports (distinct importer/imported pairs), how many of them happen only
  inside functions, and how many import statements of package modules sit inside functions (and how many of
  those carry no comment saying why);
* the circles: every strongly connected set of two or more modules, with its members;
* private names (one leading underscore) taken from another module, by ``from m import _x`` or ``m._x``;
* by the floors this checkout declares (:data:`genre_utils.floors.FLOORS`), the imports that go up a floor
  and the modules without a floor.

``tests/test_floors.py`` enforces the same numbers with the same functions.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genre_utils import floors, imports  # noqa: E402  (this checkout's package, whatever is installed)


def measure(package_dir: Path) -> dict:
    """The numbers this script prints, as a dict."""
    package_dir = Path(package_dir)
    records = imports.package_imports(package_dir)
    pairs = {(a, b) for a, bs in imports.import_graph(records).items() for b in bs}
    top = {(a, b) for a, bs in imports.import_graph(records, top_level_only=True).items() for b in bs}
    local = {(r.importer, r.line): r for r in records if r.local}
    level = {m: floors.FLOOR_ORDER.index(floors.floor_of(m)) for m in imports.module_names(package_dir)
             if floors.floor_of(m) is not None}
    return {
        "modules": len(imports.module_names(package_dir)),
        "module_imports": len(pairs),
        "only_inside_functions": len(pairs - top),
        "local_import_statements": len(local),
        "uncommented_local_imports": sorted(f"{r.importer}:{r.line} -> {r.target}" for r in local.values()
                                            if not r.comment),
        "circles": imports.circles(imports.import_graph(records)),
        "private_names": [f"{m}.{n} (in {a})" for a, m, n in imports.private_names(package_dir)],
        "upward_imports": sorted(f"{a} ({floors.floor_of(a)}) -> {b} ({floors.floor_of(b)})" for a, b in pairs
                                 if a in level and b in level and level[b] > level[a]),
        "unassigned": sorted(m for m in imports.module_names(package_dir) if m not in level),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", nargs="?", default=str(ROOT / "genre_utils"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--edges", action="store_true", help="with --json, also every import record")
    args = parser.parse_args(argv)
    report = measure(Path(args.package_dir))
    if args.json:
        if args.edges:
            report["records"] = [asdict(r) for r in imports.package_imports(Path(args.package_dir))]
        print(json.dumps(report, indent=1))
        return 0
    print(f"modules: {report['modules']}")
    print(f"module-to-module imports: {report['module_imports']}, "
          f"{report['only_inside_functions']} of them only inside functions")
    print(f"import statements of package modules inside functions: {report['local_import_statements']}, "
          f"{len(report['uncommented_local_imports'])} without a comment")
    for key in ("circles", "private_names", "upward_imports", "unassigned"):
        print(f"{key.replace('_', ' ')}: {len(report[key])}")
        for item in report[key]:
            print("  " + (", ".join(item) if isinstance(item, list) else item))
    return 0


if __name__ == "__main__":
    sys.exit(main())
