"""Restricted unpickling of the published dataset files.

The SR-GNN family distributes data as pickles; a plain ``pickle.load`` on a downloaded file runs
whatever the file asks for. This unpickler resolves only a few harmless builtin constructors, so
loading a hostile file fails before anything executes.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

from eodrec.data.errors import DataFormatError, DataMissingError, UnsafePickleError

# The real files need no global at all (lists, tuples and ints have their own opcodes); these
# constructors are admitted because they are side-effect free and other writers may emit them.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    ("builtins", name) for name in ("list", "tuple", "int", "float", "str")
)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> type:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            self._path,
            f"refused global {module}.{name}: only plain lists, tuples, ints, floats and strings "
            "may be loaded; this file may be malicious",
        )


def load_pickle(path: str | os.PathLike[str]) -> object:
    """Unpickle ``path`` admitting only builtin containers and scalars."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataMissingError(path, "file not found") from None
    return loads_pickle(data, path)


def loads_pickle(data: bytes, source: str | os.PathLike[str]) -> object:
    """Unpickle ``data`` read from ``source`` (named in errors) with the same restrictions."""
    source = Path(source)
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # any failure on untrusted bytes means "not a valid pickle"
        raise DataFormatError(
            source, f"not a readable pickle ({type(exc).__name__}: {exc})"
        ) from exc
