"""Build the book: papermill executes each notebook into the book's tree, then Jupyter Book renders.

Pages are executed into ``book/notebooks/`` (a build output, never committed): the same path,
relative to the book, as their sources have relative to the repository, so the book's launch
buttons (Binder, Colab, JupyterHub) open the committed notebook of the page. A cell that raises
stops the build with the notebook's name and the error, instead of rendering a red error cell.
Every code cell's source is then folded away (``hide_code_inputs``): the reader sees tables,
figures and prose, and opens the code of a cell, or all of it with "Live code", on demand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PAGE_GLOB = "[0-9][0-9]_*.ipynb"
PAGES = "notebooks"  # where, under the book, the executed pages go
# myst-nb tags that already decide how a cell's source is shown; a cell carrying none of them gets
# ``hide-input`` (its source folded under a "Show code cell source" line).
SOURCE_TAGS = frozenset(
    {"hide-input", "hide-cell", "remove-input", "remove_input", "remove-cell", "remove_cell"}
)


class BookError(RuntimeError):
    """A page failed to execute or the book failed to render."""


def page_notebooks(notebooks: Path) -> list[Path]:
    pages = sorted(Path(notebooks).glob(PAGE_GLOB))
    if not pages:
        raise BookError(f"no notebooks matching {PAGE_GLOB} in {notebooks}")
    return pages


def hide_code_inputs(notebook) -> None:
    """Fold every code cell's source in the rendered page, the book-wide rule (myst-nb v1 has no
    setting for it): tag ``hide-input`` each code cell no ``SOURCE_TAGS`` tag already places.

    The papermill-injected parameters cell is folded too; the committed ``parameters`` cell is
    tagged ``remove-cell`` in its notebook and never rendered.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if not SOURCE_TAGS.intersection(tags):
            tags.append("hide-input")


def execute_pages(
    notebooks: Path, pages: Path, parameters: dict[str, object], only: list[str] | None = None
) -> dict[str, float]:
    """Run every page notebook with ``parameters``; returns wall seconds per page."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    pages = Path(pages)
    pages.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for source in page_notebooks(notebooks):
        if only and source.stem not in only:
            continue
        target = pages / source.name
        partial = pages / f".{source.stem}.partial.ipynb"
        start = time.perf_counter()
        print(f"executing {source.name} ...", flush=True)
        try:
            papermill.execute_notebook(
                str(source),
                str(partial),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(source.parent),
                progress_bar=False,
            )
        except BaseException as error:
            partial.unlink(missing_ok=True)
            if isinstance(error, PapermillExecutionError):
                raise BookError(f"{source.name}: {error.ename}: {error.evalue}") from None
            raise
        executed = nbformat.read(partial, as_version=4)
        hide_code_inputs(executed)
        nbformat.write(executed, partial)
        os.replace(partial, target)
        timings[source.stem] = time.perf_counter() - start
        print(f"  {source.name}: {timings[source.stem]:.1f} s", flush=True)
    return timings


def render_html(book: Path) -> Path:
    """Render the executed pages with Jupyter Book (v1, Sphinx); warnings fail the build."""
    executable = shutil.which(
        "jupyter-book", path=str(Path(sys.executable).parent)
    ) or shutil.which("jupyter-book")
    if executable is None:
        raise BookError(
            "jupyter-book is not installed; run `make book` or `pip install -e '.[book]'`"
        )
    command = [
        executable,
        "build",
        str(book),
        "--all",
        "--warningiserror",
        "--nitpick",
        "--keep-going",
    ]
    if subprocess.run(command).returncode != 0:
        raise BookError(f"jupyter-book build {book} failed (see the messages above)")
    return Path(book) / "_build" / "html"
