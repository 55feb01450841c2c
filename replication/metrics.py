"""Evaluation metrics for top-N recommendation, explainability and rating prediction.

Conventions
-----------
* A *score matrix* is a dense float array of shape ``(n_users, n_items)``; :func:`per_user_metrics`,
  :func:`evaluate_topn`, :func:`rmse` and :func:`mae` also take a *scorer*, a function of an integer array of
  user rows returning their dense score rows, and call it on blocks of users, so that no dense users x items
  matrix is ever held (ML-20M: 138k x 27k).
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

from collections.abc import Callable, Iterator, Sequence
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata
import scipy.stats

from . import settings
from .checks import as_csr, check_choice, check_int
from .errors import ConfigError, DataError

__all__ = [
    "long_tail",
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
    "bin_labels",
    "activity_bins",
    "mean_rank_correlation",
    "tied_shares",
    "evaluate_topn",
    "mep_of_lists",
]

SparseLike = sp.csr_array | sp.csr_matrix
Scores = np.ndarray | Callable[[np.ndarray], np.ndarray]  # a dense score matrix, or a scorer of user rows
BLOCK_ENTRIES = 1 << 22  # users x items entries a scorer is asked for at once (~32 MB of float64)
# an explainability matrix, or a function of user rows returning its (sparse) rows (E computed on demand)
Explainable = SparseLike | Callable[[np.ndarray], SparseLike]


def score_blocks(scores: Scores, users: np.ndarray, n_items: int) -> Iterator[tuple[slice, np.ndarray]]:
    """(positions in `users`, dense score rows of those users): one block of a score matrix, or blocks of about
    BLOCK_ENTRIES entries from a scorer, each checked for its shape."""
    users = np.asarray(users, dtype=np.int64)
    if not callable(scores):
        yield slice(0, users.size), np.asarray(scores)[users]
        return
    step = max(1, BLOCK_ENTRIES // max(n_items, 1))
    for start in range(0, users.size, step):
        rows = users[start:start + step]
        block = np.asarray(scores(rows))
        if block.shape != (rows.size, n_items):
            raise DataError(f"the scorer returned shape {block.shape} for {rows.size} user rows; expected "
                            f"({rows.size}, {n_items})")
        yield slice(start, start + rows.size), block


def scores_or_scorer(score: Callable[[np.ndarray | None], np.ndarray], shape: tuple[int, int]) -> Scores:
    """A model's scores to evaluate: the dense matrix `score(None)` when it has at most `settings.dense_entries()`
    entries
    (computed once, reused by every metric), else `score` itself, which the metrics call on blocks of user rows
    (ML-20M's 138k x 27k would need 15 GB)."""
    if shape[0] * shape[1] <= settings.dense_entries():
        return np.asarray(score(None))
    return score


def _scores_shape(scores: Scores, reference: tuple[int, int]) -> tuple[int, int]:
    """The shape of a score matrix (checked to be 2-D) or, for a scorer, that of the reference matrix."""
    if callable(scores):
        return tuple(reference)
    shape = np.shape(scores)
    if len(shape) != 2:
        raise DataError(f"scores must be 2-D (n_users, n_items), got shape {shape}")
    return shape


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


def _mep_by_blocks(ranked: np.ndarray, users: np.ndarray, explainable: Explainable, ks: Sequence[int],
                   n_items: int) -> dict[str, np.ndarray]:
    """MEP@k of the lists `ranked` of `users`: against a matrix's rows, or against the rows a function of user rows
    returns, asked for a block of users at a time (E is then never held whole)."""
    out: dict[str, list[np.ndarray]] = {f"mep@{k}": [] for k in ks}
    if callable(explainable):
        step = max(1, BLOCK_ENTRIES // max(n_items, 1))
        parts = [(slice(s, s + step), explainable(users[s:s + step])) for s in range(0, len(users), step)]
    else:
        parts = [(slice(0, len(users)), _as_csr(explainable, "explainable")[users])]
    for where, rows in parts:
        mask = _explainable_mask(rows)
        for k in ks:
            out[f"mep@{k}"].append(_mep(ranked[where, :k], mask))
    return {name: np.concatenate(values) if values else np.zeros(0) for name, values in out.items()}


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


def long_tail(train: SparseLike, head_share: float = 1 / 3) -> np.ndarray:
    """Boolean mask of the long-tail items: all but the short head, the most popular items (by training
    interactions) that together hold `head_share` of them (Abdollahpouri et al.'s split; ties broken by item
    index). Items never seen in training are in the tail."""
    if not 0.0 < head_share < 1.0:
        raise DataError(f"head_share must lie in (0, 1), got {head_share}")
    counts = np.bincount(_as_csr(train, "train").indices, minlength=_as_csr(train, "train").shape[1])
    order = np.argsort(-counts, kind="stable")
    cumulative = np.cumsum(counts[order])
    n_head = int(np.searchsorted(cumulative, head_share * cumulative[-1])) + 1  # the item crossing the share is head
    tail = np.ones(len(counts), dtype=bool)
    tail[order[:n_head]] = False
    return tail


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


def list_overlap(topk: np.ndarray, n_items: int) -> float:
    """Mean Jaccard overlap |A & B| / |A | B| between the lists of every two different users (0 = nobody shares an
    item, 1 = everyone gets the same list): how personal the recommendations are."""
    topk = _check_topk(topk, None, n_items, f"the catalogue (n_items={n_items})")
    n_users = topk.shape[0]
    if n_users < 2:
        return float("nan")
    rows = np.repeat(np.arange(n_users), topk.shape[1])
    listed = topk.ravel() >= 0
    L = sp.csr_array((np.ones(int(listed.sum())), (rows[listed], topk.ravel()[listed])), shape=(n_users, n_items))
    sizes = np.asarray(L.sum(axis=1)).ravel()
    inter = (L @ L.T).toarray()
    union = sizes[:, None] + sizes[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return float((jaccard.sum() - np.trace(jaccard)) / (n_users * (n_users - 1)))


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


def _rating_errors(predictions: Scores, truth: SparseLike) -> np.ndarray:
    """Prediction errors at truth's observed (stored, nonzero) entries (predictions: a matrix or a scorer)."""
    t = _as_csr(truth, "truth")
    if not callable(predictions):
        predictions = np.asarray(predictions, dtype=float)
        _check_shape(predictions.shape, t.shape, "predictions", "truth")
    if t.nnz == 0:
        raise DataError(f"truth (shape {t.shape}) has no observed entries to compare against")
    users = np.flatnonzero(np.diff(t.indptr))
    errors = []
    for where, block in score_blocks(predictions, users, t.shape[1]):
        part = t[users[where]]
        rows = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
        errors.append(np.asarray(block, dtype=float)[rows, part.indices] - part.data)
    return np.concatenate(errors)


def rmse(predictions: Scores, truth: SparseLike) -> float:
    """Root mean squared error of dense predictions over the observed entries of the sparse truth."""
    return float(np.sqrt(np.mean(_rating_errors(predictions, truth) ** 2)))


def mae(predictions: Scores, truth: SparseLike) -> float:
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
    scores: Scores,
    train: SparseLike,
    test: SparseLike,
    ks: Sequence[int] = (10,),
    relevant_threshold: float | None = None,
    explainable: Explainable | None = None,
    candidates: str = "unrated",
    normalized_recall: bool = False,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-user top-N metrics for every k, one row per user with at least one test entry (index = user row).

    Ranking: `candidates="unrated"` ranks every item the user has not rated in `train` (the usual protocol);
    `"test_items"` ranks only the user's test items (lists then hold min(k, n_test) items). Relevant items are the
    test entries (those >= relevant_threshold when given). Columns "precision@k", "recall@k" (normalised by
    min(k, n_rel) with `normalized_recall`, Liang et al.), "ndcg@k", "map@k", "f1@k" (nan for users without a
    relevant item) and, with `explainable` (a matrix, or a function of user rows returning its rows), "mep@k"; `only` (e.g. ["map"]) computes just those metrics (the
    lists are the same). `scores` may be a scorer of user rows (see the module docstring). The one ranking
    evaluation of the book: every chapter's top-N numbers come from here or
    from :func:`evaluate_topn`, its mean.
    """
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
    shape = _scores_shape(scores, train_csr.shape)
    _check_shape(train_csr.shape, shape, "train", "scores")
    _check_shape(test_csr.shape, shape, "test", "scores")
    if explainable is not None and not callable(explainable):
        _check_shape(explainable.shape, shape, "explainable", "scores")
    users = np.flatnonzero(np.diff(test_csr.indptr) > 0)
    tr, te = train_csr[users], test_csr[users]
    ranked = np.full((users.size, max(ks)), -1, dtype=np.int64)
    for where, block in score_blocks(scores, users, shape[1]):
        if candidates == "unrated":
            ranked[where] = top_k(block, max(ks), exclude=tr[where])
        else:
            ranked[where] = top_k(block, max(ks), candidates=te[where])
    relevant = te.copy()
    if relevant_threshold is not None:
        relevant.data = (relevant.data >= relevant_threshold).astype(np.float64)
        relevant.eliminate_zeros()
    meps = (_mep_by_blocks(ranked, users, explainable, ks, shape[1]) if explainable is not None and
            (only is None or "mep" in only) else {})
    out: dict[str, np.ndarray] = {}
    for k in ks:
        tk = ranked[:, :k]
        for name, metric in families.items():
            if only is None or name in only:
                out[f"{name}@{k}"] = metric(tk, relevant)
        if meps:
            out[f"mep@{k}"] = meps[f"mep@{k}"]
    frame = pd.DataFrame(out, index=pd.Index(users, name="user"))
    frame.attrs["ranked"] = ranked
    frame.attrs["n_items"] = shape[1]
    return frame


def mep_of_lists(per_user: pd.DataFrame, explainable: Explainable, ks: Sequence[int]) -> dict[str, float]:
    """User-averaged MEP@k ("mep@k") of the lists a :func:`per_user_metrics` call ranked (its users and
    ``attrs["ranked"]``), against another explainability matrix (or function of user rows): MEP under several
    explanation settings without ranking again."""
    ranked = per_user.attrs["ranked"]
    if max(ks) > ranked.shape[1]:
        raise DataError(f"the lists hold {ranked.shape[1]} items, fewer than k = {max(ks)}")
    meps = _mep_by_blocks(ranked, per_user.index.to_numpy(), explainable, ks, per_user.attrs["n_items"])
    return {name: _nanmean(values) for name, values in meps.items()}


def evaluate_topn(
    scores: Scores,
    train: SparseLike,
    test: SparseLike,
    ks: Sequence[int] = (10,),
    relevant_threshold: float | None = None,
    explainable: Explainable | None = None,
    item_popularity: np.ndarray | None = None,
    candidates: str = "unrated",
    normalized_recall: bool = False,
    overlap: bool = False,
) -> dict[str, float]:
    """User-averaged :func:`per_user_metrics` keyed like "ndcg@10", plus the list metrics "coverage@k", "gini@k"
    and "novelty@k" of the evaluated users' lists (item popularity for novelty defaults to the number of training
    users per item) and, with `overlap`, "overlap@k" (:func:`list_overlap`)."""
    per_user = per_user_metrics(scores, train, test, ks, relevant_threshold, explainable, candidates,
                                normalized_recall)
    train_csr = _as_csr(train, "train")
    n_items = _scores_shape(scores, train_csr.shape)[1]
    if item_popularity is None:
        item_popularity = np.bincount(train_csr.indices, minlength=n_items)
    elif np.shape(item_popularity) != (n_items,):
        raise DataError(
            f"shape mismatch: item_popularity has shape {np.shape(item_popularity)} "
            f"but scores has {n_items} items"
        )
    results = {column: _nanmean(per_user[column].to_numpy()) for column in per_user.columns}
    ranked = per_user.attrs["ranked"]
    for k in sorted({int(c.split("@")[1]) for c in per_user.columns}):
        tk = ranked[:, :k]
        results[f"coverage@{k}"] = coverage(tk, n_items)
        results[f"gini@{k}"] = gini(tk, n_items)
        results[f"novelty@{k}"] = novelty(tk, item_popularity, train_csr.shape[0])
        if overlap:
            results[f"overlap@{k}"] = list_overlap(tk, n_items)
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

    def evaluate(self, predictions: Scores) -> float:
        """RMSE of predicted ratings at :meth:`pairs` (clipped to [1, max_rating]), or the ranking metric of scores
        for the target's rows, `exclude` (default: the fold-in rows) never ranked; the scores are a dense
        (n_rows, n_items) matrix or a scorer of row indices (None = every row), see :func:`scores_or_scorer`."""
        if self.metric == "rmse":
            predictions = np.asarray(predictions, dtype=np.float64)
            if predictions.shape != (self.target.nnz,):
                raise DataError(f"rmse validation needs {self.target.nnz} predictions (one per target entry), "
                                f"got shape {predictions.shape}")
            clipped = np.clip(predictions, 1.0, self.max_rating)
            return float(np.sqrt(np.mean((clipped - self.target.data) ** 2)))
        if callable(predictions):
            predictions = scores_or_scorer(predictions, self.target.shape)
        else:
            _check_shape(np.shape(predictions), self.target.shape, "validation scores", "valid.target")
        name, k = self.metric.split("@")
        k = min(int(k), self.target.shape[1])
        rows = np.arange(self.target.shape[0])
        ranked = np.empty((rows.size, k), dtype=np.int64)
        for where, block in score_blocks(predictions, rows, self.target.shape[1]):
            exclude = None if self.exclude is None else self.exclude[rows[where]]
            ranked[where] = top_k(np.asarray(block, dtype=np.float64), k, exclude=exclude)
        per_user = {"ndcg": ndcg_at_k, "recall": recall_at_k}[name](ranked, self.target)
        return _nanmean(per_user)


# ---------------------------------------------------------------------------------------------------- users and lists


def bin_labels(edges: list[int]) -> list[str]:
    """Labels of the bins of training ratings for edges [20, 40, ..., 160]: "<= 20", "21-40", ..., "> 160"."""
    edges = sorted(int(e) for e in edges)
    return [f"<= {edges[0]}"] + [f"{a + 1}-{b}" for a, b in zip(edges, edges[1:])] + [f"> {edges[-1]}"]


def activity_bins(counts: np.ndarray, edges: list[int]) -> np.ndarray:
    """The bin label of each user's number of training ratings (see :func:`bin_labels`)."""
    position = np.searchsorted(sorted(int(e) for e in edges), counts, side="left")
    return np.array(bin_labels(edges), dtype=object)[position]


def mean_rank_correlation(scores: np.ndarray, values: np.ndarray) -> float:
    """Mean over users (rows) of the Spearman correlation between a row of `scores` and the per-item `values`."""
    ranks = rankdata(scores, axis=1)
    target = rankdata(values)
    ranks = ranks - ranks.mean(axis=1, keepdims=True)
    target = target - target.mean()
    denom = np.linalg.norm(ranks, axis=1) * np.linalg.norm(target)
    denom[denom == 0] = np.nan
    return float(np.nanmean(ranks @ target / denom))


def tied_shares(scores: Scores, known, ns: list[int]) -> dict[int, float]:
    """Per list length n: the share of users whose n-th and (n+1)-th best unrated items have the same score (a tie
    decides what enters the list); computed on blocks of users."""
    m = min(max(ns) + 1, known.shape[1])
    tops = []
    for where, block in score_blocks(scores, np.arange(known.shape[0]), known.shape[1]):
        s = np.where(known[np.arange(known.shape[0])[where]].toarray() > 0, -np.inf, block)
        tops.append(-np.sort(-np.partition(s, s.shape[1] - m, axis=1)[:, -m:], axis=1))
    top = np.concatenate(tops)
    return {n: float(np.mean(top[:, n - 1] == top[:, n])) for n in ns if n < m}
