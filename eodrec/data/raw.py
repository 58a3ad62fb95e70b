"""Turn a raw click log into sessions the way the SR-GNN / GCE-GNN preprocessing does.

Order of steps (each one changes the published counts, so it is kept exactly): group clicks by
session in time order; drop sessions shorter than ``min_session_length`` (default 2: single
clicks); count item support on what is left and drop items with fewer than ``min_item_support``
clicks (one pass, as in SR-GNN, so an item can end below the threshold when some of its sessions
are dropped next); drop sessions left shorter than ``min_session_length``; sessions
ending in the last ``test_days`` days are the test split; items are renumbered 1.. in order of
first appearance in training; test clicks on items unseen in training are dropped, then short
test sessions; test sessions are expanded into prefixes, longest first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eodrec.data.errors import DataFormatError, DataMissingError
from eodrec.data.files import sha256_file
from eodrec.data.session_data import SessionData
from eodrec.data.sessions import augment_prefixes

COLUMNS = ("session_id", "item_id", "timestamp")
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class RawSessions:
    """Preprocessed sessions plus the bookkeeping needed to audit each step."""

    train_sessions: list[list[int]]
    test_sequences: list[list[int]]
    test_targets: list[int]
    n_items: int
    item_map: dict[int, int]  # raw item id -> new id (1..n_items)
    split_time: int  # test sessions end after this timestamp, training sessions at or before
    train_session_ids: list[int]  # raw session id of each training session
    test_session_ids: list[int]  # raw session id of each test session, in test order
    counts: dict[str, int]
    checksums: dict[str, str]  # file name -> sha256 of the click log read

    def as_session_data(self, name: str = "raw") -> SessionData:
        return SessionData(
            name=name,
            train_sessions=self.train_sessions,
            test_sequences=self.test_sequences,
            test_targets=self.test_targets,
            n_items=self.n_items,
            checksums=self.checksums,
        )


def read_clicks(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tab-separated click log with columns session_id, item_id, timestamp (seconds)."""
    path = Path(path)
    expected = (
        "a tab-separated file with a header naming integer columns "
        f"{', '.join(COLUMNS)} (timestamp in seconds)"
    )
    try:
        df = pd.read_csv(path, sep="\t")
    except FileNotFoundError:
        raise DataMissingError(path, "click log not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"expected {expected}; could not parse it: {exc}") from exc
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataFormatError(
            path, f"expected {expected}; missing {missing}, found {list(df.columns)}"
        )
    df = df[list(COLUMNS)]
    bad = [c for c in COLUMNS if not pd.api.types.is_integer_dtype(df[c])]
    if bad:
        raise DataFormatError(path, f"expected {expected}; non-integer or empty values in {bad}")
    return df


def clicks_to_sessions(
    path: str | os.PathLike[str],
    min_item_support: int = 5,
    test_days: float = 1,
    min_session_length: int = 2,
) -> RawSessions:
    """Preprocess the click log at ``path`` into train sessions and prefix test examples."""
    if min_session_length < 2:
        raise ValueError("min_session_length must be at least 2 (a session needs a next item)")
    clicks = read_clicks(path)
    counts = {"clicks": len(clicks), "sessions": clicks.session_id.nunique()}
    # File position breaks timestamp ties so that equal-time clicks keep their logged order.
    clicks = clicks.assign(position=range(len(clicks))).sort_values(
        ["session_id", "timestamp", "position"]
    )

    clicks = _drop_short_sessions(clicks, min_session_length)
    support = clicks.item_id.value_counts()
    clicks = clicks[clicks.item_id.isin(support.index[support >= min_item_support])]
    clicks = _drop_short_sessions(clicks, min_session_length)
    counts.update(filtered_clicks=len(clicks), filtered_sessions=clicks.session_id.nunique())
    if clicks.empty:
        raise DataFormatError(path, "no session survives the filters")

    sessions = clicks.groupby("session_id", sort=False).agg(
        seq=("item_id", list), end=("timestamp", "max")
    )
    sessions = sessions.reset_index().sort_values(["end", "session_id"])
    split_time = int(sessions.end.max() - test_days * SECONDS_PER_DAY)
    is_test = sessions.end > split_time
    train_raw = sessions.seq[~is_test].tolist()
    test_raw = sessions.seq[is_test].tolist()
    test_ids = sessions.session_id[is_test].tolist()
    if not train_raw:
        raise DataFormatError(path, f"no session ends before the last {test_days} day(s)")

    item_map: dict[int, int] = {}
    for session in train_raw:
        for item in session:
            item_map.setdefault(item, len(item_map) + 1)
    train = [[item_map[i] for i in s] for s in train_raw]
    test_mapped = [[item_map[i] for i in s if i in item_map] for s in test_raw]
    kept = [k for k, s in enumerate(test_mapped) if len(s) >= min_session_length]
    test = [test_mapped[k] for k in kept]

    sequences, targets, _ = augment_prefixes(test, longest_first=True)
    counts.update(
        train_sessions=len(train),
        test_sessions_before_item_filter=len(test_raw),
        test_sessions=len(test),
        test_sequences=len(sequences),
    )
    return RawSessions(
        train_sessions=train,
        test_sequences=sequences,
        test_targets=targets,
        n_items=len(item_map),
        item_map=item_map,
        split_time=split_time,
        train_session_ids=sessions.session_id[~is_test].tolist(),
        test_session_ids=[test_ids[k] for k in kept],
        counts=counts,
        checksums={Path(path).name: sha256_file(path)},
    )


def _drop_short_sessions(clicks: pd.DataFrame, min_length: int) -> pd.DataFrame:
    sizes = clicks.groupby("session_id").session_id.transform("size")
    return clicks[sizes >= min_length]
