"""Evaluation metrics for top-N recommendation, explainability and rating prediction.

Conventions
-----------
* A *score matrix* is a dense float array of shape ``(n_users, n_items)``.
* An *interaction matrix* (train ratings, test ratings, explainability) is a
  ``scipy.sparse`` CSR matrix or array of the same shape; an entry that is stored
  and nonzero counts as observed (explicitly stored zeros are ignored).
* A *top-k matrix* is an integer array of shape ``(n_users, k)`` holding item
  indices, best first, as returned by :func:`top_k`.

Per-user ranking metrics return one float per user and ``np.nan`` for users
without relevant items, so that callers average with ``np.nanmean``.
Everything is vectorised over users; there is no Python loop over users or items.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.stats

from .checks import as_csr, check_choice, check_int
from .errors import ConfigError, DataError

__all__ = [
    "break_ties",
    "top_k",
    "hits",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "f1_at_k",
    "mep_at_k",
    "per_user_metrics",
    "coverage",
    "gini",
    "novelty",
    "rmse",
    "mae",
    "mean_ci",
    "evaluate_topn",
    "mep_of_lists",
]

SparseLike = sp.csr_array | sp.csr_matrix


# ---------------------------------------------------------------------------
# input checking helpers
# ---------------------------------------------------------------------------


def _as_csr(matrix: SparseLike | np.ndarray, name: str) -> sp.csr_array:
    """A canonical float64 copy of a sparse (or dense) matrix, through the package's one validator."""
    return as_csr(matrix, name, dtype=np.float64, dense_ok=True)


def _check_shape(shape: tuple[int, ...], expected: tuple[int, ...], name: str, ref: str) -> None:
    """Raise DataError naming both shapes when `shape` differs from `expected`."""
    if tuple(shape) != tuple(expected):
        raise DataError(f"shape mismatch: {name} has shape {tuple(shape)} but {ref} has shape {tuple(expected)}")


def _check_topk(topk: np.ndarray, n_users: int | None, n_items: int, ref: str) -> np.ndarray:
    """Validate a top-k matrix (item indices, -1 = an empty slot of a short list); return it as an int64 array."""
    topk = np.asarray(topk)
    if topk.ndim != 2:
        raise DataError(f"topk must be 2-D (n_users, k), got shape {topk.shape}")
    if topk.shape[1] < 1:
        raise DataError(f"k must be >= 1, got topk with shape {topk.shape}")
    if topk.size and not np.issubdtype(topk.dtype, np.integer):
        raise DataError(f"topk must hold integer item indices, got dtype {topk.dtype}")
    if n_users is not None and topk.shape[0] != n_users:
        raise DataError(
            f"shape mismatch: topk has shape {topk.shape} ({topk.shape[0]} users) "
            f"but {ref} has {n_users} users"
        )
    if topk.size and (topk.min() < -1 or topk.max() >= n_items):
        raise DataError(
            f"topk (shape {topk.shape}) holds item indices in [{topk.min()}, {topk.max()}], "
            f"outside the {n_items} items of {ref} (-1 marks an empty slot)"
        )
    return topk.astype(np.int64, copy=False)


def _n_relevant(relevant: sp.csr_array) -> np.ndarray:
    """Number of observed entries in each row of a canonical CSR matrix."""
    return np.diff(relevant.indptr)


