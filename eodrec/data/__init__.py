"""Data layer: loading the benchmark sessions safely, and turning them into batches.

Files come from pinned public commits and are verified by sha256; pickles are read with a
restricted unpickler; every failure raises a :class:`DataError` that names the file.
"""

from eodrec.data.batch import Batch
from eodrec.data.batches import BatchLoader, pad_batch
from eodrec.data.datasets import load_dataset
from eodrec.data.download import download
from eodrec.data.errors import (
    ChecksumError,
    DataError,
    DataFormatError,
    DataMissingError,
    UnsafePickleError,
)
from eodrec.data.files import resolve_data_dir
from eodrec.data.names import DATASET_NAMES, REAL_DATASETS, canonical_name
from eodrec.data.raw import clicks_to_sessions
from eodrec.data.safe_pickle import load_pickle
from eodrec.data.session_data import SessionData
from eodrec.data.sessions import augment_prefixes, hot_item_mask, item_popularity, split_validation
from eodrec.data.stats import dataset_stats
from eodrec.data.toy import make_toy

__all__ = [
    "DATASET_NAMES",
    "REAL_DATASETS",
    "Batch",
    "BatchLoader",
    "ChecksumError",
    "DataError",
    "DataFormatError",
    "DataMissingError",
    "SessionData",
    "UnsafePickleError",
    "augment_prefixes",
    "canonical_name",
    "clicks_to_sessions",
    "dataset_stats",
    "download",
    "hot_item_mask",
    "item_popularity",
    "load_dataset",
    "load_pickle",
    "make_toy",
    "pad_batch",
    "resolve_data_dir",
    "split_validation",
]
