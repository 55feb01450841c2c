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

import numpy as np
import scipy.sparse as sp
import scipy.stats

__all__ = [
    "top_k",
    "hits",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "f1_at_k",
    "mep_at_k",
    "coverage",
    "gini",
    "novelty",
    "rmse",
    "mae",
    "mean_ci",
    "evaluate_topn",
]

SparseLike = sp.csr_array | sp.csr_matrix


# ---------------------------------------------------------------------------
# input checking helpers
# ---------------------------------------------------------------------------


def _as_csr(matrix: SparseLike | np.ndarray, name: str) -> sp.csr_array:
    """Return a canonical copy of `matrix` as csr_array with explicit zeros and duplicates removed."""
    if sp.issparse(matrix):
        out = sp.csr_array(matrix, copy=True)
    else:
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got shape {dense.shape}")
        out = sp.csr_array(dense)
    out.sum_duplicates()  # also sorts the column indices of each row
    out.eliminate_zeros()
    return out


def _check_shape(shape: tuple[int, ...], expected: tuple[int, ...], name: str, ref: str) -> None:
    """Raise ValueError naming both shapes when `shape` differs from `expected`."""
    if tuple(shape) != tuple(expected):
        raise ValueError(f"shape mismatch: {name} has shape {tuple(shape)} but {ref} has shape {tuple(expected)}")


