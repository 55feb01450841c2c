"""Small helpers for the teaching chapter on autoencoders for collaborative filtering (no models live here).

* `step_through` follows one user's sparse vector through any trained autoencoder given as `encode` / `decode`
  callables: what goes in, what the latent code looks like, which unseen items the decoder fills in.
* `prediction_summary`, `unobserved_predictions` and `is_collapsed` describe the distribution of predictions on
  observed and unobserved entries, the evidence for "an unmasked loss collapses toward zero".
* `loss_decomposition` splits the full (unmasked) squared error of any prediction into its observed and unobserved
  parts, so the reader sees how much of the plain MSE the unknown zeros contribute.
* `gaussian_kl`, `reparameterize` and `monte_carlo_kl` show the VAE's reparameterization trick and its closed-form KL
  term on plain numpy arrays; `active_units` measures posterior collapse of a latent code.
* `drop_interactions` hides part of a user's history; `recommended_popularity` measures how mainstream a top-k is.

The experiments themselves (seeds, models, claims) live in `replication.chapters.autoencoders`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import ConfigError, DataError

# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _to_numpy(value: Any) -> np.ndarray:
    """A numpy copy of a numpy array or a (possibly grad-tracking) torch tensor."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _dense_predictions(predictions: Any, name: str = "predictions") -> np.ndarray:
    out = _to_numpy(predictions).astype(np.float64, copy=False)
    if out.ndim != 2:
        raise DataError(f"{name} must be a 2-D users x items matrix, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise DataError(f"{name} contains {int((~np.isfinite(out)).sum())} non-finite values")
    return out


def _observed_mask(observed: Any, shape: tuple[int, int], name: str = "observed") -> np.ndarray:
    """Boolean users x items mask of the non-zero entries of a sparse (or dense) matrix with the given shape."""
    if sp.issparse(observed):
        if observed.shape != shape:
            raise DataError(f"{name} has shape {observed.shape} but predictions have shape {shape}")
        csr = sp.csr_array(observed, copy=True)
        csr.eliminate_zeros()
        mask = np.zeros(shape, dtype=bool)
        rows = np.repeat(np.arange(shape[0]), np.diff(csr.indptr))
        mask[rows, csr.indices] = True
        return mask
    dense = _to_numpy(observed)
    if dense.shape != shape:
        raise DataError(f"{name} has shape {dense.shape} but predictions have shape {shape}")
    return dense != 0


# ---------------------------------------------------------------------------
# one user through the autoencoder
# ---------------------------------------------------------------------------


@dataclass
class StepThrough:
    """One user's trip through an autoencoder: the input vector, the latent code and the reconstruction."""

    x: np.ndarray  # input vector, length n_items (0 = no interaction)
    z: np.ndarray  # latent code
    x_hat: np.ndarray  # decoder output, length n_items
    rated: pd.DataFrame  # the items that went in: item, title, input, reconstruction
    filled_in: pd.DataFrame  # the top-k unseen items the decoder fills in: rank, item, title, score

    @property
    def n_rated(self) -> int:
        return int(np.count_nonzero(self.x))

    @property
    def density(self) -> float:
        """Share of the catalogue the user has interacted with."""
        return self.n_rated / len(self.x)

    def summary(self) -> dict[str, float]:
        """A few numbers worth quoting about this trip."""
        rated = self.x != 0
        return {"n_items": len(self.x), "n_rated": self.n_rated, "density": self.density,
                "latent_dim": len(self.z), "compression": len(self.x) / len(self.z),
                "rmse_on_rated": float(np.sqrt(np.mean((self.x_hat[rated] - self.x[rated]) ** 2))) if rated.any()
                else float("nan"),
                "mean_score_rated": float(self.x_hat[rated].mean()) if rated.any() else float("nan"),
                "mean_score_unseen": float(self.x_hat[~rated].mean()) if (~rated).any() else float("nan")}


def step_through(x: Any, encode: Callable[[Any], Any], decode: Callable[[Any], Any], k: int = 10,
                 titles: Callable[[int], str] | Sequence[str] | None = None) -> StepThrough:
    """Encode one user's vector `x` (length n_items), decode the code, and list the k highest-scored unseen items.

    `encode` maps a (1, n_items) array to a (1, d) code and `decode` maps that code to (1, n_items) scores; both may
    take and return numpy arrays or torch tensors (wrap a model's methods in a lambda when they need tensors).
    `titles` turns an item index into a readable name (e.g. `Dataset.title`) or is a sequence of names.
    """
    x = _to_numpy(x).astype(np.float32).ravel()
    if x.size == 0:
        raise DataError("step_through needs a non-empty user vector")
    if not np.all(np.isfinite(x)):
        raise DataError("the user vector contains non-finite values")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    z = _to_numpy(encode(x[None, :])).reshape(-1)
    x_hat = _to_numpy(decode(z[None, :].astype(np.float32))).reshape(-1).astype(np.float64)
    if x_hat.shape != x.shape:
        raise DataError(f"decode returned {x_hat.size} scores for a vector of {x.size} items")
    name = _namer(titles)
    rated_items = np.flatnonzero(x)
    rated = pd.DataFrame({"item": rated_items, "title": [name(i) for i in rated_items],
                          "input": x[rated_items], "reconstruction": x_hat[rated_items]})
    rated = rated.sort_values(["input", "reconstruction"], ascending=False, ignore_index=True)
    unseen = np.flatnonzero(x == 0)
    k = min(int(k), unseen.size)
    top = unseen[np.argsort(-x_hat[unseen], kind="stable")[:k]]
    filled = pd.DataFrame({"rank": np.arange(1, k + 1), "item": top, "title": [name(i) for i in top],
                           "score": x_hat[top]})
    return StepThrough(x=x, z=z, x_hat=x_hat, rated=rated, filled_in=filled)


def _namer(titles: Callable[[int], str] | Sequence[str] | None) -> Callable[[int], str]:
    if titles is None:
        return lambda i: f"item {int(i)}"
    if callable(titles):
        return lambda i: titles(int(i))
    return lambda i: str(titles[int(i)])


# ---------------------------------------------------------------------------
# prediction distributions and collapse
# ---------------------------------------------------------------------------


def unobserved_predictions(predictions: Any, observed: Any, max_values: int | None = 20_000,
                           seed: int = 0) -> np.ndarray:
    """The predictions for entries that are zero in `observed` (e.g. the training matrix), optionally a seeded
    random sample of at most `max_values` of them (enough for a histogram)."""
    P = _dense_predictions(predictions)
    values = P[~_observed_mask(observed, P.shape)]
    if max_values is not None and values.size > max_values:
        values = np.random.default_rng(seed).choice(values, size=int(max_values), replace=False)
    return values


def _describe(values: np.ndarray, tol: float) -> dict[str, float]:
    if values.size == 0:
        return {k: float("nan") for k in ("mean", "median", "std", "q05", "q95", "near_zero")} | {"n": 0}
    q05, median, q95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"n": int(values.size), "mean": float(values.mean()), "median": float(median),
            "std": float(values.std()), "q05": float(q05), "q95": float(q95),
            "near_zero": float(np.mean(np.abs(values) < tol))}


