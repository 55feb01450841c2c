"""Evaluation protocols shared by the chapters: splits with a validation part carved from training, the side
information each model needs (from training data only), Liang et al.'s strong-generalization metrics and the
conditioned evaluation of C-VAE."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import datasets, explain, features, metrics, splits
from ..checks import check_choice, read_only
from ..errors import ConfigError
from ..models.vae import expand_conditions

__all__ = ["load_data", "data_source", "fold_in_scorer", "item_features", "Holdout", "holdout", "side_information", "strong_metrics",
           "conditioned_eval"]

SPLITS = ("holdout", "random")


def load_data(dataset: str = "ml-100k", data_dir: str = "") -> datasets.Dataset:
    """The data set, loaded once per process (worker processes keep it between jobs): `dataset` by name, from
    `data_dir` ("" = ML-100K offline, or `data/` for the larger ones; see :func:`replication.datasets.load`). Each
    call gets its own view (:meth:`replication.datasets.Dataset.view`): a change to it never reaches the cache."""
    return _loaded(dataset, data_dir).view()


@lru_cache(maxsize=2)
def _loaded(dataset: str, data_dir: str) -> datasets.Dataset:
    return datasets.load(dataset, data_dir or None)


def data_source(dataset: str = "ml-100k", data_dir: str = "") -> dict[str, str]:
    """A chapter's data choice checked and made explicit for its jobs: {"dataset": name, "data_dir": absolute
    folder or "" (ML-100K offline)}; the data is loaded and verified here, so a missing download fails at once."""
    check_choice("dataset", dataset, datasets.DATASETS)
    if dataset != datasets.OFFLINE and not data_dir:
        data_dir = str(datasets.default_data_dir())
    source = {"dataset": dataset, "data_dir": str(Path(data_dir).expanduser().absolute()) if data_dir else ""}
    load_data(**source)
    return source


def item_features(min_items: int = 2, relations: str | tuple[str, ...] = "all") -> features.ItemFeatures:
    """The knowledge-graph item x feature matrix, built once per process and setting; the matrix is read-only and
    each call gets its own copy-on-write view of the table."""
    built = _item_features(min_items, relations)
    return features.ItemFeatures(built.matrix, built.features.copy(deep=False))


@lru_cache(maxsize=8)
def _item_features(min_items: int, relations: str | tuple[str, ...]) -> features.ItemFeatures:
    built = features.build_item_features(load_data(), min_items=min_items, relations=relations)
    return features.ItemFeatures(read_only(built.matrix), built.features)


@dataclass
class Holdout:
    """A rating split with a validation part carved from its training part: `fit_train` (what a model trains on
    when it tunes or stops early), `valid` (ratings to predict for validation), `train` (= fit_train + valid, what
    the final model is trained on when nothing needs validation) and `test`."""

    train: sp.csr_array
    fit_train: sp.csr_array
    valid: sp.csr_array
    test: sp.csr_array
    seed: int


def holdout(seed: int, kind: str = "holdout", test_fraction: float = 0.2,
            valid_fraction: float | None = None, dataset: str = "ml-100k", data_dir: str = "") -> Holdout:
    """Split the ratings of `dataset` with `seed`: "holdout" = per-user (each user's `test_fraction` to test),
    "random" = the ratings at random; the validation part is the same kind of split of the training part
    (seed + 1000), with `valid_fraction` of it (default: the same share of all ratings as the test, f / (1 - f))."""
    check_choice("split kind", kind, SPLITS)
    data = load_data(dataset, data_dir)
    shape = (data.n_users, data.n_items)
    split_fn = splits.holdout_split if kind == "holdout" else splits.random_split
    outer = split_fn(data.ratings, test_fraction, seed=seed, shape=shape)
    inner_fraction = valid_fraction if valid_fraction is not None else test_fraction / (1.0 - test_fraction)
    inner = split_fn(outer.train_frame, inner_fraction, seed=seed + 1000, shape=shape)
    return Holdout(outer.train, inner.train, inner.test, outer.test, seed)


def side_information(kind: str | None, train: sp.csr_array, *, n_neighbors: int = 50, theta: float = 0.0,
                     min_items: int = 2, relations: str | tuple[str, ...] = "all", dataset: str = "ml-100k",
                     data_dir: str = "") -> Any:
    """The side input of a model, from the training ratings only: None, the explainability matrix E as E-AutoRec's
    input ("explainability", :func:`replication.explain.explainability_input`), the item x feature mask
    ("item_features") or the item x genre matrix ("genres")."""
    if kind is None:
        return None
    if kind == "explainability":
        return explain.explainability_input(train, n_neighbors, theta)
    if kind == "item_features":
        if dataset != datasets.OFFLINE or data_dir:
            raise ConfigError(f"item features come from ML-100K's knowledge graph; {dataset} has none")
        return item_features(min_items, relations if isinstance(relations, str) else tuple(relations)).matrix
    if kind == "genres":
        return load_data(dataset, data_dir).genre_matrix()
    raise ConfigError(f"unknown side information {kind!r}; allowed: None, 'explainability', 'item_features', "
                      "'genres'")


STRONG_KS = (20, 50, 100)


STRONG_METRICS = ("ndcg@100", "recall@20", "recall@50")


def strong_metrics(scores: np.ndarray, fold_in, held_out) -> dict[str, float]:
    """Liang et al.'s strong-generalization metrics: mean nDCG@100, Recall@20 and Recall@50 (recall normalised by
    min(k, #held-out items)), fold-in items never ranked."""
    out = metrics.evaluate_topn(scores, fold_in, held_out, ks=STRONG_KS, normalized_recall=True)
    return {m: out[m] for m in STRONG_METRICS}


def strong_per_user(scores: metrics.Scores, fold_in, held_out) -> pd.DataFrame:
    """The same metrics per user (rows: the users with a held-out item, index = their row), for paired per-user
    comparisons and for joining the folds of a K-fold split; their means are :func:`strong_metrics`."""
    out = metrics.per_user_metrics(scores, fold_in, held_out, ks=STRONG_KS, normalized_recall=True)[
        list(STRONG_METRICS)]
    out.attrs = {}  # the ranked lists per_user_metrics attaches: not needed, and they block pd.concat
    return out


def conditioned_validation(fold_in, held_out, item_conditions,
                           metric: str = "ndcg@100") -> tuple[metrics.Validation, np.ndarray]:
    """C-VAE's validation as rectorch builds it: every validation user once unconditioned (target: all held-out
    items) and once under each condition found in their fold-in items (target: the held-out items with that
    condition); rows whose target is empty are dropped. Returns the Validation and each row's condition (-1 =
    none), for ``MultVAE.fit(..., valid_conditions=...)``."""

    fold_in, held_out = sp.csr_array(fold_in, dtype=np.float32), sp.csr_array(held_out, dtype=np.float32)
    cond = sp.csr_array(np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions)
                        > 0, dtype=np.float32)
    users, conds = expand_conditions(fold_in, cond)
    allowed = sp.vstack([cond.T, sp.csr_array(np.ones((1, cond.shape[0]), dtype=np.float32))]).tocsr()
    target = sp.csr_array(held_out[users].multiply(allowed[conds]))  # condition -1 picks the all-ones row
    target.eliminate_zeros()
    keep = np.diff(target.indptr) > 0
    return metrics.Validation(target[keep], fold_in=fold_in[users[keep]], metric=metric), conds[keep]


def fold_in_scorer(model, rows, condition: int | None = None) -> metrics.Scores:
    """The scores of a fold-in model (Mult-DAE/VAE, C-VAE under `condition`, EASE, ...) for the fold-in `rows`:
    one dense matrix when it is small enough, else a scorer of row indices (see metrics.scores_or_scorer)."""
    rows = sp.csr_array(rows)
    return metrics.scores_or_scorer(
        lambda r: model.score(rows if r is None else rows[r], **({} if condition is None else
                                                                  {"condition": condition})), rows.shape)


def conditioned_eval(scores_by_condition: Callable[[int], metrics.Scores], fold_in, held_out, item_conditions,
                     k: int = 10, post_filter: bool = False) -> pd.DataFrame:
    """Conditioned top-k evaluation, one row per condition c: `share` = mean share of the top-k that has c,
    `ndcg` = mean nDCG@k on the held-out items that have c (users with none skipped), `users` = how many users
    have such items. `scores_by_condition(c)` gives the scores under condition c (a matrix or a scorer, ranked
    a block of users at a time); with `post_filter` items without c are pushed below every other item (Mult-VAE
    + genre filter)."""
    cond = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions) > 0
    fold_in, held_out = sp.csr_array(fold_in), sp.csr_array(held_out)
    rows = []
    users = np.arange(fold_in.shape[0])
    for c in range(cond.shape[1]):
        top = np.empty((users.size, k), dtype=np.int64)
        for where, block in metrics.score_blocks(scores_by_condition(c), users, fold_in.shape[1]):
            s = np.array(block, dtype=np.float64, copy=True)
            if post_filter:
                s[:, ~cond[:, c]] -= 1e12
            top[where] = metrics.top_k(s, k, exclude=fold_in[users[where]])
        relevant = held_out @ sp.diags_array(cond[:, c].astype(np.float32))
        ndcg = metrics.ndcg_at_k(top, relevant)
        rows.append({"condition": c, "share": float(cond[top[top >= 0], c].mean()),
                     "ndcg": float(np.nanmean(ndcg)) if np.isfinite(ndcg).any() else np.nan,
                     "users": int(np.isfinite(ndcg).sum())})
    return pd.DataFrame(rows)
