"""The book build: a raising cell or a bad parameter stops it with one line naming the page."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from eodrec.book.build import BookError, execute_pages, page_notebooks

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _page(path, *sources):
    cells = [new_code_cell(s) for s in sources]
    cells[0].metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)


def test_a_raising_cell_fails_the_build_and_leaves_no_page(tmp_path):
    source, pages = tmp_path / "src", tmp_path / "pages"
    source.mkdir()
    _page(source / "01_ok.ipynb", "x = 1", "print(x)")
    _page(source / "02_broken.ipynb", "x = 1", "raise RuntimeError('table is empty')")
    with pytest.raises(BookError, match=r"^02_broken.ipynb: RuntimeError: table is empty$"):
        execute_pages(source, pages, {})
    assert (pages / "01_ok.ipynb").exists()
    assert sorted(p.name for p in pages.iterdir()) == ["01_ok.ipynb"]


def test_a_bad_page_parameter_is_one_line(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    _page(
        source / "01_page.ipynb",
        'profile = "smoke"',
        "from eodrec.book.notebook import page_parameters\npage_parameters(profile)",
    )
    with pytest.raises(BookError) as info:
        execute_pages(source, tmp_path / "pages", {"profile": "fast"})
    assert str(info.value) == (
        "01_page.ipynb: ParameterError: profile='fast' is not allowed; "
        "choose one of: smoke, quick, paper"
    )


def test_every_page_has_a_literal_parameters_cell_then_validation():
    for path in page_notebooks(ROOT / "notebooks"):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        tagged = [i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, path.name
        code = [line.split("#")[0] for line in "".join(cells[tagged[0]]["source"]).splitlines()]
        assert not any("import" in line or "(" in line for line in code), path.name
        assert "page_parameters(" in "".join(cells[tagged[0] + 1]["source"]), path.name
        assert all(not c.get("outputs") for c in cells), f"{path.name} has stored outputs"


def test_every_page_ends_with_the_papermill_command_that_regenerates_it():
    from eodrec.book.notebook import page_parameters, regenerate_command

    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        last = nbformat.read(path, as_version=4).cells[-1]
        assert f'regenerate_command("{path.stem}", page)' in last.source, path.name
    text = regenerate_command("03_main_results", page_parameters("quick", "/data"))
    assert "papermill notebooks/03_main_results.ipynb" in text
    assert "-p profile quick -p data_dir /data" in text


def test_an_executed_page_folds_every_code_source(tmp_path):
    source, pages = tmp_path / "src", tmp_path / "pages"
    source.mkdir()
    _page(source / "01_page.ipynb", 'profile = "smoke"', "x = 1", "print(x)", "y = 2")
    notebook = nbformat.read(source / "01_page.ipynb", as_version=4)
    notebook.cells[0].metadata["tags"].append("remove-cell")
    notebook.cells[2].metadata["tags"] = ["remove-input"]
    notebook.cells[3].metadata["tags"] = ["hide-cell"]
    nbformat.write(notebook, source / "01_page.ipynb")
    execute_pages(source, pages, {"profile": "quick"})
    tags = [c.metadata.get("tags", []) for c in nbformat.read(pages / "01_page.ipynb", 4).cells]
    assert tags == [
        ["parameters", "remove-cell"],
        ["injected-parameters", "hide-input"],  # papermill's copy, which Live code edits
        ["hide-input"],
        ["remove-input"],
        ["hide-cell"],
    ]


def _calls(source: str, function: str) -> bool:
    """Whether a cell shows ``function``'s result (a line calls it, not an import)."""
    return any(
        line.startswith((f"{function}(", f"display(Markdown({function}("))
        for line in source.splitlines()
    )


def test_parameters_are_never_rendered_and_provenance_is_folded():
    # papermill finds the "parameters" tag; "remove-cell" keeps the cell out of the page
    for path in page_notebooks(ROOT / "notebooks"):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.metadata.get("tags", [])
            if "parameters" in tags:
                assert "remove-cell" in tags, path.name
            if _calls(cell.source, "run_provenance_table") or _calls(
                cell.source, "regenerate_command"
            ):
                assert "hide-cell" in tags, f"{path.name}: {cell.source[:60]}"
                assert cell.metadata["mystnb"]["code_prompt_show"].startswith("Show"), path.name


# Pages without a verdict of their own: the Claims summary and the status of every run
# (check-book's VERDICT_EXEMPT).
NO_VERDICT = ("00_claims", "11_status")
SHOWS_A_RESULT = __import__("re").compile(
    r"styled\(|comparison_table\(|interactive\.show\(|plt\.show\(|\.style\b"
)

DISPLAYS = __import__("re").compile(r"\b(display|show_markdown|print)\(")


def test_every_results_page_shows_its_verdict_before_any_table_or_figure():
    pages = [p for p in page_notebooks(ROOT / "notebooks") if p.stem not in NO_VERDICT]
    assert len(pages) >= 11
    for path in pages:
        cells = nbformat.read(path, as_version=4).cells
        verdict = [
            i
            for i, c in enumerate(cells)
            if "verdicts." in c.source
            and (".markdown()" in c.source or "show_verdict(" in c.source)
        ]
        assert len(verdict) == 1, path.name
        # myst-nb reads the cell's Markdown output as MyST, so the admonition renders as one
        assert cells[verdict[0]].metadata["mystnb"] == {"markdown_format": "myst"}, path.name
        shown = [
            i
            for i, c in enumerate(cells)
            if c.cell_type == "code" and SHOWS_A_RESULT.search(c.source)
        ]
        assert shown and verdict[0] < min(shown), path.name
        # nothing else, a missing-result line included, is displayed above the verdict
        above = [c.source for c in cells[: verdict[0]] if c.cell_type == "code"]
        assert not any(DISPLAYS.search(source) for source in above), path.name