def prediction_summary(predictions: Any, observed: Any, tol: float = 0.5) -> dict[str, dict[str, float]]:
    """Distribution of predictions on the observed and on the unobserved entries of `observed`.

    Returns {"observed": stats, "unobserved": stats}, each with n, mean, median, std, 5% / 95% quantiles and
    `near_zero`, the share of predictions within `tol` of zero (for 1-5 star ratings, closer to "no rating" than
    to the lowest possible rating when tol = 0.5).
    """
    if tol <= 0:
        raise ConfigError(f"tol must be positive, got {tol}")
    P = _dense_predictions(predictions)
    mask = _observed_mask(observed, P.shape)
    return {"observed": _describe(P[mask], tol), "unobserved": _describe(P[~mask], tol)}


def is_collapsed(summary: Mapping[str, Mapping[str, float]], tol: float = 0.5) -> bool:
    """A model has collapsed toward zero when its median prediction for unobserved entries lies within `tol` of
    zero, i.e. it predicts "no rating" rather than a rating for the items a user has not seen."""
    median = summary["unobserved"]["median"]
    if not np.isfinite(median):
        raise DataError("no unobserved entries to judge collapse on")
    return bool(abs(median) < tol)


def loss_decomposition(predictions: Any, target: Any) -> dict[str, float]:
    """Split the full squared error sum_{u,i} (x_ui - p_ui)^2 over every entry of `target` (zeros included) into
    the part on observed (non-zero) entries and the part on unobserved entries.

    Returns sse_observed, sse_unobserved, share_unobserved (of the full sum), masked_mse (the mean over observed
    entries: the loss AutoRec minimizes) and full_mse (the mean over all entries: plain MSE). `predictions` may be
    one row (n_items,) predicted for every user: the sums are then taken in closed form from the sparse target,
    without a dense users x items matrix.
    """
    if np.ndim(predictions) == 1 and sp.issparse(target):
        return _row_loss_decomposition(np.asarray(predictions, dtype=np.float64), sp.csr_array(target))
    P = _dense_predictions(predictions)
    mask = _observed_mask(target, P.shape, "target")
    X = target.toarray() if sp.issparse(target) else _to_numpy(target)
    sq = (np.asarray(X, dtype=np.float64) - P) ** 2
    sse_obs, sse_unobs = float(sq[mask].sum()), float(sq[~mask].sum())
    total = sse_obs + sse_unobs
    n_obs = int(mask.sum())
    return {"n_observed": n_obs, "n_unobserved": int(mask.size - n_obs),
            "sse_observed": sse_obs, "sse_unobserved": sse_unobs,
            "share_unobserved": sse_unobs / total if total > 0 else float("nan"),
            "masked_mse": sse_obs / n_obs if n_obs else float("nan"), "full_mse": total / mask.size}


