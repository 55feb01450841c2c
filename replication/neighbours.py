"""The one cosine-neighbour computation of the book: user-kNN, item-kNN, SEMAUTO's profile kNN and E-AutoRec's
neighbourhoods all call these functions.

* :func:`cosine_similarity` -- rows of X against rows of Y (sparse or dense), 0 for empty rows;
* :func:`top_neighbours` -- each row's k most similar columns, best first, ties to the lower index, optionally
  never the row itself;
* :func:`nearest_rows` -- the same for the rows of X among themselves, on blocks of rows, so that the n x n
  similarity matrix is never held (ML-20M: 138k users);
* :func:`knn_scores` -- score(u, j) = sum_{v in N_k(u)} sim(u, v) R(v, j) / sum_{v in N_k(u)} |sim(u, v)|.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .checks import check_int
from .errors import DataError

__all__ = ["cosine_similarity", "top_neighbours", "nearest_rows", "knn_scores"]

BLOCK_ENTRIES = 1 << 23  # similarity entries computed at once by nearest_rows (64 MB of float64)


def _unit_rows(X: Any) -> sp.csr_array | np.ndarray:
    """Rows scaled to unit Euclidean length (empty rows stay zero), in float64."""
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=np.float64)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_array(sp.diags_array(1.0 / norms) @ X)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"cosine_similarity needs 2-D rows, got shape {X.shape}")
    norms = np.linalg.norm(X, axis=1)
    norms[norms == 0] = 1.0
    return X / norms[:, None]


def cosine_similarity(X: Any, Y: Any = None) -> np.ndarray:
    """Dense (n_x, n_y) cosine similarity between the rows of X and the rows of Y (default Y = X)."""
    A = _unit_rows(X)
    B = A if Y is None else _unit_rows(Y)
    if A.shape[1] != B.shape[1]:
        raise DataError(f"rows of X have {A.shape[1]} columns but rows of Y have {B.shape[1]}")
    S = A @ B.T
    return S.toarray() if sp.issparse(S) else np.asarray(S)


def top_neighbours(similarity: np.ndarray, k: int, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices and similarities (n_rows, k) of each row's k largest entries, best first; ties go to the lower
    column index, so the result is deterministic. `exclude_self` never picks column i for row i (square input)."""
    S = np.array(similarity, dtype=np.float64, copy=True)
    if S.ndim != 2:
        raise DataError(f"similarity must be a 2-D matrix, got shape {S.shape}")
    available = S.shape[1] - (1 if exclude_self else 0)
    k = check_int("k (neighbours)", k, 1, max(available, 1))
    if exclude_self:
        if S.shape[0] != S.shape[1]:
            raise DataError(f"exclude_self needs a square similarity matrix, got shape {S.shape}")
        np.fill_diagonal(S, -np.inf)
    if k < S.shape[1]:
        # candidates: everything at least as large as the k-th largest value, then a stable sort among them
        kth = -np.partition(-S, k - 1, axis=1)[:, k - 1:k]
        S_cand = np.where(S >= kth, S, -np.inf)
    else:
        S_cand = S
    idx = np.argsort(-S_cand, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(S, idx, axis=1)


def nearest_rows(X: Any, k: int, block_entries: int = BLOCK_ENTRIES) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities (n, k) of each row's k most similar OTHER rows of X, best first, ties to
    the lower index: :func:`top_neighbours` of :func:`cosine_similarity` with `exclude_self`, computed block of
    rows by block of rows (equal to it, tested)."""
    A = _unit_rows(X)
    n = A.shape[0]
    k = check_int("k (neighbours)", k, 1, max(n - 1, 1))
    step = max(1, block_entries // max(n, 1))
    idx, sim = np.empty((n, k), dtype=np.int64), np.empty((n, k))
    for start in range(0, n, step):
        stop = min(start + step, n)
        S = A[start:stop] @ A.T
        S = S.toarray() if sp.issparse(S) else np.array(S, dtype=np.float64)
        S[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never the row itself
        idx[start:stop], sim[start:stop] = top_neighbours(S, k)
    return idx, sim


def knn_scores(idx: np.ndarray, sim: np.ndarray, R: Any) -> np.ndarray:
    """Dense (n_rows, n_items) similarity-weighted average of the neighbours' rows of R, normalised by the sum of
    |similarity| over the k neighbours (a per-row constant: 1 where it is 0)."""
    idx, sim = np.asarray(idx), np.asarray(sim, dtype=np.float64)
    if idx.shape != sim.shape or idx.ndim != 2:
        raise DataError(f"neighbour indices {idx.shape} and similarities {sim.shape} must be equal 2-D shapes")
    R = sp.csr_array(R, dtype=np.float64) if sp.issparse(R) else sp.csr_array(np.asarray(R, dtype=np.float64))
    n, k = idx.shape
    weights = sp.csr_array((sim.ravel(), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, R.shape[0]))
    denom = np.abs(sim).sum(axis=1)
    denom[denom == 0] = 1.0
    return (weights @ R).toarray() / denom[:, None]
