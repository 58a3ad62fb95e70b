import os
from pathlib import Path

import pandas as pd
import pytest

from eodrec.data import DataFormatError, DataMissingError, clicks_to_sessions, dataset_stats
from eodrec.data.sessions import group_test_prefixes

REPO_ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400
B = 10 * DAY  # start of the last day of the tiny log

# (session_id, item_id, timestamp), in file order. See test_tiny_log_known_output for the story.
TINY = [
    (10, 7, 100),
    (10, 5, 50),
    (10, 7, 200),  # out of file order in time -> [5, 7, 7]
    (20, 8, 300),  # single click: dropped, and must not count towards 8's support
    (30, 9, 400),
    (30, 5, 500),
    (30, 8, 600),  # 8 has support 1 -> [9, 5]
    (35, 4, 650),
    (35, 7, 660),
    (36, 9, 670),
    (36, 4, 670),  # equal timestamps keep file order -> [9, 4]
    (40, 4, 700),
    (40, 6, 800),  # 6 has support 1 -> [4] -> session dropped
    (50, 5, B),
    (50, 7, B + 10),
    (50, 3, B + 20),
    (50, 9, B + 25),  # test; 3 unseen in train
    (60, 3, B + 30),
    (60, 7, B + 40),  # test; becomes [7] -> dropped
    (80, 5, B - DAY + 30),
    (80, 9, B - DAY + 40),  # ends exactly at the split: train
    (90, 7, B - DAY + 35),
    (90, 5, B - DAY + 41),  # ends one second after the split: test
]