def _row_loss_decomposition(row: np.ndarray, target: sp.csr_array) -> dict[str, float]:
    """:func:`loss_decomposition` of the prediction `row` for every user: observed entries from the target's
    stored values, unobserved ones as (n_users - observed in column i) * row[i]^2."""
    if row.shape != (target.shape[1],):
        raise DataError(f"a prediction row of {row.shape[0]} items for a target with {target.shape[1]} columns")
    if not np.isfinite(row).all():
        raise DataError(f"the prediction row contains {int((~np.isfinite(row)).sum())} non-finite values")
    target = target.copy()
    target.eliminate_zeros()
    observed = np.bincount(target.indices, minlength=target.shape[1])
    sse_obs = float(((target.data - row[target.indices]) ** 2).sum())
    sse_unobs = float(((target.shape[0] - observed) * row ** 2).sum())
    total, n_obs, size = sse_obs + sse_unobs, int(target.nnz), target.shape[0] * target.shape[1]
    return {"n_observed": n_obs, "n_unobserved": int(size - n_obs), "sse_observed": sse_obs,
            "sse_unobserved": sse_unobs, "share_unobserved": sse_unobs / total if total > 0 else float("nan"),
            "masked_mse": sse_obs / n_obs if n_obs else float("nan"), "full_mse": total / size}


# ---------------------------------------------------------------------------
# the VAE's latent space in plain numpy
# ---------------------------------------------------------------------------


def _check_gaussian(mu: Any, logvar: Any) -> tuple[np.ndarray, np.ndarray]:
    mu, logvar = np.atleast_2d(_to_numpy(mu)).astype(np.float64), np.atleast_2d(_to_numpy(logvar)).astype(np.float64)
    if mu.shape != logvar.shape:
        raise DataError(f"mu has shape {mu.shape} but logvar has shape {logvar.shape}")
    return mu, logvar


