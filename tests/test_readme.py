"""The README explains; the book reports. A paragraph that names a metric next to a decimal number
is a hand-typed result, which goes stale the day a run is redone (the book draws its numbers from
results/)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
METRIC = re.compile(
    r"P@\d+|NDCG@\d+|MRR@\d+|bits (?:used )?per codebook|shar(?:e|ing) a code|\d[×%] (?:fast|slow)"
)
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


def prose_paragraphs(text: str) -> list[str]:
    """The README's paragraphs outside fenced code blocks."""
    outside = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", outside) if p.strip()]


def hand_typed_results(text: str) -> list[str]:
    return [p[:80] for p in prose_paragraphs(text) if METRIC.search(p) and DECIMAL.search(p)]


def test_a_paragraph_with_a_measured_number_is_caught():
    text = "Intro.\n\nThe student reaches 10.78 P@10 on Tmall.\n\n```bash\nP@10 1.5\n```\n"
    assert hand_typed_results(text) == ["The student reaches 10.78 P@10 on Tmall."]
    assert hand_typed_results("Settings: lr 1e-3, η 0.8.\n\nPage 03 gives P@10.\n") == []


def test_the_readme_types_no_result_numbers():
    assert hand_typed_results(README.read_text(encoding="utf-8")) == []
