"""Acceptance checks on the real benchmark files (skipped where they are absent)."""

import os
from pathlib import Path

import pytest

import eodrec.data as data_api
from eodrec.data import (
    augment_prefixes,
    dataset_stats,
    hot_item_mask,
    item_popularity,
    load_dataset,
    load_pickle,
    split_validation,
)
from eodrec.data.files import DATASETS

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_datasets() -> Path | None:
    for root in (os.environ.get("EODREC_DATA"), REPO_ROOT.parent / "shared" / "datasets"):
        if root and all(
            (Path(root) / f.relpath).is_file() for d in DATASETS.values() for f in (d.train, d.test)
        ):
            return Path(root)
    return None


SHARED = _shared_datasets()
pytestmark = pytest.mark.skipif(SHARED is None, reason="real dataset files not available")


@pytest.fixture(scope="module")
def tmall():
    return load_dataset("Tmall", SHARED)


@pytest.fixture(scope="module")
def retailrocket():
    return load_dataset("retailrocket", SHARED)


@pytest.fixture(scope="module")
def tmall_stats(tmall):
    return dataset_stats(tmall)


@pytest.fixture(scope="module")
def rr_stats(retailrocket):
    return dataset_stats(retailrocket)


def test_checksums_match_manifest(tmall, retailrocket):
    for data in (tmall, retailrocket):
        files = DATASETS[data.name]
        assert data.checksums == {f.relpath: f.sha256 for f in (files.train, files.test)}


def test_tmall_table2(tmall_stats):
    s = tmall_stats
    assert s["dataset"] == "Tmall"
    assert (s["train_sequences"], s["test_sequences"], s["items"]) == (351_268, 25_898, 40_727)
    assert s["train_sessions"] == 65_286
    assert s["test_sessions"] == 1_027  # test examples reassembled into whole sessions
    assert s["avg_length_train_test"] == pytest.approx(6.6877, abs=1e-4)  # paper: 6.69
    assert s["avg_length"] == pytest.approx(6.3804, abs=1e-4)
    assert s["distinct_train_items"] == 40_727
    assert s["max_length"] == 40
    assert s["train_repeat_last"] == pytest.approx(0.183, abs=5e-4)
    assert s["train_repeat_any"] == pytest.approx(0.407, abs=5e-4)
    assert s["test_repeat_last"] == pytest.approx(0.092, abs=5e-4)
    assert s["test_repeat_any"] == pytest.approx(0.454, abs=5e-4)


def test_retailrocket_table2(rr_stats):
    s = rr_stats
    assert s["dataset"] == "retailrocket"
    assert (s["train_sequences"], s["test_sequences"], s["items"]) == (559_816, 15_132, 36_968)
    assert s["avg_length"] == pytest.approx(5.437, abs=5e-4)  # paper: 5.44
    assert s["train_sequences_min_prefix2"] == 433_648  # paper: 433,643
    assert s["train_sessions"] == 126_168
    assert s["distinct_train_items"] == 36_968
    assert s["max_length"] == 285
    assert s["train_repeat_last"] == pytest.approx(0.201, abs=5e-4)
    assert s["train_repeat_any"] == pytest.approx(0.375, abs=5e-4)
    assert s["test_repeat_last"] == pytest.approx(0.167, abs=5e-4)
    assert s["test_repeat_any"] == pytest.approx(0.382, abs=5e-4)


def test_retailrocket_test_file_is_prefix_augmented(retailrocket, rr_stats):
    # The 4-tuple's session ids show that its 15,132 rows are prefixes of 4,735 sessions,
    # longest first and stopping at length 2; the regrouping must agree with the ids.
    session_ids, sequences, labels, _ = load_pickle(SHARED / "retailrocket" / "test.txt")
    assert rr_stats["test_sessions"] == len(set(session_ids)) == 4_735
    assert min(len(s) for s in sequences) == 2
    assert min(len(s) for s in retailrocket.train_sessions) == 3


def test_validation_split_and_hot_items_on_real_data(tmall):
    train, valid = split_validation(tmall.train_sessions, fraction=0.1, seed=0)
    assert len(valid) == round(0.1 * len(tmall.train_sessions))
    assert len(train) + len(valid) == len(tmall.train_sessions)
    sequences, targets, _ = augment_prefixes(train)
    popularity = item_popularity(sequences, tmall.n_items)
    assert popularity[0] == 0
    assert int(popularity.sum()) == sum(len(s) for s in sequences)
    mask = hot_item_mask(sequences, tmall.n_items)
    distinct = int((popularity > 0).sum())
    assert int(mask.sum()) == int(0.2 * distinct)
    assert popularity[mask].min() >= popularity[~mask].max()  # every hot item beats every cold


def test_public_api():
    expected = {
        "Batch",
        "BatchLoader",
        "pad_batch",
        "SessionData",
        "load_dataset",
        "DATASET_NAMES",
        "REAL_DATASETS",
        "canonical_name",
        "resolve_data_dir",
        "download",
        "load_pickle",
        "augment_prefixes",
        "split_validation",
        "hot_item_mask",
        "item_popularity",
        "dataset_stats",
        "clicks_to_sessions",
        "make_toy",
        "DataError",
        "DataMissingError",
        "DataFormatError",
        "UnsafePickleError",
        "ChecksumError",
    }
    assert set(data_api.__all__) == expected
    assert all(hasattr(data_api, name) for name in expected)