def gaussian_kl(mu: Any, logvar: Any) -> np.ndarray:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per row, in closed form:
    1/2 * sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j)."""
    mu, logvar = _check_gaussian(mu, logvar)
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1.0 - logvar, axis=1)


def reparameterize(mu: Any, logvar: Any, n_samples: int = 1, seed: int = 0) -> np.ndarray:
    """Draw z = mu + sigma * eps with eps ~ N(0, I): shape (n_samples, n_rows, d). The randomness sits in eps only,
    so z is a differentiable function of (mu, logvar): the reparameterization trick."""
    mu, logvar = _check_gaussian(mu, logvar)
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
    eps = np.random.default_rng(seed).standard_normal((int(n_samples),) + mu.shape)
    return mu + np.exp(0.5 * logvar) * eps


def monte_carlo_kl(mu: Any, logvar: Any, n_samples: int = 10_000, seed: int = 0) -> np.ndarray:
    """Monte Carlo estimate of the same KL per row: mean over reparameterized samples of log q(z) - log p(z)."""
    mu, logvar = _check_gaussian(mu, logvar)
    z = reparameterize(mu, logvar, n_samples, seed)
    log_q = -0.5 * np.sum(logvar + (z - mu) ** 2 / np.exp(logvar), axis=2)
    log_p = -0.5 * np.sum(z ** 2, axis=2)  # the 2*pi constants cancel
    return (log_q - log_p).mean(axis=0)


def active_units(mu: Any, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across users (variance > threshold): dimensions
    that carry information about the input. A dimension the KL term has pushed to the prior is inactive."""
    mu = np.atleast_2d(_to_numpy(mu)).astype(np.float64)
    if mu.shape[0] < 2:
        raise DataError(f"active_units needs the codes of at least two users, got {mu.shape[0]}")
    return int(np.sum(mu.var(axis=0) > threshold))


# ---------------------------------------------------------------------------
# inputs and outputs of the teaching experiments
# ---------------------------------------------------------------------------


def drop_interactions(matrix: Any, fraction: float, seed: int = 0) -> sp.csr_array:
    """A copy of a sparse users x items matrix with a seeded random `fraction` of its stored entries removed
    (simulates a user whose history is only partly known)."""
    if not sp.issparse(matrix):
        raise DataError(f"drop_interactions needs a scipy sparse matrix, got {type(matrix).__name__}")
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"fraction must lie in [0, 1), got {fraction}")
    out = sp.csr_array(matrix, copy=True)
    out.sum_duplicates()
    keep = np.random.default_rng(seed).random(out.nnz) >= fraction
    out.data = np.where(keep, out.data, 0).astype(out.data.dtype)
    out.eliminate_zeros()
    return out


def recommended_popularity(scores: np.ndarray, train: Any, k: int = 10, everyone: Any = None) -> float:
    """Median number of training interactions of the items in every user's top-k (train items excluded): low values
    mean the model recommends obscure items. `scores` and `train` may be the rows of a sample of users; popularity
    is then counted in `everyone` (the whole training matrix)."""
    from .metrics import top_k

    train = sp.csr_array(train)
    counted = train if everyone is None else sp.csr_array(everyone)
    popularity = np.bincount(counted.indices, minlength=counted.shape[1])
    return float(np.median(popularity[top_k(scores, k, exclude=train)]))


def sampled_scores(model: Any, rows: Any, seed: int = 0) -> np.ndarray:
    """Scores of a trained Mult-VAE for fold-in `rows` decoded from one SAMPLED code z ~ q(z | x) per user
    instead of its mean (what "a VAE can sample diverse recommendations" means): the network in eval mode (no
    dropout), z = mu + sigma * eps with a seeded eps."""
    import torch

    net = model.network_
    was_training = net.training
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy((sp.csr_array(rows) > 0).toarray().astype(np.float32))
        mu, logvar = net.encode(x)
        if logvar is None:
            raise ConfigError("sampled_scores needs a variational model (Mult-VAE), not Mult-DAE")
        z = reparameterize(mu.numpy(), logvar.numpy(), n_samples=1, seed=seed)[0]
        scores = net.decode(torch.from_numpy(z.astype(np.float32))).numpy()
    net.train(was_training)
    return scores