def _nanmean(values: np.ndarray) -> float:
    """np.nanmean without the warning: nan when every value is nan (or there are none)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.isnan(values).all():
        return float("nan")
    return float(np.nanmean(values))


# ---------------------------------------------------------------------------
# ranking
# ---------------------------------------------------------------------------


def top_k(scores: np.ndarray, k: int, exclude: SparseLike | None = None,
          candidates: SparseLike | None = None) -> np.ndarray:
    """Return each user's k best items by descending score, never listing an item stored in `exclude` nor, when
    `candidates` is given, an item outside it.

    Ties are broken deterministically by the lower item index. NaN scores rank below every finite score (but
    are still listed). A user with fewer than k listable items gets a shorter list, padded with -1 at the end.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise DataError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    n_users, n_items = scores.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"k must be an integer >= 1, got {k!r} (scores shape {scores.shape})")
    if k > n_items:
        raise DataError(f"k={k} exceeds the number of items: scores shape {scores.shape}")
    dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
    lowest = np.finfo(dtype).min
    # Working copy: NaN/-inf become the lowest finite value so that -inf marks unlistable items only.
    s = np.nan_to_num(scores.astype(dtype, copy=True), nan=lowest, neginf=lowest)
    if exclude is not None:
        excl = _as_csr(exclude, "exclude")
        _check_shape(excl.shape, scores.shape, "exclude", "scores")
        s[np.repeat(np.arange(n_users), np.diff(excl.indptr)), excl.indices] = -np.inf
    if candidates is not None:
        cand = _as_csr(candidates, "candidates")
        _check_shape(cand.shape, scores.shape, "candidates", "scores")
        allowed = np.zeros(scores.shape, dtype=bool)
        allowed[np.repeat(np.arange(n_users), np.diff(cand.indptr)), cand.indices] = True
        s[~allowed] = -np.inf

    # k-th largest score of each user: everything above it is in, ties at it fill up by lowest index.
    kth = np.partition(s, n_items - k, axis=1)[:, n_items - k][:, None]
    above = s > kth
    tied = s == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1, dtype=np.int64) <= need))
    cols = np.nonzero(chosen)[1].reshape(n_users, k)  # ascending item index within each row

    # Sort the k chosen items by descending score; the stable sort keeps lower indices first on ties.
    chosen_scores = np.take_along_axis(s, cols, axis=1)
    order = np.argsort(-chosen_scores, axis=1, kind="stable")
    top = np.take_along_axis(cols, order, axis=1)
    top[np.take_along_axis(chosen_scores, order, axis=1) == -np.inf] = -1
    return top


def break_ties(scores: np.ndarray, seed: int) -> np.ndarray:
    """Float64 scores in which exactly equal scores are ordered at random (seeded) instead of by item index: adds
    uniform noise far below the spacing of distinct float32 values (1e-9 of the largest magnitude), so no other
    order changes. For rankings where a tie would otherwise let the item index decide."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    scale = float(np.abs(scores[finite]).max()) if finite.any() else 1.0
    noise = np.random.default_rng(check_int("seed", seed, 0)).random(scores.shape) * 1e-9 * max(scale, 1e-30)
    return np.where(finite, scores + noise, scores)


def hits(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Return a boolean (n_users, k) array telling whether each recommended item is relevant to its user (an empty
    slot, -1, never is)."""
    rel = _as_csr(relevant, "relevant")
    n_users, n_items = rel.shape
    topk = _check_topk(topk, n_users, n_items, "relevant")
    # Canonical CSR rows are sorted, so the keys row * n_items + col are globally sorted: look them up.
    keys = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(rel.indptr)) * n_items + rel.indices
    queries = np.arange(n_users, dtype=np.int64)[:, None] * n_items + topk
    pos = np.searchsorted(keys, queries)
    found = np.zeros(queries.shape, dtype=bool)
    inside = pos < keys.size
    found[inside] = keys[pos[inside]] == queries[inside]
    return found & (topk >= 0)


def _hits_and_counts(topk: np.ndarray, relevant: SparseLike) -> tuple[np.ndarray, np.ndarray]:
    """Hit matrix and number of relevant items per user (float, nan where there are none)."""
    rel = _as_csr(relevant, "relevant")
    h = hits(topk, rel)
    n_rel = _n_relevant(rel).astype(float)
    n_rel[n_rel == 0] = np.nan
    return h, n_rel


# ---------------------------------------------------------------------------
# per-user ranking metrics
# ---------------------------------------------------------------------------


