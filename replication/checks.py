"""The one validator for matrices and parameters: every module checks its inputs here, so the same fault always
raises the same error type with a message naming the argument, what it got and what is allowed.

* matrices (users x items ratings, item x feature masks, fold-in rows): :func:`as_csr` -> :class:`DataError`;
* parameters (sizes, rates, choices): :func:`check_int`, :func:`check_number`, :func:`check_choice` ->
  :class:`ConfigError`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from .errors import ConfigError, DataError

__all__ = ["as_csr", "check_int", "check_number", "check_choice", "check_seeds", "read_only"]


def as_csr(matrix: Any, name: str = "matrix", *, dtype: Any = np.float32, shape: tuple[int, int] | None = None,
           n_items: int | None = None, n_rows: int | None = None, nonneg: bool = False,
           max_value: float | None = None, binary: bool = False, dense_ok: bool = False) -> sp.csr_array:
    """A canonical copy of a 2-D sparse matrix as a csr_array: duplicates summed, explicit zeros removed, column
    indices sorted. Raises DataError naming `name` when it is not sparse (dense arrays only with `dense_ok`), not
    2-D, of the wrong shape, holds non-finite values, negative values (`nonneg`), values above `max_value`, or
    values other than 1 (`binary`)."""
    if sp.issparse(matrix):
        out = sp.csr_array(matrix, dtype=dtype, copy=True)
    elif dense_ok and isinstance(matrix, np.ndarray):
        if matrix.ndim != 2:
            raise DataError(f"{name} must be a 2-D matrix, got shape {matrix.shape}")
        out = sp.csr_array(matrix.astype(dtype, copy=False))
    else:
        raise DataError(f"{name} must be a 2-D scipy.sparse matrix (csr_array or csr_matrix), "
                        f"got {type(matrix).__name__}")
    if out.ndim != 2:
        raise DataError(f"{name} must be 2-D, got shape {out.shape}")
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    if shape is not None and out.shape != tuple(shape):
        raise DataError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if n_items is not None and out.shape[1] != n_items:
        raise DataError(f"{name} has {out.shape[1]} item columns, expected {n_items}")
    if n_rows is not None and out.shape[0] != n_rows:
        raise DataError(f"{name} has {out.shape[0]} rows, expected {n_rows}")
    if out.nnz:
        if not np.isfinite(out.data).all():
            raise DataError(f"{name} holds non-finite values")
        if nonneg and out.data.min() < 0:
            raise DataError(f"{name} must be non-negative (0 = missing), got a minimum of {out.data.min()}")
        if max_value is not None and out.data.max() > max_value:
            raise DataError(f"{name} values must lie in (0, {max_value}], got a maximum of {out.data.max()}")
        if binary and not np.all(out.data == 1):
            raise DataError(f"{name} must be a 0/1 matrix, got values such as {out.data[out.data != 1][0]}")
    return out


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """An integer parameter within [low, high] (either bound optional); booleans are not integers here."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{name} must be an integer in [{low if low is not None else '-inf'}, "
                          f"{high if high is not None else 'inf'}], got {value}")
    return int(value)


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite real parameter within the given bounds (open or closed)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    bad = not np.isfinite(v)
    bad |= low is not None and (v <= low if low_open else v < low)
    bad |= high is not None and (v >= high if high_open else v > high)
    if bad:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ConfigError(f"{name} must be a finite number in {left}{low if low is not None else '-inf'}, "
                          f"{high if high is not None else 'inf'}{right}, got {value!r}")
    return v


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """One of the allowed values."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """A non-empty list of distinct integer seeds."""
    seeds = [check_int("seed", s, 0) for s in seeds]
    if not seeds:
        raise ConfigError("give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds must be distinct, got {seeds}")
    return seeds


def read_only(value: Any) -> Any:
    """`value` with its numpy arrays (and a sparse matrix's data, indices and pointers) marked read-only, so that
    a result shared through a cache cannot be changed in place by one of its users (who then gets an error)."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif hasattr(value, "indptr") and hasattr(value, "data"):
        for array in (value.data, value.indices, value.indptr):
            array.setflags(write=False)
    return value
