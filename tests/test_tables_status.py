from eodrec.book.tables.status import run_provenance_table, short_commit

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_dirty_commit_keeps_its_mark():
    assert short_commit(SHA) == "0123456789ab"
    assert short_commit(SHA + "+dirty") == "0123456789ab+dirty"
    declared = f"{SHA}+dirty (declared by $EODREC_SOURCE_COMMIT; not a git checkout)"
    assert short_commit(declared) == "0123456789ab+dirty (declared)"
    assert short_commit("unknown (not a git checkout)") == "unknown (not a git checkout)"


def test_the_provenance_table_shows_the_mark():
    result = {
        "id": "teacher-toy-smoke-x",
        "profile": "smoke",
        "selected_epoch": 1,
        "epochs_run": 2,
        "wall_time_s": 60.0,
        "provenance": {
            "git_commit": SHA + "+dirty",
            "hardware": {"cpu": "AMD EPYC", "device": "cpu"},
            "data_checksums": {"toy": "f" * 64},
        },
    }
    assert run_provenance_table([result])["commit"].tolist() == ["0123456789ab+dirty"]


def test_the_status_table_names_the_versions_in_one_column():
    from eodrec.book.tables.status import status_table

    result = {
        "id": "teacher-toy-smoke-x",
        "model": "teacher",
        "dataset": "toy",
        "profile": "smoke",
        "selected_epoch": 1,
        "wall_time_s": 60.0,
        "provenance": {
            "created": "2026-01-02T03:04:05",
            "git_commit": SHA,
            "versions": {"torch": "2.13.0", "python": "3.11.7"},
            "hardware": {"cpu": "AMD EPYC", "device": "cpu"},
            "data_checksums": {"toy": "f" * 64},
        },
    }
    row = status_table([result]).iloc[0]
    assert row["versions"] == "torch 2.13.0, python 3.11.7"
    assert row["created"] == "2026-01-02 03:04" and row["commit"] == SHA[:12]