def precision_at_k(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Per-user share of the k recommended items that are relevant (nan for users with no relevant items)."""
    h, n_rel = _hits_and_counts(topk, relevant)
    return np.where(np.isnan(n_rel), np.nan, h.sum(axis=1) / h.shape[1])


def recall_at_k(topk: np.ndarray, relevant: SparseLike, normalized: bool = False) -> np.ndarray:
    """Per-user share of relevant items found in the top k; normalized=True divides by min(k, n_rel) (Liang et al. 2018)."""
    h, n_rel = _hits_and_counts(topk, relevant)
    denom = np.minimum(n_rel, h.shape[1]) if normalized else n_rel
    return h.sum(axis=1) / denom


def ndcg_at_k(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Per-user NDCG@k with binary gains and 1/log2(rank+1) discounts, ideal DCG over min(k, n_rel) hits."""
    h, n_rel = _hits_and_counts(topk, relevant)
    k = h.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = h @ discounts
    ideal = np.concatenate([[np.nan], np.cumsum(discounts)])  # ideal[n] = DCG of n hits at the top
    n_ideal = np.nan_to_num(np.minimum(n_rel, k)).astype(np.int64)  # 0 (-> nan) for users without relevant items
    return dcg / ideal[n_ideal]


def map_at_k(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Per-user average precision AP@k = sum_{i<=k} P@i * rel_i / min(k, n_rel); its mean over users is MAP@k."""
    h, n_rel = _hits_and_counts(topk, relevant)
    k = h.shape[1]
    precision_at_i = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    return (precision_at_i * h).sum(axis=1) / np.minimum(n_rel, k)


def f1_at_k(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Per-user harmonic mean of precision@k and (standard) recall@k; 0 when both are 0, nan without relevant items."""
    h, n_rel = _hits_and_counts(topk, relevant)
    n_hits = h.sum(axis=1)
    # 2PR/(P+R) with P = hits/k and R = hits/n_rel simplifies to 2 * hits / (k + n_rel).
    return 2.0 * n_hits / (h.shape[1] + n_rel)


def mep_at_k(topk: np.ndarray, explainable: SparseLike) -> np.ndarray:
    """Per-user Mean Explainability Precision: share of the listed top-k items with a positive explainability entry.

    Abdollahi & Nasraoui (2017), used to evaluate E-AutoRec. The share is over the items actually listed (a short
    list of L < k items divides by L); a user with an empty list gets nan.
    """
    return _mep(topk, _explainable_mask(explainable))


def _explainable_mask(explainable: SparseLike) -> sp.csr_array:
    """The canonical 0/1 CSR of the positive entries of an explainability matrix."""
    expl = _as_csr(explainable, "explainable")
    expl.data = (expl.data > 0).astype(np.float64)
    expl.eliminate_zeros()
    return expl


def _mep(topk: np.ndarray, mask: sp.csr_array) -> np.ndarray:
    listed = (np.asarray(topk) >= 0).sum(axis=1).astype(float)
    listed[listed == 0] = np.nan
    return hits(topk, mask).sum(axis=1) / listed


# ---------------------------------------------------------------------------
# catalogue / list metrics
# ---------------------------------------------------------------------------


def _item_counts(topk: np.ndarray, n_items: int) -> np.ndarray:
    """How often each of the n_items items appears in the top-k lists."""
    if not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise DataError(f"n_items must be an integer >= 1, got {n_items!r}")
    topk = _check_topk(topk, None, n_items, f"the catalogue (n_items={n_items})")
    return np.bincount(topk[topk >= 0], minlength=n_items)


def coverage(topk: np.ndarray, n_items: int) -> float:
    """Share of the catalogue's n_items items recommended to at least one user (aggregate diversity)."""
    return float(np.count_nonzero(_item_counts(topk, n_items)) / n_items)


def gini(topk: np.ndarray, n_items: int) -> float:
    """Gini index of item recommendation counts over the whole catalogue: 0 = perfectly even, towards 1 = concentrated."""
    counts = np.sort(_item_counts(topk, n_items)).astype(float)
    total = counts.sum()
    if total == 0:
        return 0.0
    i = np.arange(1, n_items + 1)
    return float(np.sum((2 * i - n_items - 1) * counts) / (n_items * total))


def novelty(topk: np.ndarray, item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(popularity_i / n_users) over all recommended items (higher = less popular items).

    `item_popularity[i]` is the number of training users who interacted with
    item i. Items with popularity 0 are treated as having popularity 1 so the
    self-information stays finite (log2(n_users) bits, the rarest possible).
    """
    pop = np.asarray(item_popularity, dtype=float)
    if pop.ndim != 1:
        raise DataError(f"item_popularity must be 1-D, got shape {pop.shape}")
    if n_users < 1:
        raise DataError(f"n_users must be >= 1, got {n_users!r}")
    topk = _check_topk(topk, None, pop.size, f"item_popularity (shape {pop.shape})")
    pop = np.maximum(pop, 1.0)
    listed = topk[topk >= 0]
    return float(np.mean(-np.log2(pop[listed] / n_users))) if listed.size else float("nan")


# ---------------------------------------------------------------------------
# rating prediction metrics
# ---------------------------------------------------------------------------


def _rating_errors(predictions: np.ndarray, truth: SparseLike) -> np.ndarray:
    """Prediction errors at truth's observed (stored, nonzero) entries."""
    predictions = np.asarray(predictions, dtype=float)
    t = _as_csr(truth, "truth")
    _check_shape(predictions.shape, t.shape, "predictions", "truth")
    if t.nnz == 0:
        raise DataError(f"truth (shape {t.shape}) has no observed entries to compare against")
    rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
    return predictions[rows, t.indices] - t.data


def rmse(predictions: np.ndarray, truth: SparseLike) -> float:
    """Root mean squared error of dense predictions over the observed entries of the sparse truth."""
    return float(np.sqrt(np.mean(_rating_errors(predictions, truth) ** 2)))


def mae(predictions: np.ndarray, truth: SparseLike) -> float:
    """Mean absolute error of dense predictions over the observed entries of the sparse truth."""
    return float(np.mean(np.abs(_rating_errors(predictions, truth))))


# ---------------------------------------------------------------------------
# aggregation
# ---------------------------------------------------------------------------


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval over runs (e.g. seeds), ignoring nan.

    The half-width is 0.0 for a single value; (nan, nan) when no value is left.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}")
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    mean = float(v.mean())
    if v.size == 1:
        return mean, 0.0
    t = scipy.stats.t.ppf((1.0 + confidence) / 2.0, df=v.size - 1)
    return mean, float(t * v.std(ddof=1) / np.sqrt(v.size))


CANDIDATES = ("unrated", "test_items")


def per_user_metrics(
    scores: np.ndarray,
    train: SparseLike,
    test: SparseLike,
    ks: Sequence[int] = (10,),
    relevant_threshold: float | None = None,
    explainable: SparseLike | None = None,
    candidates: str = "unrated",
    normalized_recall: bool = False,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-user top-N metrics for every k, one row per user with at least one test entry (index = user row).

    Ranking: `candidates="unrated"` ranks every item the user has not rated in `train` (the usual protocol);
    `"test_items"` ranks only the user's test items (lists then hold min(k, n_test) items). Relevant items are the
    test entries (those >= relevant_threshold when given). Columns "precision@k", "recall@k" (normalised by
    min(k, n_rel) with `normalized_recall`, Liang et al.), "ndcg@k", "map@k", "f1@k" (nan for users without a
    relevant item) and, with `explainable`, "mep@k"; `only` (e.g. ["map"]) computes just those metrics (the
    lists are the same). The one ranking evaluation of the book: every chapter's top-N numbers come from here or
    from :func:`evaluate_topn`, its mean.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise DataError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    check_choice("candidates", candidates, CANDIDATES)
    families = {"precision": precision_at_k, "recall": partial(recall_at_k, normalized=normalized_recall),
                "ndcg": ndcg_at_k, "map": map_at_k, "f1": f1_at_k}
    for name in only or ():
        check_choice("metric", name, tuple(families) + ("mep",))
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise DataError(f"ks must be a non-empty list of integers >= 1, got {ks} (scores shape {scores.shape})")
    train_csr = _as_csr(train, "train")
    test_csr = _as_csr(test, "test")
    _check_shape(train_csr.shape, scores.shape, "train", "scores")
    _check_shape(test_csr.shape, scores.shape, "test", "scores")
    if explainable is not None:
        _check_shape(explainable.shape, scores.shape, "explainable", "scores")
    users = np.flatnonzero(np.diff(test_csr.indptr) > 0)
    S, tr, te = scores[users], train_csr[users], test_csr[users]
    if candidates == "unrated":
        ranked = top_k(S, max(ks), exclude=tr)
    else:
        ranked = top_k(S, max(ks), candidates=te)
    relevant = te.copy()
    if relevant_threshold is not None:
        relevant.data = (relevant.data >= relevant_threshold).astype(np.float64)
        relevant.eliminate_zeros()
    expl = None if explainable is None else _explainable_mask(explainable)[users]
    out: dict[str, np.ndarray] = {}
    for k in ks:
        tk = ranked[:, :k]
        for name, metric in families.items():
            if only is None or name in only:
                out[f"{name}@{k}"] = metric(tk, relevant)
        if expl is not None and (only is None or "mep" in only):
            out[f"mep@{k}"] = _mep(tk, expl)
    frame = pd.DataFrame(out, index=pd.Index(users, name="user"))
    frame.attrs["ranked"] = ranked
    return frame


def mep_of_lists(per_user: pd.DataFrame, explainable: SparseLike, ks: Sequence[int]) -> dict[str, float]:
    """User-averaged MEP@k ("mep@k") of the lists a :func:`per_user_metrics` call ranked (its users and
    ``attrs["ranked"]``), against another explainability matrix: MEP under several explanation settings without
    ranking again."""
    ranked = per_user.attrs["ranked"]
    if max(ks) > ranked.shape[1]:
        raise DataError(f"the lists hold {ranked.shape[1]} items, fewer than k = {max(ks)}")
    mask = _explainable_mask(explainable)[per_user.index.to_numpy()]
    return {f"mep@{k}": _nanmean(_mep(ranked[:, :k], mask)) for k in ks}


def evaluate_topn(
    scores: np.ndarray,
    train: SparseLike,
    test: SparseLike,
    ks: Sequence[int] = (10,),
    relevant_threshold: float | None = None,
    explainable: SparseLike | None = None,
    item_popularity: np.ndarray | None = None,
    candidates: str = "unrated",
    normalized_recall: bool = False,
) -> dict[str, float]:
    """User-averaged :func:`per_user_metrics` keyed like "ndcg@10", plus the list metrics "coverage@k", "gini@k"
    and "novelty@k" of the evaluated users' lists (item popularity for novelty defaults to the number of training
    users per item)."""
    per_user = per_user_metrics(scores, train, test, ks, relevant_threshold, explainable, candidates,
                                normalized_recall)
    n_items = np.shape(scores)[1]
    train_csr = _as_csr(train, "train")
    if item_popularity is None:
        item_popularity = np.bincount(train_csr.indices, minlength=n_items)
    elif np.shape(item_popularity) != (n_items,):
        raise DataError(
            f"shape mismatch: item_popularity has shape {np.shape(item_popularity)} "
            f"but scores has shape {np.shape(scores)} ({n_items} items)"
        )
    results = {column: _nanmean(per_user[column].to_numpy()) for column in per_user.columns}
    ranked = per_user.attrs["ranked"]
    for k in sorted({int(c.split("@")[1]) for c in per_user.columns}):
        tk = ranked[:, :k]
        results[f"coverage@{k}"] = coverage(tk, n_items)
        results[f"gini@{k}"] = gini(tk, n_items)
        results[f"novelty@{k}"] = novelty(tk, item_popularity, train_csr.shape[0])
    return results


# ---------------------------------------------------------------------------
# validation for early stopping
# ---------------------------------------------------------------------------

VALIDATION_METRICS = ("rmse", "ndcg@100", "ndcg@10", "recall@20")


class Validation:
    """What a trained model may use to stop early: the `target` interactions to predict and, for users outside
    the training matrix (strong generalization), their `fold_in` input rows (None: the rows of the training matrix).

    `metric` is "rmse" (rating predictors: :meth:`evaluate` takes the predicted ratings at :meth:`pairs`, clipped
    to [1, `max_rating`]) or a ranking metric such as "ndcg@100" (:meth:`evaluate` takes dense scores for the
    target's rows; the input items, `exclude`, are never ranked). Models receive this object and call it, so the
    evaluation stays here, in the one metrics module."""

    def __init__(self, target: SparseLike, fold_in: SparseLike | None = None, metric: str = "ndcg@100",
                 exclude: SparseLike | None = None, max_rating: float = 5.0) -> None:
        self.metric = check_choice("metric", metric, VALIDATION_METRICS)
        self.target = as_csr(target, "valid.target", nonneg=True)
        self.fold_in = None if fold_in is None else as_csr(fold_in, "valid.fold_in", shape=self.target.shape,
                                                           nonneg=True)
        given = self.fold_in if exclude is None else exclude
        self.exclude = None if given is None else as_csr(given, "valid.exclude", shape=self.target.shape)
        self.max_rating = float(max_rating)
        if self.target.nnz == 0:
            raise DataError("valid.target has no interactions to predict")

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "rmse"

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, items) of the target entries in CSR order (what :meth:`evaluate` expects for "rmse")."""
        t = self.target
        return np.repeat(np.arange(t.shape[0]), np.diff(t.indptr)), t.indices

    def evaluate(self, predictions: np.ndarray) -> float:
        """RMSE of predicted ratings at :meth:`pairs` (clipped to [1, max_rating]), or the ranking metric of dense
        scores (n_rows, n_items) with `exclude` (default: the fold-in rows) never ranked."""
        predictions = np.asarray(predictions, dtype=np.float64)
        if self.metric == "rmse":
            if predictions.shape != (self.target.nnz,):
                raise DataError(f"rmse validation needs {self.target.nnz} predictions (one per target entry), "
                                f"got shape {predictions.shape}")
            clipped = np.clip(predictions, 1.0, self.max_rating)
            return float(np.sqrt(np.mean((clipped - self.target.data) ** 2)))
        _check_shape(predictions.shape, self.target.shape, "validation scores", "valid.target")
        name, k = self.metric.split("@")
        ranked = top_k(predictions, min(int(k), predictions.shape[1]), exclude=self.exclude)
        per_user = {"ndcg": ndcg_at_k, "recall": recall_at_k}[name](ranked, self.target)
        return _nanmean(per_user)
