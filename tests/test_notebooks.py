"""The committed book sources: clean notebooks, a parameters cell each, a table of contents that matches."""

from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell_with_the_build_parameters(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, path.name
    names = {line.split("=")[0].strip() for line in cells[0].source.splitlines()
             if "=" in line and not line.startswith("#")}
    assert {"profile", "build_dir", "gtzan", "fma", "device"} <= names


def test_toc_lists_every_page_and_only_existing_ones():
    files = toc_files()
    for f in files:
        assert (ROOT / f"{f}.ipynb").is_file() or (ROOT / f"{f}.md").is_file(), f
    pages = {p.with_suffix("").relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.ipynb")}
    pages |= {p.with_suffix("").relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.md")}
    assert pages == set(files)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_numbers_come_from_glue(path):
    """Results in Markdown cells are glued: no percentage is typed into a page's own prose."""
    import re

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            typed = re.findall(r"\d+(?:\.\d+)?\s?%", cell.source)
            assert not typed, f"{path.name}: typed percentages {typed} (glue them from the run or the paper table)"
