"""Splits: no overlap, the promised proportions, determinism per seed, and disjoint users for strong generalization."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replication import splits
from replication.errors import ConfigError


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def test_random_split_partitions_ratings(ml100k):
    split = splits.random_split(ml100k.ratings, 0.1, seed=3, shape=(943, 1682))
    assert len(split.test_frame) == 10_000 and len(split.train_frame) == 90_000
    assert not pairs(split.train_frame) & pairs(split.test_frame)
    assert pairs(split.train_frame) | pairs(split.test_frame) == pairs(ml100k.ratings)
    assert split.train.shape == split.test.shape == (943, 1682)
    assert split.train.nnz + split.test.nnz == 100_000


def test_random_split_is_deterministic_per_seed(ml100k):
    a = splits.random_split(ml100k.ratings, 0.1, seed=1)
    b = splits.random_split(ml100k.ratings, 0.1, seed=1)
    c = splits.random_split(ml100k.ratings, 0.1, seed=2)
    assert a.test_frame.equals(b.test_frame)
    assert not a.test_frame.equals(c.test_frame)


def test_holdout_takes_the_fraction_of_every_user(ml100k):
    split = splits.holdout_split(ml100k.ratings, 0.2, seed=0)
    n_all = ml100k.ratings.groupby("user").size()
    n_test = split.test_frame.groupby("user").size().reindex(n_all.index, fill_value=0)
    assert (n_test == np.round(0.2 * n_all).astype(int)).all()
    assert not pairs(split.train_frame) & pairs(split.test_frame)
    assert split.train_frame["user"].nunique() == 943


def test_holdout_keeps_one_training_rating():
    ratings = pd.DataFrame({"user": [0, 1, 1], "item": [0, 0, 1], "rating": [5.0, 4.0, 3.0]})
    split = splits.holdout_split(ratings, 0.9, seed=0)
    assert split.train_frame.groupby("user").size().tolist() == [1, 1]
    assert len(split.test_frame) == 1


def test_strong_generalization_users_are_disjoint(ml100k):
    s = splits.strong_generalization(ml100k.ratings, n_heldout_users=100, seed=0, n_items=1682)
    sets = [set(s.train_users), set(s.valid_users), set(s.test_users)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(s.valid_users) == len(s.test_users) == 100
    assert s.train.shape == (len(s.train_users), 1682) and s.test_in.shape == (100, 1682)
    assert set(np.unique(s.train.data)) == {1.0}
    # fold-in and held-out never overlap, and held-out is ~20% of each user's positives
    assert (s.test_in.multiply(s.test_out)).nnz == 0
    share = s.test_out.sum(1) / (s.test_in.sum(1) + s.test_out.sum(1))
    assert np.all(np.abs(share - 0.2) < 0.11)
    # only items seen by training users are held out
    seen = np.asarray(s.train.sum(0)).ravel() > 0
    assert seen[s.test_out.indices].all() and seen[s.valid_in.indices].all()


def test_strong_generalization_keeps_only_positive_active_users(ml100k):
    s = splits.strong_generalization(ml100k.ratings, n_heldout_users=50, seed=1, n_items=1682)
    positives = ml100k.ratings[ml100k.ratings["rating"] >= 4].groupby("user").size()
    eligible = set(positives[positives >= 5].index)
    assert set(s.train_users) | set(s.valid_users) | set(s.test_users) == eligible
    user = s.train_users[0]
    expected = set(ml100k.ratings.query("user == @user and rating >= 4")["item"])
    assert set(s.train[[0]].indices) == expected


def test_strong_generalization_is_deterministic(ml100k):
    a = splits.strong_generalization(ml100k.ratings, seed=5, n_items=1682)
    b = splits.strong_generalization(ml100k.ratings, seed=5, n_items=1682)
    assert np.array_equal(a.test_users, b.test_users)
    assert (a.test_out != b.test_out).nnz == 0


def test_user_folds_test_every_eligible_user_exactly_once(ml100k):
    folds = splits.strong_generalization_folds(ml100k.ratings, n_folds=5, n_valid_users=100, seed=2, n_items=1682)
    positives = ml100k.ratings[ml100k.ratings["rating"] >= 4].groupby("user").size()
    eligible = np.sort(positives[positives >= 5].index.to_numpy())
    tested = np.concatenate([f.test_users for f in folds])
    assert np.array_equal(np.sort(tested), eligible)  # each eligible user once, nobody else
    assert max(len(f.test_users) for f in folds) - min(len(f.test_users) for f in folds) <= 1
    for f in folds:
        sets = [set(f.train_users), set(f.valid_users), set(f.test_users)]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert set.union(*sets) == set(eligible) and len(f.valid_users) == 100
        assert (f.test_in.multiply(f.test_out)).nnz == 0
        seen = np.asarray(f.train.sum(0)).ravel() > 0
        assert seen[f.test_out.indices].all() and seen[f.test_in.indices].all()
        user = f.test_users[3]  # row 3 of the test matrices is that user: fold-in + held-out = their positives
        expected = set(ml100k.ratings.query("user == @user and rating >= 4")["item"]) & set(np.flatnonzero(seen))
        assert set(f.test_in[[3]].indices) | set(f.test_out[[3]].indices) == expected
    again = splits.strong_generalization_folds(ml100k.ratings, n_folds=5, n_valid_users=100, seed=2, n_items=1682)
    assert all(np.array_equal(a.valid_users, b.valid_users) and (a.test_out != b.test_out).nnz == 0
               for a, b in zip(folds, again))
    other = splits.strong_generalization_folds(ml100k.ratings, n_folds=5, n_valid_users=100, seed=3, n_items=1682)
    assert not np.array_equal(other[0].test_users, folds[0].test_users)


@pytest.mark.parametrize("call,needle", [
    (lambda r: splits.strong_generalization_folds(r, n_folds=1), "n_folds must be an integer >= 2, got 1"),
    (lambda r: splits.strong_generalization_folds(r, n_folds=2, n_valid_users=480), "leaves no training users"),
    (lambda r: splits.random_split(r, 1.5), "test_fraction must lie strictly between 0 and 1, got 1.5"),
    (lambda r: splits.holdout_split(r.drop(columns="rating")), "lacks columns ['rating']"),
    (lambda r: splits.strong_generalization(r, n_heldout_users=500), "leaves no training users"),
])
def test_bad_parameters_raise(ml100k, call, needle):
    with pytest.raises(ConfigError) as info:
        call(ml100k.ratings)
    assert needle in str(info.value)
