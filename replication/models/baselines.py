"""Non-neural baselines and controls: random, popularity, item-kNN, user-kNN and EASE, under the one protocol.

Each takes a users x items CSR in ``fit`` and returns dense float32 scores from ``score(users)``; all computation
is vectorized matrix algebra. They work on the binarized matrix (implicit feedback) unless ``binary=False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..checks import check_int, check_number
from ..errors import DataError
from ..neighbours import cosine_similarity, knn_scores, top_neighbours
from .base import Recommender

__all__ = ["Random", "Popularity", "ItemKNN", "UserKNN", "EASE"]


def _binarize(X: sp.csr_array) -> sp.csr_array:
    """A copy of X with every stored value set to 1 (implicit feedback view)."""
    B = X.copy()
    B.data = np.ones_like(B.data)
    return B


class _Baseline(Recommender):
    binary: bool = True
    fold_in = True

    def _prepare(self, train: Any) -> sp.csr_array:
        X = self._set_train(train, dtype=np.float64, nonneg=True)
        return _binarize(X) if self.binary else X

    def _inputs(self, users: Any) -> sp.csr_array:
        rows, _ = self._rows(users)
        return _binarize(rows) if self.binary else sp.csr_array(rows, dtype=np.float64)


class Random(_Baseline):
    """Uniform random scores, the floor every recommender must beat. Seeded: user row r of the fitted matrix always
    gets the same scores; fold-in rows are drawn from a generator seeded by (seed, 1)."""

    name = "Random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = check_int("seed", seed, 0)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "Random":
        self._prepare(train)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        rows, idx = self._rows(users)
        n_items = rows.shape[1]
        if idx is None:
            return np.random.default_rng((self.seed, 1)).random((rows.shape[0], n_items), dtype=np.float32)
        table = np.random.default_rng(self.seed).random((self._fitted().shape[0], n_items), dtype=np.float32)
        return table[idx]


class Popularity(_Baseline):
    """Score every item by how many training users interacted with it: the non-personalised control."""

    name = "Pop"

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "Popularity":
        X = self._prepare(train)
        self.counts_ = np.asarray(X.sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, users: Any = None) -> np.ndarray:
        rows, _ = self._rows(users)
        return np.tile(self.counts_, (rows.shape[0], 1))


class ItemKNN(_Baseline):
    """Item-based kNN: cosine item-item similarity kept for each item's k nearest items, score = X @ S."""

    name = "ItemKNN"

    def __init__(self, k: int = 100, shrink: float = 0.0, binary: bool = True) -> None:
        self.k = check_int("k", k, 1)
        self.shrink = check_number("shrink", shrink, 0.0)
        self.binary = bool(binary)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "ItemKNN":
        X = self._prepare(train)
        n_items = X.shape[1]
        S = cosine_similarity(X.T)
        if self.shrink:
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
            S *= np.outer(norms, norms) / (np.outer(norms, norms) + self.shrink)
        k = min(self.k, n_items - 1)
        idx, sim = top_neighbours(S, k, exclude_self=True)  # each item's k nearest other items
        weights = np.zeros((n_items, n_items))
        weights[idx.ravel(), np.repeat(np.arange(n_items), k)] = sim.ravel()  # column j: j's neighbours
        self.similarity_ = weights.astype(np.float32)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        return np.asarray(self._inputs(users) @ self.similarity_, dtype=np.float32)


class UserKNN(_Baseline):
    """User-based kNN: similarity-weighted average of the k most cosine-similar training users' rows (all of them
    when there are fewer than k)."""

    name = "UserKNN"

    def __init__(self, k: int = 50, binary: bool = True) -> None:
        self.k = check_int("k", k, 1)
        self.binary = bool(binary)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "UserKNN":
        self.matrix_ = self._prepare(train)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        rows, idx = self._rows(users)
        Q = _binarize(rows) if self.binary else sp.csr_array(rows, dtype=np.float64)
        S = cosine_similarity(Q, self.matrix_)
        if idx is not None:
            S[np.arange(len(idx)), idx] = -np.inf  # a fitted user is never their own neighbour
        nbr, sim = top_neighbours(S, min(self.k, S.shape[1] - (idx is not None)))  # all users when k is larger
        return knn_scores(nbr, sim, self.matrix_).astype(np.float32)


class EASE(_Baseline):
    """EASE (Steck 2019): closed-form item-item ridge regression with a zero diagonal, score = X @ B."""

    name = "EASE"

    def __init__(self, l2: float = 500.0, binary: bool = True) -> None:
        self.l2 = check_number("l2", l2, 0.0)
        self.binary = bool(binary)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "EASE":
        X = self._prepare(train)
        G = (X.T @ X).toarray()
        G[np.diag_indices_from(G)] += self.l2
        try:
            P = np.linalg.inv(G)
        except np.linalg.LinAlgError as exc:
            raise DataError(f"X^T X + l2 I is singular (l2={self.l2}); use a positive l2") from exc
        B = -P / np.diag(P)[None, :]
        np.fill_diagonal(B, 0.0)
        self.weights_ = B.astype(np.float32)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        return np.asarray(self._inputs(users) @ self.weights_, dtype=np.float32)
