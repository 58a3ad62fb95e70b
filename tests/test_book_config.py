"""The book's launch buttons and "Live code" point at this repository and at the committed
notebook of each page; a wrong setting would make every link silently point elsewhere."""

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

from eodrec.book.build import hide_code_inputs

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
from live_code import binder_options  # noqa: E402  (the book's local Sphinx extension)

CONFIG = yaml.safe_load((BOOK / "_config.yml").read_text())
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def test_the_book_names_the_repository_pyproject_names():
    assert CONFIG["repository"]["url"] == REPOSITORY
    assert binder_options({"repository_url": REPOSITORY})["repo"] == "eodrec/eodrec"


def test_every_page_is_named_after_its_committed_notebook():
    # path_to_book "" + page notebooks/NN_name => the link opens notebooks/NN_name.ipynb
    assert CONFIG["repository"]["path_to_book"] == ""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files and all((ROOT / f"{name}.ipynb").is_file() for name in files)


def test_a_repository_url_binder_cannot_use_is_refused():
    with pytest.raises(ValueError, match="OWNER/REPO"):
        binder_options({"repository_url": "https://github.com/eodrec"})


@pytest.mark.skipif(
    shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) is None,
    reason="jupyter-book is not installed (the book extra)",
)
def test_a_built_page_links_binder_colab_jupyterhub_and_live_code(tmp_path, monkeypatch):
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(BOOK / "_config.yml", book)
    shutil.copytree(BOOK / "_ext", book / "_ext")
    (book / "_extra").mkdir()
    (book / "intro.md").write_text("# Intro\n")
    (book / "notebooks").mkdir()
    page_source = book / "notebooks" / "02_compression.ipynb"
    notebook = nbformat.read(ROOT / "notebooks" / "02_compression.ipynb", as_version=4)
    hide_code_inputs(notebook)  # as eodrec book build leaves the page
    nbformat.write(notebook, page_source)
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": "notebooks/02_compression"}]}
    (book / "_toc.yml").write_text(yaml.safe_dump(toc))
    monkeypatch.setenv("JUPYTERHUB_URL", "https://hub.example.org")
    executable = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([executable, "build", str(book)], check=True, capture_output=True)
    html = (book / "_build/html/notebooks/02_compression.html").read_text()
    links = set(re.findall(r'href="(https://[^"]+)"', html))
    page = "notebooks/02_compression.ipynb"
    assert f"https://mybinder.org/v2/gh/eodrec/eodrec/main?urlpath=tree/{page}" in links
    assert f"https://colab.research.google.com/github/eodrec/eodrec/blob/main/{page}" in links
    # nbgitpuller clones the repository into a folder named after it, then opens the page
    assert (
        "https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A//github.com/eodrec/"
        f"eodrec&urlpath=tree/eodrec/{page}&branch=main"
    ) in links
    assert 'onclick="initThebeSBT()"' in html and "live-code.js" in html
    assert '"repo": "eodrec/eodrec"' in html  # Binder settings for Live code off this machine
    assert "unpkg.com" not in html and "thebe@" not in html  # no CDN copy of Thebe
    # the reader's view: no parameters cell, every code source folded (check-book's rule (j))
    assert "tag_parameters" not in html
    spec = importlib.util.spec_from_file_location(
        "check_book", ROOT / "tests/browser/check_book.py"
    )
    check_book = sys.modules.setdefault("check_book", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(check_book)
    assert html.count("cell_input") > 5 and check_book.check_code_hidden(html) == []
    assert "Show how to regenerate this page" in html
