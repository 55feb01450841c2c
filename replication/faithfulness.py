"""Is an explanation faithful? Deletion tests, counterfactual necessity and sufficiency, and a leave-one-out
explainer of a black box, for explanations whose elements are the user's rated items (item-kNN's and EASE's "items
you rated", the leave-one-out influence of a model that was never built to explain).

An explanation of a (user, item) ranks the user's rated items by their weight toward the item. Its faithfulness is
what happens to the item when the model reads a changed input row:

    X = users x items CSR the model reads; items[u] = the item recommended to user u (one pair per row)
    cited = ranked_entries(linear_contributions(X, model.weights_, items))     # the native explanation
    loo = ranked_entries(leave_one_out(model.score, X, items))                 # the post-hoc one
    control = matched_control(X, cited, seed=0)                                # as many random rated items
    deletion_effects(model.score, X, items, cited, ms=(1, 2, 5, 10), k=10)     # per user and m

Everything is vectorized over users: one CSR of changed rows per m, scored in one call (the model's `score` of
fold-in rows). Ranks are pessimistic about ties (a tie with another candidate counts against the item), so that a
deletion that leaves a block of equal scores is never read as keeping the item on top.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .checks import as_csr
from .errors import DataError

Scorer = Callable[[sp.csr_array], np.ndarray]  # input rows (users x items) -> dense scores (rows x items)


def _rows(X, name: str = "X") -> sp.csr_array:
    out = as_csr(X, name, dtype=np.float64)
    out.sort_indices()
    return out


def _check_items(items: np.ndarray, n_rows: int, n_items: int) -> np.ndarray:
    """One recommended item per input row, an index into the scores' columns."""
    items = np.asarray(items)
    if items.shape != (n_rows,) or not np.issubdtype(items.dtype, np.integer):
        raise DataError(f"items must hold one integer item per row of X ({n_rows}), got shape {items.shape}")
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise DataError(f"items must lie in [0, {n_items - 1}], got [{items.min()}, {items.max()}]")
    return items.astype(np.int64)


def ranks(scores: np.ndarray, items: np.ndarray, exclude) -> np.ndarray:
    """0-based rank of items[r] in row r among the items not stored in `exclude` (the user's rated items): the
    number of other candidates scoring higher or equal (pessimistic about ties)."""
    scores = np.asarray(scores, dtype=np.float64)
    excl = _rows(exclude, "exclude")
    if excl.shape != scores.shape:
        raise DataError(f"exclude has shape {excl.shape}, scores {scores.shape}")
    rows = np.arange(scores.shape[0])
    target = scores[rows, items][:, None]
    candidate = np.ones(scores.shape, dtype=bool)
    candidate[np.repeat(rows, np.diff(excl.indptr)), excl.indices] = False
    candidate[rows, items] = False  # the item itself
    return ((scores >= target) & candidate).sum(axis=1)


def _pattern_values(X: sp.csr_array, values: np.ndarray) -> sp.csr_array:
    return sp.csr_array((values, X.indices.copy(), X.indptr.copy()), shape=X.shape)


def linear_contributions(X, W, items: np.ndarray) -> sp.csr_array:
    """The native explanation of a model linear in what it reads (score = X @ W: item-kNN and EASE on the rated
    items, SEMAUTO's feature summation on the profile, W = the item x feature mask transposed): on X's pattern, each
    element j's share x_uj * W[j, items[u]] of the recommended item's score. W dense or sparse."""
    X = _rows(X)
    items = _check_items(items, X.shape[0], W.shape[1])
    owners = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    weights = (sp.csr_array(W) if sp.issparse(W) else np.asarray(W))[X.indices, items[owners]]
    return _pattern_values(X, X.data * np.asarray(weights, dtype=np.float64).ravel())


def _without_one(X: sp.csr_array, owners: np.ndarray, start: int, stop: int) -> sp.csr_array:
    """For the stored entries start..stop of X, one row each: its user's row without that entry."""
    copies = X[owners[start:stop]]
    removed = sp.csr_array((X.data[start:stop], (np.arange(stop - start), X.indices[start:stop])), shape=copies.shape)
    out = sp.csr_array(copies - removed)
    out.eliminate_zeros()
    return out


def leave_one_out(scorer: Scorer, X, items: np.ndarray, block: int = 4096) -> sp.csr_array:
    """The post-hoc explanation of any model that scores input rows: on X's pattern, how much the recommended item's
    score falls when the rated item alone is removed from the user's row (score(x_u)[i] - score(x_u - x_uj e_j)[i]).
    The rows without one entry are built and scored `block` at a time (memory: a block of rows, not one row per
    rating of the data set), never one user at a time."""
    X = _rows(X)
    scores = np.asarray(scorer(X))
    items = _check_items(items, X.shape[0], scores.shape[1])
    base = scores[np.arange(X.shape[0]), items]
    owners = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    after = np.empty(X.nnz)
    for start in range(0, X.nnz, block):
        stop = min(start + block, X.nnz)
        scored = np.asarray(scorer(_without_one(X, owners, start, stop)))
        after[start:stop] = scored[np.arange(stop - start), items[owners[start:stop]]]
    return _pattern_values(X, base[owners] - after)


