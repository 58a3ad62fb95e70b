import hashlib
import pickle

import pytest

from eodrec.data import (
    DATASET_NAMES,
    DataFormatError,
    DataMissingError,
    SessionData,
    UnsafePickleError,
    canonical_name,
    load_dataset,
)

TRAIN = [[1, 2, 3], [4, 2], [5, 1, 1, 6]]
TEST_2 = ([[1, 2], [1], [7]], [3, 2, 4])
TEST_4 = ([11, 11, 12], [[1, 2], [1], [7]], [3, 2, 4], [100, 100, 200])


def _make(root, folder, train, test):
    (root / folder).mkdir(parents=True, exist_ok=True)
    paths = []
    for name, obj in (("all_train_seq.txt", train), ("test.txt", test)):
        path = root / folder / name
        path.write_bytes(pickle.dumps(obj))
        paths.append(path)
    return paths


def test_loads_two_tuple_format(tmp_path):
    train_path, test_path = _make(tmp_path, "Tmall", TRAIN, TEST_2)
    data = load_dataset("Tmall", tmp_path)
    assert isinstance(data, SessionData)
    assert data.name == "Tmall"
    assert data.train_sessions == TRAIN
    assert data.test_sequences == TEST_2[0]
    assert data.test_targets == TEST_2[1]
    assert data.n_items == 7  # the largest id, here only in a test sequence
    assert data.checksums == {
        "Tmall/all_train_seq.txt": hashlib.sha256(train_path.read_bytes()).hexdigest(),
        "Tmall/test.txt": hashlib.sha256(test_path.read_bytes()).hexdigest(),
    }
    with pytest.raises(AttributeError):
        data.name = "other"  # frozen


def test_loads_four_tuple_format_and_env_dir(tmp_path, monkeypatch):
    _make(tmp_path, "retailrocket", TRAIN, (*TEST_4[:2], [3, 2, 9], TEST_4[3]))
    monkeypatch.setenv("EODREC_DATA", str(tmp_path))
    data = load_dataset("retailrocket")
    assert data.name == "retailrocket"
    assert data.test_sequences == TEST_4[1]
    assert data.test_targets == [3, 2, 9]
    assert data.n_items == 9  # the largest id, here only in a label


def test_names_and_toy():
    assert DATASET_NAMES == ("Tmall", "retailrocket", "toy")
    assert load_dataset("toy").name == "toy"
    with pytest.raises(ValueError, match="diginetica"):
        load_dataset("diginetica")


def test_user_spellings_are_canonicalized_at_the_edge_and_refused_inside():
    assert [canonical_name(n) for n in ("TMALL", "RetailRocket", "TOY")] == list(DATASET_NAMES)
    with pytest.raises(ValueError, match="did you mean 'retailrocket'"):
        load_dataset("RetailRocket")


def test_missing_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataMissingError) as info:
        load_dataset("Tmall", missing)
    assert str(missing) in str(info.value)
    assert "eodrec data download" in str(info.value)


def test_missing_test_file(tmp_path):
    _make(tmp_path, "Tmall", TRAIN, TEST_2)
    (tmp_path / "Tmall" / "test.txt").unlink()
    with pytest.raises(DataMissingError, match="test.txt"):
        load_dataset("Tmall", tmp_path)


def test_unsafe_pickle_in_dataset_is_refused(tmp_path):
    _make(tmp_path, "Tmall", TRAIN, TEST_2)
    (tmp_path / "Tmall" / "test.txt").write_bytes(b"cos\nsystem\n(Vecho hi\ntR.")
    with pytest.raises(UnsafePickleError, match="test.txt"):
        load_dataset("Tmall", tmp_path)


BAD_TRAIN = {
    "dict": {"a": [1, 2]},
    "list of strings": ["abc", "def"],
    "string ids": [[1, "2"]],
    "zero id": [[1, 0, 2]],
    "negative id": [[1, -3]],
    "bool id": [[1, True]],
    "float id": [[1, 2.0]],
    "empty session": [[1, 2], []],
    "tuple of sessions": ([1, 2],),
    "empty list": [],
}


@pytest.mark.parametrize("bad", BAD_TRAIN.values(), ids=BAD_TRAIN.keys())
def test_wrong_train_structure(tmp_path, bad):
    train_path, _ = _make(tmp_path, "Tmall", bad, TEST_2)
    with pytest.raises(DataFormatError) as info:
        load_dataset("Tmall", tmp_path)
    message = str(info.value)
    assert str(train_path) in message
    assert "expected a list of sessions, each a non-empty list of positive int item ids" in message


BAD_TEST = {
    "list instead of tuple": [[[1, 2]], [3]],
    "3-tuple": ([[1]], [2], [3]),
    "dict": {"sequences": [[1]], "labels": [2]},
    "label count mismatch": ([[1, 2], [1]], [3]),
    "4-tuple timestamp count mismatch": ([1, 2], [[1], [2]], [3, 4], [5]),
    "4-tuple id count mismatch": ([1], [[1], [2]], [3, 4], [5, 6]),
    "zero label": ([[1, 2]], [0]),
    "string label": ([[1, 2]], ["3"]),
    "string session id": (["s1"], [[1]], [3], [5]),
    "non-positive item": ([[1, -2]], [3]),
    "sequence not a list": ([(1, 2)], [3]),
}


@pytest.mark.parametrize("bad", BAD_TEST.values(), ids=BAD_TEST.keys())
def test_wrong_test_structure(tmp_path, bad):
    _, test_path = _make(tmp_path, "retailrocket", TRAIN, bad)
    with pytest.raises(DataFormatError) as info:
        load_dataset("retailrocket", tmp_path)
    message = str(info.value)
    assert str(test_path) in message
    assert "expected a tuple (sequences, labels) or (session_ids, sequences, labels" in message


def test_error_points_at_offending_entry(tmp_path):
    _make(tmp_path, "Tmall", [[1, 2], [3, 4], [5, "x"]], TEST_2)
    with pytest.raises(DataFormatError, match=r"the session list\[2\] is \[5, 'x'\]"):
        load_dataset("Tmall", tmp_path)
