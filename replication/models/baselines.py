"""Non-neural baselines (popularity, item-kNN, user-kNN, EASE) that the autoencoders are compared against.

Every baseline takes a scipy.sparse CSR user x item matrix in ``fit`` and returns a dense float32
score matrix (n_users, n_items) from ``score``; all computation is vectorized matrix algebra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from replication.errors import ConfigError

__all__ = ["Baseline", "Popularity", "ItemKNN", "UserKNN", "EASE", "BASELINES", "fit_score"]


def _check_matrix(train: Any, n_items: int | None = None) -> sp.csr_array:
    """Validate a user x item training matrix and return it as a float64 csr_array, so models see one type."""
    if not sp.issparse(train):
        raise ValueError(
            f"train must be a scipy.sparse matrix (csr_array or csr_matrix), got {type(train).__name__}"
        )
    if train.ndim != 2:
        raise ValueError(f"train must be 2-D (n_users, n_items), got shape {train.shape}")
    if n_items is not None and train.shape[1] != n_items:
        raise ValueError(
            f"train has {train.shape[1]} items but the model was fitted on {n_items} items"
        )
    return sp.csr_array(train, dtype=np.float64)


def _binarize(X: sp.csr_array) -> sp.csr_array:
    """Return a copy of X with every nonzero stored value set to 1 (implicit feedback view)."""
    B = X.copy()
    B.eliminate_zeros()
    B.data = np.ones_like(B.data)
    return B


def _check_k(k: Any) -> int:
    """Check that a neighbourhood size is a non-negative integer, since k drives array slicing."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ConfigError(f"k must be a non-negative integer, got {k!r}")
    if k < 0:
        raise ConfigError(f"k must be a non-negative integer, got {k}")
    return int(k)


def _check_nonneg(name: str, value: Any) -> float:
    """Check that a regularisation/shrink parameter is a finite non-negative number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ConfigError(f"{name} must be a finite non-negative number, got {value!r}")
    return v


def _top_k_mask(S: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Boolean mask marking the k largest entries of S along `axis` (all entries if k >= length)."""
    n = S.shape[axis]
    if k >= n:
        return np.ones(S.shape, dtype=bool)
    mask = np.zeros(S.shape, dtype=bool)
    if k == 0:
        return mask
    idx = np.take(np.argpartition(-S, k - 1, axis=axis), np.arange(k), axis=axis)
    np.put_along_axis(mask, idx, True, axis=axis)
    return mask


def _safe_norms(sq_sums: np.ndarray) -> np.ndarray:
    """Euclidean norms from sums of squares, with zeros replaced by 1 so empty vectors divide safely."""
    norms = np.sqrt(np.asarray(sq_sums, dtype=np.float64)).ravel()
    norms[norms == 0] = 1.0
    return norms


class Baseline:
    """Shared plumbing for baselines: input checking, optional binarization and fitted-state tracking."""

    name: str = "baseline"
    binary: bool = True

    def __init__(self) -> None:
        self.train_: sp.csr_array | None = None

    def _prepare(self, train: Any, n_items: int | None = None) -> sp.csr_array:
        """Validate `train` and apply the model's binarization, so fit and score see the same input."""
        X = _check_matrix(train, n_items)
        return _binarize(X) if self.binary else X

    def _fitted_train(self) -> sp.csr_array:
        """Return the prepared training matrix, refusing to score an unfitted model."""
        if self.train_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(train) first")
        return self.train_

    def fit(self, train: Any) -> "Baseline":
        """Fit the model on a user x item sparse matrix and return self."""
        raise NotImplementedError

    def score(self, train: Any = None) -> np.ndarray:
        """Return dense float32 scores (n_users, n_items) for `train` (default: the fitted matrix)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class Popularity(Baseline):
    """Score every item by how many training users interacted with it: the non-personalised floor."""

    name = "pop"

    def __init__(self) -> None:
        super().__init__()
        self.counts_: np.ndarray | None = None

    def fit(self, train: Any) -> "Popularity":
        """Count the distinct users per item column (stored nonzeros) of `train`."""
        X = self._prepare(train)
        self.train_ = X
        self.counts_ = np.asarray(X.sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, train: Any = None) -> np.ndarray:
        """Return the popularity row repeated for every user of `train` (default: the fitted matrix)."""
        X = self._fitted_train()
        n_users = X.shape[0] if train is None else _check_matrix(train, X.shape[1]).shape[0]
        return np.tile(self.counts_, (n_users, 1))


class ItemKNN(Baseline):
    """Item-based kNN: cosine item-item similarity pruned to the top-k neighbours per item, score = X @ S."""

    name = "itemknn"

    def __init__(self, k: int = 100, shrink: float = 0.0, binary: bool = True) -> None:
        super().__init__()
        self.k = _check_k(k)
        self.shrink = _check_nonneg("shrink", shrink)
        self.binary = bool(binary)
        self.similarity_: np.ndarray | None = None

    def fit(self, train: Any) -> "ItemKNN":
        """Compute the pruned item-item cosine similarity matrix (n_items, n_items), zero diagonal."""
        X = self._prepare(train)
        norms = _safe_norms(X.multiply(X).sum(axis=0))
        S = (X.T @ X).toarray()
        S /= np.outer(norms, norms) + self.shrink
        np.fill_diagonal(S, -np.inf)  # never pick an item as its own neighbour
        S = np.where(_top_k_mask(S, self.k, axis=0), S, 0.0)
        np.fill_diagonal(S, 0.0)
        self.train_ = X
        self.similarity_ = S.astype(np.float32)
        return self

    def score(self, train: Any = None) -> np.ndarray:
        """Return X @ S for the fitted users or, given `train`, for those users' vectors (fold-in)."""
        X = self._fitted_train() if train is None else self._prepare(train, self._fitted_train().shape[1])
        return np.asarray(X @ self.similarity_, dtype=np.float32)


