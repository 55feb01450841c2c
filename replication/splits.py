"""Seeded, deterministic train/test splits as CSR matrices: random rating split, per-user holdout, and
Liang et al. (2018) strong generalization (held-out users with an 80/20 fold-in / held-out partition)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import ConfigError

COLUMNS = ("user", "item", "rating")


def check_ratings(ratings: pd.DataFrame) -> None:
    """Fail clearly when a ratings frame lacks the columns every split needs."""
    missing = [c for c in COLUMNS if c not in ratings.columns]
    if missing:
        raise ConfigError(f"ratings frame lacks columns {missing}; it needs {list(COLUMNS)}, has {list(ratings.columns)}")


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{name} must lie strictly between 0 and 1, got {value}")


def to_csr(frame: pd.DataFrame, shape: tuple[int, int], value: str = "rating") -> sp.csr_array:
    """Users x items CSR of one column of a ratings frame (duplicates are an error upstream)."""
    values = frame[value].to_numpy(np.float32) if value in frame else np.ones(len(frame), np.float32)
    out = sp.csr_array((values, (frame["user"].to_numpy(), frame["item"].to_numpy())), shape=shape)
    out.sort_indices()
    return out


def positives(matrix: sp.csr_array | sp.csr_matrix, threshold: float = 4.0) -> sp.csr_array:
    """0/1 float32 copy of a rating matrix keeping the entries >= threshold (implicit feedback, Liang et al.)."""
    out = sp.csr_array(matrix, dtype=np.float32, copy=True)
    out.data = (out.data >= threshold).astype(np.float32)
    out.eliminate_zeros()
    return out


@dataclass
class RatingSplit:
    """Train/test ratings over the same users x items grid; matrices hold the rating values (0 = absent)."""

    train_frame: pd.DataFrame
    test_frame: pd.DataFrame
    shape: tuple[int, int]
    seed: int

    @property
    def train(self) -> sp.csr_array:
        return to_csr(self.train_frame, self.shape)

    @property
    def test(self) -> sp.csr_array:
        return to_csr(self.test_frame, self.shape)


def shape_of(ratings: pd.DataFrame, shape: tuple[int, int] | None) -> tuple[int, int]:
    if shape is not None:
        return shape
    return int(ratings["user"].max()) + 1, int(ratings["item"].max()) + 1


def random_split(ratings: pd.DataFrame, test_fraction: float = 0.1, seed: int = 0,
                 shape: tuple[int, int] | None = None) -> RatingSplit:
    """Ratings drawn uniformly at random into test (E-AutoRec's 90/10 protocol); exactly round(f * n) in test."""
    check_ratings(ratings)
    check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    n_test = int(round(test_fraction * len(ratings)))
    is_test = np.zeros(len(ratings), dtype=bool)
    is_test[rng.permutation(len(ratings))[:n_test]] = True
    return RatingSplit(ratings[~is_test].reset_index(drop=True), ratings[is_test].reset_index(drop=True),
                       shape_of(ratings, shape), seed)


def within_user_mask(users: np.ndarray, fraction: float, rng: np.random.Generator, min_keep: int = 1) -> np.ndarray:
    """Mark round(fraction * n_u) random rows of every user (but leave at least `min_keep` unmarked), vectorized."""
    order = np.lexsort((rng.random(len(users)), users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    n_marked = np.minimum(np.round(fraction * sizes).astype(np.int64), np.maximum(sizes - min_keep, 0))
    marked = np.zeros(len(users), dtype=bool)
    marked[order] = rank < np.repeat(n_marked, sizes)
    return marked


def holdout_split(ratings: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0,
                  shape: tuple[int, int] | None = None) -> RatingSplit:
    """Per-user holdout: round(f * n_u) of each user's ratings go to test, at least one stays in train."""
    check_ratings(ratings)
    check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    is_test = within_user_mask(ratings["user"].to_numpy(), test_fraction, rng)
    return RatingSplit(ratings[~is_test].reset_index(drop=True), ratings[is_test].reset_index(drop=True),
                       shape_of(ratings, shape), seed)


@dataclass
class StrongSplit:
    """Liang et al.'s strong generalization: training users, and disjoint validation / test users whose
    interactions are split into a fold-in part (model input) and a held-out part (to predict). All binary CSR."""

    train: sp.csr_array
    valid_in: sp.csr_array
    valid_out: sp.csr_array
    test_in: sp.csr_array
    test_out: sp.csr_array
    train_users: np.ndarray
    valid_users: np.ndarray
    test_users: np.ndarray
    seed: int
    dropped_unseen_items: int


def _eligible(ratings: pd.DataFrame, threshold: float, min_interactions: int,
              heldout_fraction: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Liang's preprocessing: the interactions (ratings >= threshold) and the sorted ids of the users with at least
    `min_interactions` of them."""
    check_ratings(ratings)
    check_fraction("heldout_fraction", heldout_fraction)
    positive = ratings[ratings["rating"] >= threshold]
    counts = positive.groupby("user").size()
    users = np.sort(counts[counts >= min_interactions].index.to_numpy())
    return positive[positive["user"].isin(users)], users


def _strong_split(positive: pd.DataFrame, valid_users: np.ndarray, test_users: np.ndarray, train_users: np.ndarray,
                  rng: np.random.Generator, n_items: int, heldout_fraction: float, seed: int) -> StrongSplit:
    """The matrices of one strong-generalization split, given its three disjoint sorted user sets."""
    train_frame = positive[positive["user"].isin(train_users)]
    seen = np.zeros(n_items, dtype=bool)
    seen[train_frame["item"].to_numpy()] = True

    def rows(frame: pd.DataFrame, members: np.ndarray) -> pd.DataFrame:
        """Re-index the users of `frame` to 0..len(members)-1 in the order of `members`."""
        return frame.assign(user=np.searchsorted(members, frame["user"].to_numpy()))

    def fold(members: np.ndarray) -> tuple[sp.csr_array, sp.csr_array, int]:
        frame = positive[positive["user"].isin(members)]
        kept = frame[seen[frame["item"].to_numpy()]]
        out = within_user_mask(kept["user"].to_numpy(), heldout_fraction, rng)
        shape = (len(members), n_items)
        kept = rows(kept, members)
        return (to_csr(kept[~out], shape, value="one"), to_csr(kept[out], shape, value="one"),
                len(frame) - len(kept))

    valid_in, valid_out, dropped_v = fold(valid_users)
    test_in, test_out, dropped_t = fold(test_users)
    train = to_csr(rows(train_frame, train_users), (len(train_users), n_items), value="one")
    return StrongSplit(train, valid_in, valid_out, test_in, test_out, train_users, valid_users, test_users, seed,
                       dropped_v + dropped_t)


def strong_generalization(ratings: pd.DataFrame, n_heldout_users: int = 100, seed: int = 0,
                          threshold: float = 4.0, min_interactions: int = 5, heldout_fraction: float = 0.2,
                          n_items: int | None = None) -> StrongSplit:
    """Binarize ratings >= threshold, keep users with >= min_interactions, draw disjoint validation and test users,
    and hold out `heldout_fraction` of each held-out user's items. Held-out-user interactions on items no training
    user has seen are dropped (as Liang et al. do) and counted in `dropped_unseen_items`."""
    positive, users = _eligible(ratings, threshold, min_interactions, heldout_fraction)
    n_items = n_items if n_items is not None else int(ratings["item"].max()) + 1
    if 2 * n_heldout_users >= len(users):
        raise ConfigError(f"n_heldout_users={n_heldout_users} leaves no training users: only {len(users)} users have "
                          f">= {min_interactions} ratings >= {threshold}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(users)
    return _strong_split(positive, np.sort(shuffled[:n_heldout_users]),
                         np.sort(shuffled[n_heldout_users:2 * n_heldout_users]),
                         np.sort(shuffled[2 * n_heldout_users:]), rng, n_items, heldout_fraction, seed)


def strong_generalization_folds(ratings: pd.DataFrame, n_folds: int = 5, n_valid_users: int = 100, seed: int = 0,
                                threshold: float = 4.0, min_interactions: int = 5, heldout_fraction: float = 0.2,
                                n_items: int | None = None) -> list[StrongSplit]:
    """Strong generalization with every eligible user tested exactly once: the users (preprocessed as in
    :func:`strong_generalization`) are shuffled by `seed` and cut into `n_folds` folds; split f tests fold f,
    validates on `n_valid_users` drawn from the other folds and trains on the rest. Each split's `test_users`
    holds the original user ids, so per-user results of the folds can be joined."""
    positive, users = _eligible(ratings, threshold, min_interactions, heldout_fraction)
    n_items = n_items if n_items is not None else int(ratings["item"].max()) + 1
    if not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ConfigError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    largest_fold = -(-len(users) // n_folds)
    if largest_fold + n_valid_users >= len(users):
        raise ConfigError(f"n_folds={n_folds} with n_valid_users={n_valid_users} leaves no training users: only "
                          f"{len(users)} users have >= {min_interactions} ratings >= {threshold}")
    folds = np.array_split(np.random.default_rng(seed).permutation(users), n_folds)
    out = []
    for f, test in enumerate(folds):
        rng = np.random.default_rng([seed, f])
        rest = np.concatenate([fold for g, fold in enumerate(folds) if g != f])
        picked = np.zeros(len(rest), dtype=bool)
        picked[rng.choice(len(rest), n_valid_users, replace=False)] = True
        out.append(_strong_split(positive, np.sort(rest[picked]), np.sort(test), np.sort(rest[~picked]), rng,
                                 n_items, heldout_fraction, seed))
    return out
