"""Neighbourhood explainability of E-AutoRec (Haghighi et al. 2019, Eq. 5-7; Abdollahi & Nasraoui 2017).

For user u with neighbourhood N_u (the |N_u| most cosine-similar other users, computed on the training ratings)
the explainability score of item i is the expected rating of i among the neighbours,

    Exp(u, i) = sum_x x * |N_u ∩ U_{i,x}| / |N_u|,

where U_{i,x} is the set of users who gave item i the rating x. A neighbour who did not rate i contributes 0, so
the sum collapses to a matrix product: ``Exp = (A @ R) / |N_u|`` with A the 0/1 neighbour matrix (A[u, v] = 1
when v is in N_u) and R the training rating matrix. The explainability matrix is the thresholded score,
E(u, i) = Exp(u, i) if Exp(u, i) > theta else 0 (Eq. 7), in stars (0..5).

Everything here is computed from the matrix passed in, which must be the TRAINING ratings: test ratings never
reach E (tested in tests/test_explain.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import ConfigError, DataError

__all__ = ["user_cosine", "neighbours", "explanation_scores", "explainability_matrix", "explainable_mask"]


def _check_ratings(train) -> sp.csr_array:
    """Validate a users x items sparse rating matrix and return a canonical float64 csr_array."""
    if not sp.issparse(train):
        raise DataError(f"train must be a scipy.sparse users x items rating matrix, got {type(train).__name__}")
    if train.ndim != 2:
        raise DataError(f"train must be 2-D (n_users, n_items), got shape {train.shape}")
    R = sp.csr_array(train, dtype=np.float64, copy=True)
    R.sum_duplicates()
    R.eliminate_zeros()
    if R.nnz and (not np.isfinite(R.data).all() or R.data.min() < 0):
        raise DataError("train ratings must be finite and non-negative (0 = missing)")
    return R


def user_cosine(train) -> np.ndarray:
    """Dense users x users cosine similarity of the training rating vectors (0 for users without ratings)."""
    R = _check_ratings(train)
    norms = np.sqrt(np.asarray(R.multiply(R).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    Rn = sp.csr_array(sp.diags_array(1.0 / norms) @ R)
    return np.asarray((Rn @ Rn.T).toarray())


def neighbours(train, n_neighbors: int = 50) -> np.ndarray:
    """Indices (n_users, n_neighbors) of each user's most cosine-similar OTHER users, most similar first.

    Ties are broken by the lower user index (a stable sort), so the result is deterministic.
    """
    R = _check_ratings(train)
    n_users = R.shape[0]
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ConfigError(f"n_neighbors must be an integer >= 1, got {n_neighbors!r}")
    if n_neighbors > n_users - 1:
        raise ConfigError(f"n_neighbors={n_neighbors} exceeds the {n_users - 1} other users")
    S = user_cosine(R)
    np.fill_diagonal(S, -np.inf)  # a user is never its own neighbour
    order = np.argsort(-S, axis=1, kind="stable")
    return order[:, :n_neighbors]


def explanation_scores(train, n_neighbors: int = 50) -> np.ndarray:
    """Dense (n_users, n_items) Exp(u, i) of Eq. 5-6: the mean training rating of item i over N_u, 0 for non-raters."""
    R = _check_ratings(train)
    nbrs = neighbours(R, n_neighbors)
    n_users = R.shape[0]
    rows = np.repeat(np.arange(n_users), n_neighbors)
    A = sp.csr_array((np.ones(rows.size), (rows, nbrs.ravel())), shape=(n_users, n_users))
    return np.asarray((A @ R).toarray()) / n_neighbors


def explainability_matrix(train, n_neighbors: int = 50, theta: float = 0.0) -> sp.csr_array:
    """Sparse E of Eq. 7 (float32, in stars): Exp(u, i) where it exceeds theta, else 0 (not stored)."""
    try:
        theta = float(theta)
    except (TypeError, ValueError):
        raise ConfigError(f"theta must be a number, got {theta!r}") from None
    if not np.isfinite(theta) or theta < 0:
        raise ConfigError(f"theta must be a finite number >= 0, got {theta}")
    scores = explanation_scores(train, n_neighbors)
    scores[scores <= theta] = 0.0
    E = sp.csr_array(scores.astype(np.float32))
    E.eliminate_zeros()
    return E


def explainable_mask(E, theta: float = 0.0) -> sp.csr_array:
    """0/1 CSR of the explainable (u, i) pairs, E(u, i) > theta, for MEP (metrics.mep_at_k)."""
    E = sp.csr_array(E, copy=True)
    E.data = (E.data > theta).astype(np.float32)
    E.eliminate_zeros()
    return E