def _write_tsv(path, rows, header="timestamp\tuser_id\titem_id\tsession_id"):
    lines = [header] + [f"{t}\t{s % 3}\t{i}\t{s}" for s, i, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tiny_log_known_output(tmp_path):
    path = _write_tsv(tmp_path / "tiny.tsv", TINY)
    out = clicks_to_sessions(path, min_item_support=2, test_days=1)
    # Train sessions ordered by end time: 10, 30, 35, 36, 80; ids by first appearance.
    assert out.item_map == {5: 1, 7: 2, 9: 3, 4: 4}
    assert out.train_sessions == [[1, 2, 2], [3, 1], [4, 2], [3, 4], [1, 3]]
    assert out.train_session_ids == [10, 30, 35, 36, 80]
    assert out.n_items == 4
    assert out.split_time == B + 40 - DAY
    # Test sessions in end order: 90 -> [7, 5], 50 -> [5, 7, 9]; longest prefix first.
    assert out.test_session_ids == [90, 50]
    assert out.test_sequences == [[2], [1, 2], [1]]
    assert out.test_targets == [1, 3, 2]
    assert out.counts == {
        "clicks": 23,
        "sessions": 10,
        "filtered_clicks": 19,
        "filtered_sessions": 8,
        "train_sessions": 5,
        "test_sessions_before_item_filter": 3,
        "test_sessions": 2,
        "test_sequences": 3,
    }
    data = out.as_session_data("tiny")
    assert data.name == "tiny" and set(data.checksums) == {"tiny.tsv"}
    stats = dataset_stats(data)
    assert stats["train_sequences"] == 6 and stats["test_sessions"] == 2


def test_tiny_log_default_support(tmp_path):
    path = _write_tsv(tmp_path / "tiny.tsv", TINY)
    out = clicks_to_sessions(path)  # support >= 5 keeps only items 5 (5 clicks) and 7 (6)
    assert out.item_map == {5: 1, 7: 2}
    assert out.train_sessions == [[1, 2, 2]]
    assert out.split_time == B + 10 - DAY  # the last kept click now ends session 50
    assert out.test_session_ids == [90, 50]
    assert (out.test_sequences, out.test_targets) == ([[2], [1]], [1, 2])
    with pytest.raises(DataFormatError, match="no session survives"):
        clicks_to_sessions(path, min_item_support=7)


def test_all_sessions_in_test_window_is_an_error(tmp_path):
    path = _write_tsv(tmp_path / "tiny.tsv", TINY)
    with pytest.raises(DataFormatError, match="no session ends before"):
        clicks_to_sessions(path, min_item_support=2, test_days=30)


@pytest.mark.parametrize(
    ("header", "rows", "problem"),
    [
        ("timestamp\tuser_id\titem\tsession_id", TINY, "missing ['item_id']"),
        ("timestamp,user_id,item_id,session_id", TINY, "missing ['session_id', 'item_id'"),
        ("timestamp\tuser_id\titem_id\tsession_id", [(1, "x", 5)], "non-integer"),
    ],
    ids=["renamed column", "comma separated", "non-integer item"],
)
def test_bad_click_logs_name_file_and_columns(tmp_path, header, rows, problem):
    path = _write_tsv(tmp_path / "bad.tsv", rows, header)
    with pytest.raises(DataFormatError) as info:
        clicks_to_sessions(path)
    message = str(info.value)
    assert str(path) in message and problem in message
    assert "session_id, item_id, timestamp" in message


def test_empty_and_missing_logs(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match="empty.tsv"):
        clicks_to_sessions(empty)
    with pytest.raises(DataMissingError, match="absent.tsv"):
        clicks_to_sessions(tmp_path / "absent.tsv")
    with pytest.raises(ValueError):
        clicks_to_sessions(empty, min_session_length=1)


def _sample_path() -> Path | None:
    roots = [os.environ.get("EODREC_DATA"), REPO_ROOT.parent / "shared" / "datasets"]
    for root in roots:
        if root and (Path(root) / "raw" / "retailrocket_sample.tsv").is_file():
            return Path(root) / "raw" / "retailrocket_sample.tsv"
    return None


SAMPLE = _sample_path()


@pytest.mark.skipif(SAMPLE is None, reason="raw RetailRocket sample not available")
@pytest.mark.parametrize("test_days", [1, 30])
def test_retailrocket_sample_invariants(test_days):
    support_min = 5
    out = clicks_to_sessions(SAMPLE, min_item_support=support_min, test_days=test_days)
    raw = pd.read_csv(SAMPLE, sep="\t")
    raw = raw.assign(pos=range(len(raw))).sort_values(["session_id", "timestamp", "pos"])

    # Independent recomputation of the support filter (after dropping single-click sessions).
    sizes = raw.groupby("session_id").session_id.transform("size")
    support = raw[sizes >= 2].item_id.value_counts()
    supported = set(support.index[support >= support_min])
    assert set(out.item_map) <= supported
    assert all(support[i] >= support_min for i in out.item_map)

    # Ids contiguous 1..n, numbered by first appearance in training.
    train_ids = [i for s in out.train_sessions for i in s]
    assert sorted(out.item_map.values()) == list(range(1, out.n_items + 1))
    assert set(train_ids) == set(range(1, out.n_items + 1))
    first_seen = list(dict.fromkeys(train_ids))
    assert first_seen == list(range(1, out.n_items + 1))

    # No short sessions anywhere; every test item is a train item.
    assert min(len(s) for s in out.train_sessions) >= 2
    test_sessions = group_test_prefixes(out.test_sequences, out.test_targets)
    assert len(test_sessions) == len(out.test_session_ids) == out.counts["test_sessions"]
    assert all(len(s) >= 2 for s in test_sessions)
    assert {i for s in test_sessions for i in s} <= set(train_ids)
    assert len(out.test_sequences) == sum(len(s) - 1 for s in test_sessions)

    # Each session is its raw clicks in time order, restricted to kept items, renumbered.
    by_session = raw.groupby("session_id")
    for sid, session in zip(out.train_session_ids, out.train_sessions, strict=True):
        clicks = by_session.get_group(sid)
        assert [out.item_map[i] for i in clicks.item_id if i in out.item_map] == session
    for sid, session in zip(out.test_session_ids, test_sessions, strict=True):
        clicks = by_session.get_group(sid)
        assert [out.item_map[i] for i in clicks.item_id if i in out.item_map] == session

    # Chronological split on each session's last (kept) click.
    def end(sid):
        clicks = by_session.get_group(sid)
        return clicks.timestamp[clicks.item_id.isin(supported)].max()

    train_ends = [end(sid) for sid in out.train_session_ids]
    test_ends = [end(sid) for sid in out.test_session_ids]
    assert train_ends == sorted(train_ends)
    assert max(train_ends) <= out.split_time < min(test_ends)
    assert out.split_time == max(test_ends) - test_days * DAY
    assert out.counts["train_sessions"] == len(out.train_sessions)