def ranked_entries(weights) -> np.ndarray:
    """Each row's stored entries (item ids) by descending weight, ties by lower item id; rows x max entries, padded
    with -1: an explanation's elements in the order it cites them."""
    W = _rows(weights, "weights")
    counts = np.diff(W.indptr)
    owners = np.repeat(np.arange(W.shape[0]), counts)
    order = np.lexsort((W.indices, -W.data, owners))  # by row, then weight down, then item up
    out = np.full((W.shape[0], max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    position = np.arange(W.nnz) - np.repeat(W.indptr[:-1], counts)
    out[owners[order], position] = W.indices[order]
    return out


def random_entries(X, seed: int = 0) -> np.ndarray:
    """The control of an explanation: each row's stored entries in a seeded random order (padded with -1), so that
    its first m are m random rated items of the same user."""
    X = _rows(X)
    keys = np.random.default_rng(seed).random(X.nnz)
    return ranked_entries(_pattern_values(X, keys))


def matched_control(X, elements: np.ndarray, seed: int = 0) -> np.ndarray:
    """The control of an explanation that cites only some of a row's rated items (those with a non-zero weight):
    as many random rated items of the same row as the explanation cites, in a seeded random order."""
    control = random_entries(X, seed)
    cited = (np.asarray(elements) >= 0).sum(axis=1)
    control[np.arange(control.shape[1])[None, :] >= cited[:, None]] = -1
    return control


def _selected(X: sp.csr_array, elements: np.ndarray, m: int) -> sp.csr_array:
    """A 0/1 matrix of X's shape marking the first m elements of every row."""
    chosen = np.asarray(elements)[:, :m]
    rows, cols = np.nonzero(chosen >= 0)
    return sp.csr_array((np.ones(len(rows)), (rows, chosen[rows, cols])), shape=X.shape)


def delete(X, elements: np.ndarray, m: int) -> sp.csr_array:
    """X with each row's first m explanation elements removed (fewer when the row cites fewer); nothing else
    changes."""
    X = _rows(X)
    out = sp.csr_array(X - X.multiply(_selected(X, elements, m)))
    out.eliminate_zeros()
    return out


def keep_only(X, elements: np.ndarray, m: int) -> sp.csr_array:
    """X with only each row's first m explanation elements kept (the sufficiency test's input)."""
    X = _rows(X)
    out = sp.csr_array(X.multiply(_selected(X, elements, m)))
    out.eliminate_zeros()
    return out


def deletion_effects(scorer: Scorer, X, items: np.ndarray, elements: np.ndarray, ms: Sequence[int] = (1, 2, 5, 10),
                     k: int = 10, exclude=None) -> pd.DataFrame:
    """Per user and m: the recommended item's rank before and after its first m cited elements are deleted from
    the input (and with only them kept), its score drop, whether the deletion drops it out of the top k
    (necessity), and whether the first m elements alone keep it in the top k (sufficiency). Ranks are among the
    items not in `exclude` (default: the ORIGINAL row's items; a deleted item is still one the user has seen), so
    other cut-offs can be read from the rank columns. Rows that cite fewer than m elements delete what they cite."""
    X = _rows(X)
    exclude = X if exclude is None else _rows(exclude, "exclude")
    if min(ms) < 1:
        raise DataError(f"ms must be integers >= 1, got {list(ms)}")
    before_scores = np.asarray(scorer(X))
    items = _check_items(items, X.shape[0], before_scores.shape[1])
    users = np.arange(X.shape[0])
    before_rank = ranks(before_scores, items, exclude)
    before = before_scores[users, items]
    cited = (np.asarray(elements) >= 0).sum(axis=1)
    parts = []
    for m in ms:
        after_scores = np.asarray(scorer(delete(X, elements, m)))
        alone_scores = np.asarray(scorer(keep_only(X, elements, m)))
        after_rank = ranks(after_scores, items, exclude)
        alone_rank = ranks(alone_scores, items, exclude)
        parts.append(pd.DataFrame({
            "user": users, "m": m, "deleted": np.minimum(cited, m), "rank_before": before_rank,
            "rank_after": after_rank, "rank_alone": alone_rank, "rank_drop": after_rank - before_rank,
            "score_drop": before - after_scores[users, items],
            "necessary": (before_rank < k) & (after_rank >= k), "sufficient": alone_rank < k}))
    return pd.concat(parts, ignore_index=True)
