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

__all__ = ["user_cosine", "neighbours", "explanation_scores", "explainability_matrix", "explainable_mask", "map_mep", "paired_verdict"]


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


PROTOCOLS = ("unrated", "test_items")


def map_mep(scores, train, test, explainable, ns=(10,), protocol: str = "unrated",
            relevant_threshold: float | None = 4.0) -> dict[str, float]:
    """MAP@n and MEP@n for every n in `ns`, under one of two ranking protocols, keyed "map@n" / "mep@n".

    protocol="unrated": rank every item the user has not rated in `train` (the usual top-n protocol).
    protocol="test_items": rank only the user's test items (as rating-prediction papers often do); the list then
    holds min(n, n_test_u) items. Relevant = test entries with rating >= relevant_threshold (all test entries when
    None). AP@n = sum_{i<=L} P@i * rel_i / min(n, n_rel_u) (n_rel_u counted among the candidates); MEP@n = share of
    the L listed items that are explainable (explainable[u, i] > 0). Means run over users with at least one test
    rating (MEP) or one relevant test item (MAP). Ties break by lower item index; vectorized over users.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    S = np.array(scores, dtype=np.float64, copy=True)
    tr, te, ex = (sp.csr_array(m) for m in (train, test, explainable))
    if not (S.shape == tr.shape == te.shape == ex.shape):
        raise DataError(f"shape mismatch: scores {S.shape}, train {tr.shape}, test {te.shape}, "
                        f"explainable {ex.shape}")
    ns = [int(n) for n in ns]
    if not ns or min(ns) < 1:
        raise ConfigError(f"ns must be a non-empty list of integers >= 1, got {ns}")
    test_dense = te.toarray()
    candidates = (tr.toarray() == 0) if protocol == "unrated" else (test_dense > 0)
    relevant = (test_dense >= relevant_threshold) if relevant_threshold is not None else (test_dense > 0)
    relevant &= candidates
    S[~candidates] = -np.inf
    S = np.nan_to_num(S, nan=np.finfo(np.float64).min, posinf=np.finfo(np.float64).max)
    n_max = max(ns)
    order = np.argsort(-S, axis=1, kind="stable")[:, :n_max]
    n_cand = candidates.sum(axis=1)
    valid = np.arange(order.shape[1])[None, :] < n_cand[:, None]
    rel_hits = np.take_along_axis(relevant, order, axis=1) & valid
    exp_hits = np.take_along_axis(ex.toarray() > 0, order, axis=1) & valid
    n_rel = relevant.sum(axis=1).astype(float)
    has_test = (test_dense > 0).any(axis=1)
    prec_at_i = np.cumsum(rel_hits, axis=1) / np.arange(1, order.shape[1] + 1)
    out: dict[str, float] = {}
    for n in ns:
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = (prec_at_i[:, :n] * rel_hits[:, :n]).sum(axis=1) / np.minimum(n_rel, n)
            mep = exp_hits[:, :n].sum(axis=1) / np.minimum(n_cand, n)
        ap[n_rel == 0] = np.nan
        mep[~has_test | (n_cand == 0)] = np.nan
        out[f"map@{n}"] = float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")
        out[f"mep@{n}"] = float(np.nanmean(mep)) if np.isfinite(mep).any() else float("nan")
    return out


def paired_verdict(a, b, higher_is_better: bool = True) -> tuple[float, float, str]:
    """Paired comparison of runs a and b over the same seeds (same splits): mean and 95% CI half-width of a - b,
    and 'holds' when a is better than b with the whole CI on a's side, 'does not hold' when b is better likewise,
    else 'inconclusive'. (Pairing removes the split-to-split variance that unpaired CIs include.)"""
    from .metrics import mean_ci

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise DataError(f"paired_verdict needs two equal-length 1-D run arrays (>= 2 seeds), got {a.shape}, {b.shape}")
    diff = a - b if higher_is_better else b - a
    mean, half = mean_ci(diff)
    verdict = "holds" if mean - half > 0 else ("does not hold" if mean + half < 0 else "inconclusive")
    return (mean if higher_is_better else -mean), half, verdict
