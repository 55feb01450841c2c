"""Non-neural baselines and controls: random, popularity, item-kNN, user-kNN, EASE, and the baselines
reproducibility studies found hardest to beat (Ferrari Dacrema et al. 2019): RP3beta, PureSVD and iALS, under the
one protocol.

Each takes a users x items CSR in ``fit`` and returns dense float32 scores from ``score(users)``; all computation
is vectorized matrix algebra. They work on the binarized matrix (implicit feedback) unless ``binary=False``.

:class:`BiasedMF` is the rating-prediction reference instead: mean + user and item biases + a dot product of latent
factors, fitted to the ratings by the book's training loop (full-batch Rprop, early stopping on validation RMSE);
``factors=0`` is the regularised user + item bias baseline ("Biases").
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..checks import check_int, check_number
from ..errors import ConfigError, DataError
from ..neighbours import cosine_similarity, knn_scores, top_neighbours
from .base import Entry, Recommender
from .training import Rprop, fit_loop, resolve_device

if TYPE_CHECKING:  # the type only: models never import the metrics module
    from ..metrics import Validation

__all__ = ["Random", "Popularity", "ItemKNN", "UserKNN", "EASE", "RP3beta", "PureSVD", "IALS", "BiasedMF"]


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
    gets the same scores (row r of one seeded table, whichever users are scored together); fold-in rows are drawn
    from a generator seeded by (seed, 1)."""

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
        return np.stack([self._row(int(r), n_items) for r in idx]) if len(idx) else np.empty((0, n_items), np.float32)

    def _row(self, row: int, n_items: int) -> np.ndarray:
        """Row `row` of the table default_rng(seed).random((n_users, n_items), float32), drawn alone: the generator
        jumps ahead to the row (two float32 per 64-bit draw), so scoring a block of users never builds the table."""
        generator = np.random.default_rng(self.seed)
        start = row * n_items
        generator.bit_generator.advance(start // 2)
        if start % 2:
            generator.random(1, dtype=np.float32)
        return generator.random(n_items, dtype=np.float32)


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


def _row_normalised(X: sp.csr_array) -> sp.csr_array:
    """Each row divided by its sum (rows without entries stay zero): a transition-probability matrix."""
    sums = np.asarray(X.sum(axis=1)).ravel()
    return sp.csr_array(sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ X)


class RP3beta(_Baseline):
    """RP3beta (Paudel et al. 2017; Christoffel et al. 2015's P3 re-weighted by popularity): the item-item weight is
    the probability of a 3-step random walk item -> user -> item, each step's transition probabilities raised to
    `alpha`, divided by the destination item's popularity to the power `beta`; each item keeps its `k` largest
    weights (itself excluded) and score = X @ W."""

    name = "RP3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, k: int = 100, binary: bool = True) -> None:
        self.alpha = check_number("alpha", alpha, 0.0, low_open=True)
        self.beta = check_number("beta", beta, 0.0)
        self.k = check_int("k", k, 1)
        self.binary = bool(binary)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "RP3beta":
        X = self._prepare(train)
        n_items = X.shape[1]
        user_step, item_step = _row_normalised(X), _row_normalised(sp.csr_array(X.T))  # P(i | u), P(u | i)
        user_step.data **= self.alpha
        item_step.data **= self.alpha
        W = (item_step @ user_step).toarray()  # W[i, j]: walk from item i through a user to item j
        popularity = np.asarray(X.sum(axis=0)).ravel()
        W /= np.where(popularity > 0, popularity, 1.0)[None, :] ** self.beta
        k = min(self.k, n_items - 1)
        idx, weight = top_neighbours(W, k, exclude_self=True)  # row i: the k items item i leads to most
        kept = np.zeros((n_items, n_items))
        kept[np.repeat(np.arange(n_items), k), idx.ravel()] = weight.ravel()
        self.weights_ = kept.astype(np.float32)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        return np.asarray(self._inputs(users) @ self.weights_, dtype=np.float32)


class PureSVD(_Baseline):
    """PureSVD (Cremonesi et al. 2010): the truncated SVD X ~ U S V^T of the binary matrix, score = X V V^T (the
    user's row projected on the top `factors` item directions; new users fold in the same way). Deterministic: the
    sparse eigensolver starts from a seeded vector."""

    name = "PureSVD"

    def __init__(self, factors: int = 50, seed: int = 0, binary: bool = True) -> None:
        self.factors = check_int("factors", factors, 1)
        self.seed = check_int("seed", seed, 0)
        self.binary = bool(binary)

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "PureSVD":
        from scipy.sparse.linalg import svds

        X = self._prepare(train)
        k = min(self.factors, min(X.shape) - 1)
        start = np.random.default_rng(self.seed).random(min(X.shape))
        _, _, Vt = svds(X, k=k, v0=start, random_state=self.seed)
        self.item_factors_ = Vt.T.astype(np.float32)  # items x factors, orthonormal columns
        return self

    def score(self, users: Any = None) -> np.ndarray:
        projected = np.asarray(self._inputs(users) @ self.item_factors_)
        return (projected @ self.item_factors_.T).astype(np.float32)


class IALS(_Baseline):
    """Implicit ALS (Hu, Koren & Volinsky 2008): minimise sum_ui c_ui (p_ui - x_u . y_i)^2 + reg (|x_u|^2 + |y_i|^2)
    with p = 1 for an interaction and confidence c = 1 + `alpha` x it, by alternating least squares. Each half-step
    solves every user's (or item's) system A_u x_u = b_u, A_u = Y^T Y + reg I + alpha Y_u^T Y_u, b_u = (1 + alpha)
    Y_u^T 1, for all rows at once by conjugate gradients warm started from the previous factors (Takacs et al.
    2011), at a cost that grows with the interactions (2 nnz f + n f^2 per step), never forming A_u: `cg_steps`
    steps per half-step as the implicit library does (3), or None to run until every row's residual is below `tol`
    of its right-hand side (the exact ALS update, as tested). Seeded initialisation; `iterations` full sweeps.
    Scores only its fitted users."""

    name = "iALS"
    fold_in = False

    def __init__(self, factors: int = 64, reg: float = 1.0, alpha: float = 10.0, iterations: int = 15, seed: int = 0,
                 cg_steps: int | None = 3, tol: float = 1e-6, binary: bool = True) -> None:
        self.factors = check_int("factors", factors, 1)
        self.reg = check_number("reg", reg, 0.0, low_open=True)
        self.alpha = check_number("alpha", alpha, 0.0)
        self.iterations = check_int("iterations", iterations, 1)
        self.seed = check_int("seed", seed, 0)
        self.cg_steps = None if cg_steps is None else check_int("cg_steps", cg_steps, 1)
        self.tol = check_number("tol", tol, 0.0, low_open=True)
        self.binary = bool(binary)

    def _solve(self, R: sp.csr_array, fixed: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The least-squares factors of every row of R given the other side's factors `fixed` (CG from `start`)."""
        rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
        cols = R.indices
        gram = fixed.T @ fixed + self.reg * np.eye(fixed.shape[1])

        def times(V: np.ndarray) -> np.ndarray:  # A_u v_u for every row u at once
            dots = np.einsum("nf,nf->n", fixed[cols], V[rows])
            return V @ gram + self.alpha * (sp.csr_array((dots, cols, R.indptr), shape=R.shape) @ fixed)

        X = start.copy()
        B = (1.0 + self.alpha) * (R @ fixed)
        residual = B - times(X)
        direction = residual.copy()
        norms = np.einsum("nf,nf->n", residual, residual)
        limit = (self.tol ** 2) * np.maximum(np.einsum("nf,nf->n", B, B), 1e-300)
        for _ in range(self.cg_steps or 4 * fixed.shape[1]):  # exact CG converges in <= f steps
            active = norms > limit
            if not active.any():
                break
            Ad = times(direction)
            curvature = np.einsum("nf,nf->n", direction, Ad)
            step = np.where(active, norms / np.where(curvature > 0, curvature, 1.0), 0.0)
            X += step[:, None] * direction
            residual -= step[:, None] * Ad
            new_norms = np.einsum("nf,nf->n", residual, residual)
            direction = residual + np.where(active, new_norms / np.maximum(norms, 1e-300), 0.0)[:, None] * direction
            norms = new_norms
        return X

    def fit(self, train: Any, *, valid: Any = None, side: Any = None) -> "IALS":
        X = self._prepare(train)
        rng = np.random.default_rng(self.seed)
        items = 0.01 * rng.standard_normal((X.shape[1], self.factors))
        users = np.zeros((X.shape[0], self.factors))
        Xt = sp.csr_array(X.T)
        for _ in range(self.iterations):
            users = self._solve(X, items, users)
            items = self._solve(Xt, users, items)
        self.user_factors_, self.item_factors_ = users.astype(np.float32), items.astype(np.float32)
        return self

    def score(self, users: Any = None) -> np.ndarray:
        _, idx = self._rows(users)
        return self.user_factors_[idx] @ self.item_factors_.T


class _BiasedMFNet(nn.Module):
    """r_hat(u, i) = mu + b_u + b_i + p_u . q_i with mu fixed (a buffer); P and Q absent when factors == 0."""

    def __init__(self, n_users: int, n_items: int, factors: int, mu: float, init_std: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.register_buffer("mu", torch.tensor(mu, dtype=torch.float32))
        self.user_bias = nn.Parameter(torch.zeros(n_users))
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.user_factors = self.item_factors = None
        if factors:
            self.user_factors = nn.Parameter(torch.randn(n_users, factors, generator=generator) * init_std)
            self.item_factors = nn.Parameter(torch.randn(n_items, factors, generator=generator) * init_std)

    def at(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Predictions at the (users[j], items[j]) pairs only: rows of P and Q gathered, no users x items matrix."""
        out = self.mu + self.user_bias[users] + self.item_bias[items]
        if self.user_factors is not None:
            out = out + (self.user_factors[users] * self.item_factors[items]).sum(1)
        return out

    def dense(self, users: torch.Tensor) -> torch.Tensor:
        """Every item's prediction for the given user rows (len(users), n_items)."""
        out = self.mu + self.user_bias[users, None] + self.item_bias[None, :]
        if self.user_factors is not None:
            out = out + self.user_factors[users] @ self.item_factors.T
        return out

    def penalty(self) -> torch.Tensor:
        """||b_u||^2 + ||b_i||^2 + ||P||_F^2 + ||Q||_F^2 (without l2)."""
        return sum((w.square().sum() for w in self.parameters()), torch.zeros((), device=self.mu.device))


class BiasedMF(Recommender):
    """Biased matrix factorisation, the rating-prediction reference AutoRec must beat: r_hat = mu + b_u + b_i +
    p_u . q_i, mu the mean training rating (fixed), fitted by minimising the SUM of squared errors over the observed
    training ratings + l2 (||P||^2 + ||Q||^2 + ||b_u||^2 + ||b_i||^2) with full-batch Rprop; ``factors=0`` is the
    regularised user + item bias model ("Biases").

    With ``valid`` (metric "rmse" on held-out ratings of the same users) the best epoch's weights are kept and
    ``patience`` stops early. History columns: epoch, loss, train_rmse (stars, clipped to [1, 5]), weight, valid,
    seconds. Deterministic for a given seed. Scores only its fitted users (no fold-in). Ratings in (0, 5].
    ``device``: "auto" (CUDA when present, else CPU), "cpu" or "cuda[:n]".
    """

    fold_in = False
    scale = 5.0  # the rating scale's top: training ratings lie in (0, 5], predictions are clipped to [1, 5]

    def __init__(self, factors: int = 50, l2: float = 10.0, epochs: int = 500, patience: int | None = 10,
                 lr: float = 0.01, init_std: float = 0.1, seed: int = 0, device: str = "auto") -> None:
        self.factors = check_int("factors", factors, 0)
        self.l2 = check_number("l2", l2, 0.0)
        self.epochs = check_int("epochs", epochs, 1)
        self.patience = None if patience is None else check_int("patience", patience, 1)
        self.lr = check_number("lr", lr, 0.0, low_open=True)
        self.init_std = check_number("init_std", init_std, 0.0)
        self.seed = check_int("seed", seed, 0)
        self.device = device

    @property
    def name(self) -> str:  # type: ignore[override]
        return "BiasedMF" if self.factors else "Biases"

    def fit(self, train: Any, *, valid: "Validation | None" = None, side: Any = None) -> "BiasedMF":
        """Train on the ratings `train` (users x items, (0, 5]); `side` is ignored."""
        R = self._set_train(train, nonneg=True, max_value=self.scale)
        n_users, n_items = R.shape
        device = self.device_ = resolve_device(self.device)
        users = torch.from_numpy(np.repeat(np.arange(n_users), np.diff(R.indptr)).astype(np.int64)).to(device)
        items = torch.from_numpy(R.indices.astype(np.int64)).to(device)
        target = torch.from_numpy(R.data.astype(np.float32)).to(device)
        generator = torch.Generator().manual_seed(self.seed)  # initial weights drawn on the CPU: the same anywhere
        net = self.network_ = _BiasedMFNet(n_users, n_items, self.factors, float(R.data.mean()), self.init_std,
                                           generator).to(device)
        opt = Rprop(net.parameters(), lr=self.lr)

        def loss(batch: None, step: int):
            predicted = net.at(users, items)
            objective = ((predicted - target) ** 2).sum() + self.l2 * net.penalty()
            with torch.no_grad():
                sq = float(((predicted.clamp(1.0, self.scale) - target) ** 2).mean())
            return objective, {"train_mse": sq}, float(len(target))

        validate = None
        if valid is not None:
            if valid.metric != "rmse":
                raise ConfigError(f"BiasedMF validates with metric 'rmse' (it predicts ratings), "
                                  f"got valid.metric={valid.metric!r}")
            if valid.fold_in is not None:
                raise ConfigError("BiasedMF validates on held-out ratings of its training users (no fold-in rows)")
            if valid.target.shape != R.shape:
                raise DataError(f"valid.target has shape {valid.target.shape}, train has {R.shape}")
            v_users, v_items = (torch.from_numpy(a.astype(np.int64)).to(device) for a in valid.pairs())
            validate = lambda: valid.evaluate(net.at(v_users, v_items).cpu().numpy())  # noqa: E731

        history = fit_loop(net, opt, batches=lambda epoch: [None], loss=loss, validate=validate,
                           epochs=self.epochs, patience=self.patience, higher_is_better=False, seed=self.seed,
                           desc=self.name)
        history.insert(2, "train_rmse", np.sqrt(history.pop("train_mse")))
        self.history_ = history
        return self

    @torch.no_grad()
    def score(self, users: Any = None) -> np.ndarray:
        """Dense predicted ratings (float32, len(users) x n_items), not clipped; users = None or fitted rows."""
        _, idx = self._rows(users)
        self.network_.eval()
        rows = torch.from_numpy(idx.astype(np.int64)).to(self.device_)
        return self.network_.dense(rows).cpu().numpy().astype(np.float32, copy=False)

    def predict(self, users: Any = None) -> np.ndarray:
        """Predicted ratings clipped to [1, 5] (what RMSE is computed on)."""
        return np.clip(self.score(users), 1.0, self.scale)


REGISTERED = {
    "Random": Entry(Random, seeded=True), "Pop": Entry(Popularity), "ItemKNN": Entry(ItemKNN),
    "UserKNN": Entry(UserKNN), "EASE": Entry(EASE), "RP3beta": Entry(RP3beta), "PureSVD": Entry(PureSVD, seeded=True),
    "iALS": Entry(IALS, seeded=True, cost=2.0), "BiasedMF": Entry(BiasedMF, trained=True, seeded=True),
    "Biases": Entry(partial(BiasedMF, factors=0), trained=True, seeded=True),
}
