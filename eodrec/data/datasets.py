"""Load a benchmark dataset from the data directory into a validated :class:`SessionData`.

The published pickles come from different code bases (2-tuple and 4-tuple test files); this
module checks their structure up front so that a wrong or damaged file fails here, naming the
file, rather than as an index error deep inside training.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from eodrec.data.errors import DataFormatError
from eodrec.data.files import DATASETS, require_file
from eodrec.data.names import SYNTHETIC, check_dataset
from eodrec.data.safe_pickle import loads_pickle
from eodrec.data.session_data import SessionData
from eodrec.data.toy import make_toy

TRAIN_FORMAT = "a list of sessions, each a non-empty list of positive int item ids"
TEST_FORMAT = (
    "a tuple (sequences, labels) or (session_ids, sequences, labels, timestamps) of equally "
    "long lists: sequences non-empty lists of positive int item ids, labels positive ints, "
    "session ids and timestamps ints"
)


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> SessionData:
    """Load ``name`` (``Tmall``, ``retailrocket`` or ``toy``) from the data directory."""
    if check_dataset(name) == SYNTHETIC:
        return make_toy()
    files = DATASETS[name]
    checksums: dict[str, str] = {}
    loaded = []
    for entry in (files.train, files.test):
        path = require_file(data_dir, entry.relpath)
        raw = path.read_bytes()
        checksums[entry.relpath] = hashlib.sha256(raw).hexdigest()  # of the bytes parsed
        loaded.append((loads_pickle(raw, path), path))
    train = _check_train(*loaded[0])
    sequences, targets = _check_test(*loaded[1])
    n_items = max(max(max(s) for s in train), max(max(s) for s in sequences), max(targets))
    return SessionData(
        name=name,
        train_sessions=train,
        test_sequences=sequences,
        test_targets=targets,
        n_items=n_items,
        checksums=checksums,
    )


def _fail(path: Path, expected: str, problem: str) -> DataFormatError:
    return DataFormatError(path, f"expected {expected}; {problem}")


def _is_id(value: object) -> bool:
    return type(value) is int and value > 0  # bool is an int subclass but not an item id


def _check_sequences(value: object, what: str, path: Path, expected: str) -> list[list[int]]:
    if type(value) is not list:
        raise _fail(path, expected, f"{what} is a {type(value).__name__}")
    for i, seq in enumerate(value):
        if type(seq) is not list or not seq or not all(_is_id(v) for v in seq):
            raise _fail(path, expected, f"{what}[{i}] is {seq!r:.80}")
    if not value:
        raise _fail(path, expected, f"{what} is empty")
    return value


def _check_ints(value: object, what: str, path: Path, positive: bool) -> list[int]:
    if type(value) is not list:
        raise _fail(path, TEST_FORMAT, f"{what} is a {type(value).__name__}")
    for i, v in enumerate(value):
        if not (_is_id(v) if positive else type(v) is int):
            raise _fail(path, TEST_FORMAT, f"{what}[{i}] is {v!r:.80}")
    return value


def _check_train(obj: object, path: Path) -> list[list[int]]:
    return _check_sequences(obj, "the session list", path, TRAIN_FORMAT)


def _check_test(obj: object, path: Path) -> tuple[list[list[int]], list[int]]:
    if type(obj) is not tuple or len(obj) not in (2, 4):
        size = f" of length {len(obj)}" if isinstance(obj, (tuple, list)) else ""
        raise _fail(path, TEST_FORMAT, f"got a {type(obj).__name__}{size}")
    if len(obj) == 2:
        raw_sequences, raw_labels = obj
        extra = {}
    else:
        raw_ids, raw_sequences, raw_labels, raw_times = obj
        extra = {"session_ids": raw_ids, "timestamps": raw_times}
    sequences = _check_sequences(raw_sequences, "sequences", path, TEST_FORMAT)
    labels = _check_ints(raw_labels, "labels", path, positive=True)
    columns = {"sequences": sequences, "labels": labels}
    for what, value in extra.items():
        columns[what] = _check_ints(value, what, path, positive=False)
    lengths = {what: len(col) for what, col in columns.items()}
    if len(set(lengths.values())) != 1:
        raise _fail(path, TEST_FORMAT, f"lengths differ: {lengths}")
    return sequences, labels