def _check_topk(topk: np.ndarray, n_users: int | None, n_items: int, ref: str) -> np.ndarray:
    """Validate a top-k matrix against the number of users (None = any) and items; return it as an int array."""
    topk = np.asarray(topk)
    if topk.ndim != 2:
        raise ValueError(f"topk must be 2-D (n_users, k), got shape {topk.shape}")
    if topk.shape[1] < 1:
        raise ValueError(f"k must be >= 1, got topk with shape {topk.shape}")
    if topk.size and not np.issubdtype(topk.dtype, np.integer):
        raise ValueError(f"topk must hold integer item indices, got dtype {topk.dtype}")
    if n_users is not None and topk.shape[0] != n_users:
        raise ValueError(
            f"shape mismatch: topk has shape {topk.shape} ({topk.shape[0]} users) "
            f"but {ref} has {n_users} users"
        )
    if topk.size and (topk.min() < 0 or topk.max() >= n_items):
        raise ValueError(
            f"topk (shape {topk.shape}) holds item indices in [{topk.min()}, {topk.max()}], "
            f"outside the {n_items} items of {ref}"
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


def top_k(scores: np.ndarray, k: int, exclude: SparseLike | None = None) -> np.ndarray:
    """Return each user's k best items by descending score, never recommending items stored in `exclude`.

    Ties are broken deterministically by the lower item index. NaN scores rank
    below every finite score (but above excluded items). Raises ValueError if a
    user has fewer than k items left after exclusion.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    n_users, n_items = scores.shape
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r} (scores shape {scores.shape})")
    if k > n_items:
        raise ValueError(f"k={k} exceeds the number of items: scores shape {scores.shape}")
    dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
    lowest = np.finfo(dtype).min
    # Working copy: NaN/-inf become the lowest finite value so that -inf marks excluded items only.
    s = np.nan_to_num(scores.astype(dtype, copy=True), nan=lowest, neginf=lowest)

    if exclude is not None:
        excl = _as_csr(exclude, "exclude")
        _check_shape(excl.shape, scores.shape, "exclude", "scores")
        n_allowed = n_items - _n_relevant(excl)
        short = np.flatnonzero(n_allowed < k)
        if short.size:
            raise ValueError(
                f"{short.size} user(s) have fewer than k={k} items left after exclusion "
                f"(e.g. user {short[0]} has {n_allowed[short[0]]}; scores shape {scores.shape})"
            )
        rows = np.repeat(np.arange(n_users), np.diff(excl.indptr))
        s[rows, excl.indices] = -np.inf

    # k-th largest score of each user: everything above it is in, ties at it fill up by lowest index.
    kth = np.partition(s, n_items - k, axis=1)[:, n_items - k][:, None]
    above = s > kth
    tied = s == kth
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1, dtype=np.int64) <= need))
    cols = np.nonzero(chosen)[1].reshape(n_users, k)  # ascending item index within each row

    # Sort the k chosen items by descending score; the stable sort keeps lower indices first on ties.
    order = np.argsort(-np.take_along_axis(s, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def hits(topk: np.ndarray, relevant: SparseLike) -> np.ndarray:
    """Return a boolean (n_users, k) array telling whether each recommended item is relevant to its user."""
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
    return found


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
    """Per-user Mean Explainability Precision: share of the top-k items with a positive explainability entry.

    Abdollahi & Nasraoui (2017), used to evaluate E-AutoRec. Defined for every
    user (no nan): a user with no explainable items simply scores 0.
    """
    expl = _as_csr(explainable, "explainable")
    expl.data = (expl.data > 0).astype(np.int8)
    expl.eliminate_zeros()
    return hits(topk, expl).mean(axis=1)


# ---------------------------------------------------------------------------
# catalogue / list metrics
# ---------------------------------------------------------------------------


def _item_counts(topk: np.ndarray, n_items: int) -> np.ndarray:
    """How often each of the n_items items appears in the top-k lists."""
    if not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be an integer >= 1, got {n_items!r}")
    topk = _check_topk(topk, None, n_items, f"the catalogue (n_items={n_items})")
    return np.bincount(topk.ravel(), minlength=n_items)


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
        raise ValueError(f"item_popularity must be 1-D, got shape {pop.shape}")
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users!r}")
    topk = _check_topk(topk, None, pop.size, f"item_popularity (shape {pop.shape})")
    pop = np.maximum(pop, 1.0)
    return float(np.mean(-np.log2(pop[topk] / n_users)))


# ---------------------------------------------------------------------------
# rating prediction metrics
# ---------------------------------------------------------------------------


def _rating_errors(predictions: np.ndarray, truth: SparseLike) -> np.ndarray:
    """Prediction errors at truth's observed (stored, nonzero) entries."""
    predictions = np.asarray(predictions, dtype=float)
    t = _as_csr(truth, "truth")
    _check_shape(predictions.shape, t.shape, "predictions", "truth")
    if t.nnz == 0:
        raise ValueError(f"truth (shape {t.shape}) has no observed entries to compare against")
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
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    mean = float(v.mean())
    if v.size == 1:
        return mean, 0.0
    t = scipy.stats.t.ppf((1.0 + confidence) / 2.0, df=v.size - 1)
    return mean, float(t * v.std(ddof=1) / np.sqrt(v.size))


def evaluate_topn(
    scores: np.ndarray,
    train: SparseLike,
    test: SparseLike,
    ks: Sequence[int] = (10,),
    relevant_threshold: float | None = None,
    explainable: SparseLike | None = None,
    item_popularity: np.ndarray | None = None,
) -> dict[str, float]:
    """Rank with train items excluded and return the user-averaged top-N metrics for every k, keyed like "ndcg@10".

    Relevant items are test entries (only those with value >= relevant_threshold
    when it is given). Item popularity for novelty defaults to the number of
    training users per item; "mep@k" is added when `explainable` is given.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be a non-empty list of integers >= 1, got {ks} (scores shape {scores.shape})")
    n_users, n_items = scores.shape
    train_csr = _as_csr(train, "train")
    test_csr = _as_csr(test, "test")
    _check_shape(train_csr.shape, scores.shape, "train", "scores")
    _check_shape(test_csr.shape, scores.shape, "test", "scores")

    relevant = test_csr
    if relevant_threshold is not None:
        relevant.data = (relevant.data >= relevant_threshold).astype(np.int8)
        relevant.eliminate_zeros()
    if explainable is not None:
        _check_shape(explainable.shape, scores.shape, "explainable", "scores")
    if item_popularity is None:
        item_popularity = np.bincount(train_csr.indices, minlength=n_items)
    elif np.shape(item_popularity) != (n_items,):
        raise ValueError(
            f"shape mismatch: item_popularity has shape {np.shape(item_popularity)} "
            f"but scores has shape {scores.shape} ({n_items} items)"
        )

    ranked = top_k(scores, max(ks), exclude=train_csr)
    results: dict[str, float] = {}
    for k in ks:
        tk = ranked[:, :k]
        results[f"precision@{k}"] = _nanmean(precision_at_k(tk, relevant))
        results[f"recall@{k}"] = _nanmean(recall_at_k(tk, relevant))
        results[f"ndcg@{k}"] = _nanmean(ndcg_at_k(tk, relevant))
        results[f"map@{k}"] = _nanmean(map_at_k(tk, relevant))
        results[f"f1@{k}"] = _nanmean(f1_at_k(tk, relevant))
        results[f"coverage@{k}"] = coverage(tk, n_items)
        results[f"gini@{k}"] = gini(tk, n_items)
        results[f"novelty@{k}"] = novelty(tk, item_popularity, n_users)
        if explainable is not None:
            results[f"mep@{k}"] = float(np.mean(mep_at_k(tk, explainable)))
    return results
