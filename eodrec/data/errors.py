"""Errors of the data layer.

Every error names the file (or URL) it is about, so that a failing run tells the user what to
fix without a traceback hunt. Catch :class:`DataError` to handle all of them.
"""

from __future__ import annotations

import os


class DataError(Exception):
    """Base class: a data file is missing, malformed, unsafe or corrupted."""

    def __init__(self, where: str | os.PathLike[str], message: str) -> None:
        self.where = os.fspath(where)
        self.message = message
        super().__init__(f"{self.where}: {message}")

    def __reduce__(self) -> tuple[type[DataError], tuple[str, str]]:
        # Keep the two-argument constructor picklable (e.g. across worker processes).
        return type(self), (self.where, self.message)


class DataMissingError(DataError):
    """The data directory or a data file does not exist."""


class DataFormatError(DataError):
    """A file exists but does not have the expected structure."""


class UnsafePickleError(DataError):
    """A pickle asks for a global outside the allow-list, i.e. it could run code."""


class ChecksumError(DataError):
    """A downloaded file's sha256 differs from the pinned one."""
