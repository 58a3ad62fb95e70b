"""The commit recorded with every result, also for a copy of the source without .git."""

from eodrec.provenance import SOURCE_COMMIT_ENV, git_commit


def test_a_checkout_reports_its_commit():
    commit = git_commit()
    assert len(commit.removesuffix("+dirty")) == 40


def test_a_copy_without_git_reports_unknown(tmp_path, monkeypatch):
    monkeypatch.delenv(SOURCE_COMMIT_ENV, raising=False)
    assert git_commit(tmp_path) == "unknown (not a git checkout)"


def test_a_copy_without_git_records_a_declared_commit_as_declared(tmp_path, monkeypatch):
    monkeypatch.setenv(SOURCE_COMMIT_ENV, "abc123")
    recorded = git_commit(tmp_path)
    assert recorded.startswith("abc123 ") and "declared" in recorded