class UserKNN(Baseline):
    """User-based kNN: score = |similarity|-normalised weighted sum of the top-k most cosine-similar users' rows."""

    name = "userknn"

    def __init__(self, k: int = 50, binary: bool = True) -> None:
        super().__init__()
        self.k = _check_k(k)
        self.binary = bool(binary)
        self.normalized_: sp.csr_array | None = None

    def fit(self, train: Any) -> "UserKNN":
        """Store the (binarized) training rows and their unit-norm copies for cosine similarity."""
        X = self._prepare(train)
        norms = _safe_norms(X.multiply(X).sum(axis=1))
        self.train_ = X
        self.normalized_ = sp.csr_array(sp.diags_array(1.0 / norms) @ X)
        return self

    def neighbour_weights(self, train: Any = None) -> np.ndarray:
        """Return the pruned similarity matrix (n_query_users, n_fitted_users); self excluded when train is None."""
        X = self._fitted_train()
        if train is None:
            Qn = self.normalized_
        else:
            Q = self._prepare(train, X.shape[1])
            Qn = sp.csr_array(sp.diags_array(1.0 / _safe_norms(Q.multiply(Q).sum(axis=1))) @ Q)
        W = (Qn @ self.normalized_.T).toarray()
        if train is None:
            np.fill_diagonal(W, -np.inf)  # a user is not their own neighbour
        W = np.where(_top_k_mask(W, self.k, axis=1), W, 0.0)
        if train is None:
            np.fill_diagonal(W, 0.0)
        return W

    def score(self, train: Any = None) -> np.ndarray:
        """Return neighbour-weighted item scores for the fitted users or, given `train`, for new users."""
        W = self.neighbour_weights(train)
        denom = np.abs(W).sum(axis=1, keepdims=True)
        denom[denom == 0] = 1.0
        return np.asarray((self.train_.T @ W.T).T / denom, dtype=np.float32)


class EASE(Baseline):
    """EASE (Steck 2019): closed-form item-item ridge regression with a zero-diagonal constraint, score = X @ B."""

    name = "ease"

    def __init__(self, l2: float = 500.0, binary: bool = True) -> None:
        super().__init__()
        self.l2 = _check_nonneg("l2", l2)
        self.binary = bool(binary)
        self.weights_: np.ndarray | None = None

    def fit(self, train: Any) -> "EASE":
        """Solve B = -P / diag(P) with P = (X^T X + l2 I)^{-1} in float64, then zero B's diagonal."""
        X = self._prepare(train)
        G = (X.T @ X).toarray()
        G[np.diag_indices_from(G)] += self.l2
        try:
            P = np.linalg.inv(G)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                f"X^T X + l2 I is singular (l2={self.l2}); use a positive l2"
            ) from exc
        B = -P / np.diag(P)[None, :]
        np.fill_diagonal(B, 0.0)
        self.train_ = X
        self.weights_ = B.astype(np.float32)
        return self

    def score(self, train: Any = None) -> np.ndarray:
        """Return X @ B for the fitted users or, given `train`, for those users' vectors (fold-in)."""
        X = self._fitted_train() if train is None else self._prepare(train, self._fitted_train().shape[1])
        return np.asarray(X @ self.weights_, dtype=np.float32)


BASELINES: dict[str, type[Baseline]] = {
    "pop": Popularity,
    "itemknn": ItemKNN,
    "userknn": UserKNN,
    "ease": EASE,
}


def fit_score(name: str, train: Any, **params: Any) -> np.ndarray:
    """Build the baseline registered under `name` with `params`, fit it on `train` and return its scores."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; allowed names: {', '.join(sorted(BASELINES))}")
    return BASELINES[name](**params).fit(train).score()
