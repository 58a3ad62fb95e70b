"""docs/method-notes.md is the one place that says where paper and released code differ: every
citation of it must land on a section that exists, and nothing may cite notes outside the
repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "docs" / "method-notes.md"
CITATION = re.compile(r"docs/method-notes\.md\s+((?:§[\d.]+(?: step \d+)?(?:,\s*|-| and )?)+)")


def _sections() -> set[str]:
    """'1', '1.3' from headings; '7.4' from item 4 of section 7's numbered list."""
    sections, current = set(), None
    for line in NOTES.read_text().splitlines():
        heading = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        item = re.match(r"(\d+)\. ", line)
        if heading:
            current = heading.group(1)
            sections.add(current)
        elif item and current and "." not in current:
            sections.add(f"{current}.{item.group(1)}")
    return sections


def _tracked_text() -> dict[str, str]:
    files = subprocess.run(
        ["git", "ls-files", "eodrec", "tests", "notebooks", "docs", "book", "README.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    texts = {}
    for name in files:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".ipynb", ".yml", ".txt"} and path.is_file():
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def test_every_citation_of_the_method_notes_names_a_section_that_exists():
    sections, cited = _sections(), 0
    for name, text in _tracked_text().items():
        for match in CITATION.finditer(text.replace("\n", " ")):
            for section in re.findall(r"§([\d.]+)", match.group(1)):
                cited += 1
                assert section.rstrip(".") in sections, f"{name} cites §{section}"
    assert cited > 20


def test_no_file_cites_notes_outside_the_repository():
    outside = "METHOD" + "-NOTES"
    assert [name for name, text in _tracked_text().items() if outside in text] == []
