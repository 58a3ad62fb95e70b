"""What a baseline run is: its method and the grid its hyperparameters are tuned over; each
method's display name."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

# Each method's tuned hyperparameters and the default grid of each (small: validation picks).
GRIDS: dict[str, dict[str, tuple[int, ...]]] = {
    "pop": {},
    "recency": {},
    "sknn": {"k": (50, 100, 200, 500), "sample_size": (500, 1000, 5000)},
    "sr": {"steps": (1, 2, 3, 5, 10)},
}
METHODS = tuple(GRIDS)
# Each method's name in tables and as ``eodrec bench latency --models`` selects it.
NAMES: dict[str, str] = {
    "pop": "Most-popular",
    "recency": "Session recency",
    "sknn": "V-SKNN",
    "sr": "SR",
}


@dataclass(frozen=True)
class BaselineConfig:
    """A heuristic and the values each of its hyperparameters is tried at.

    A grid field the method does not use stays empty, so a method's config (and its run id)
    never changes when another method's grid does.
    """

    method: str
    k: tuple[int, ...] = ()  # sknn: neighbours that vote
    sample_size: tuple[int, ...] = ()  # sknn: most recent candidate sessions compared
    steps: tuple[int, ...] = ()  # sr: largest gap a rule spans

    def __post_init__(self) -> None:
        if self.method not in GRIDS:
            raise ValueError(f"method={self.method!r}; choose one of: {', '.join(METHODS)}")
        for name, values in self._grids().items():
            used = name in GRIDS[self.method]
            if used and not values:
                raise ValueError(f"method={self.method} needs at least one {name}")
            if values and not used:
                raise ValueError(f"method={self.method} has no setting {name}")
            if any(value < 1 for value in values):
                raise ValueError(f"{name} values must be positive, got {values}")

    def grid(self) -> list[dict[str, int]]:
        """Every combination of the method's hyperparameters, in the order they are tried."""
        names = list(GRIDS[self.method])
        values = [getattr(self, name) for name in names]
        return [dict(zip(names, point, strict=True)) for point in itertools.product(*values)]

    def _grids(self) -> dict[str, tuple[int, ...]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "method"}

    @classmethod
    def from_dict(cls, values: dict) -> BaselineConfig:
        """JSON stores the grids as lists; the config holds tuples (and hashes the same)."""
        return cls(**{k: v if k == "method" else tuple(v) for k, v in values.items()})


def default_settings(method: str) -> dict[str, object]:
    """The fields of a ``method`` run before a user's settings: its default grid."""
    return {"method": method, **GRIDS[method]}
