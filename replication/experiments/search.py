"""A seeded random hyper-parameter search: the same number of trials for every model, each trial's settings drawn
from the model's search space by a generator seeded with (split seed, model name), so two runs draw the same
trials in any process; the first trial is always the model's default settings.

    space = {"k": Choice([20, 50, 100]), "l2": LogUniform(10.0, 5000.0)}
    trials(space, 4, seed=0, key="EASE", first={"l2": 500.0})   # 4 settings dicts, the first the defaults
    chosen(scores, rtol=0.005)                                  # the first trial within 0.5% of the best score
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Choice:
    """One of a few values, each equally likely."""

    values: tuple

    def __init__(self, values: Sequence[Any]) -> None:
        if not len(values):
            raise ConfigError("a Choice needs at least one value")
        object.__setattr__(self, "values", tuple(values))

    def draw(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def __str__(self) -> str:
        return "{" + ", ".join(str(v) for v in self.values) + "}"


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly between `low` and `high`, rounded to 3 significant digits (a readable setting)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"{type(self).__name__} needs low < high, got {self.low}, {self.high}")

    def draw(self, rng: np.random.Generator) -> float:
        return _round(float(rng.uniform(self.low, self.high)))

    def __str__(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class LogUniform(Uniform):
    """A positive number whose logarithm is uniform between log(low) and log(high) (scales: l2, learning rates)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ConfigError(f"LogUniform needs low > 0, got {self.low}")

    def draw(self, rng: np.random.Generator) -> float:
        return _round(float(math.exp(rng.uniform(math.log(self.low), math.log(self.high)))))

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


Dimension = Union[Choice, Uniform, LogUniform]


def _round(value: float) -> float:
    return float(f"{value:.3g}")


def _generator(seed: int, key: str) -> np.random.Generator:
    """A generator for one (seed, model): crc32 of the name, not hash(), so every process draws the same."""
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


def trials(space: dict[str, Dimension], n: int, seed: int, key: str, first: dict[str, Any] | None = None
           ) -> list[dict[str, Any]]:
    """`n` settings for one model on one split: `first` (its defaults), then draws from `space` over `first`.
    An empty space has nothing to search: one trial."""
    if n < 1:
        raise ConfigError(f"a search needs at least one trial, got {n}")
    base = dict(first or {})
    if not space:
        return [base]
    rng = _generator(seed, key)
    out = [base]
    for _ in range(n - 1):
        out.append({**base, **{name: dim.draw(rng) for name, dim in sorted(space.items())}})
    return out


def chosen(scores: Sequence[float], rtol: float = 0.0) -> int:
    """The first trial whose validation score is within `rtol` (relative) of the best: a later trial must beat the
    earlier ones by more than that to be chosen (ties, and differences at the level of floating-point noise across
    machines, go to the earlier trial, the defaults first). NaN scores are never chosen unless all are NaN."""
    values = np.asarray(scores, dtype=float)
    if not len(values):
        raise ConfigError("no trial to choose from")
    values = np.where(np.isfinite(values), values, -np.inf)
    best = values.max()
    return int(np.argmax(values >= best - rtol * abs(best))) if np.isfinite(best) else 0


def best_so_far(scores: Sequence[float]) -> np.ndarray:
    """The best validation score after each trial (the search's progress curve)."""
    values = np.asarray(scores, dtype=float)
    return np.maximum.accumulate(np.where(np.isfinite(values), values, -np.inf))
