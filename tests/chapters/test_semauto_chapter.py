"""The SEMAUTO chapter's own logic: activity bins and alternative settings, the candidate sets, the validation-chosen
k, and the exclusions that keep the user's own ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import metrics
from replication.chapters import semauto as chapter
from replication.chapters.common import ChapterResult
from replication.errors import ConfigError


def test_activity_bins_and_alternatives():
    assert metrics.bin_labels([20, 40]) == ["<= 20", "21-40", "> 40"]
    np.testing.assert_array_equal(metrics.activity_bins(np.array([12, 20, 21, 40, 41]), [20, 40]),
                                  ["<= 20", "<= 20", "21-40", "21-40", "> 40"])
    assert chapter.parse_alternatives({"rating_scale": ["max"], "min_items": [5, 10]}) == {
        "rating_scale=max": {"rating_scale": "max"}, "min_items=5": {"min_items": 5},
        "min_items=10": {"min_items": 10}}
    for bad, match in (({"epochs": [3]}, "unknown; allowed"), ({"relations": ["actors"]}, "relations"),
                       ({"min_items": ["x"]}, "integer"), (["rating_scale=max"], "must be a dict")):
        with pytest.raises(ConfigError, match=match):
            chapter.parse_alternatives(bad)


def test_seen_candidates_exclude_films_nobody_rated_in_training():
    from replication.experiments.protocols import Holdout

    fit = sp.csr_array(np.array([[5, 0, 0], [4, 3, 0]], dtype=np.float32))
    valid = sp.csr_array(np.array([[0, 2, 0], [0, 0, 0]], dtype=np.float32))
    test = sp.csr_array(np.array([[0, 0, 4], [0, 0, 5]], dtype=np.float32))
    split = Holdout(fit + valid, fit, valid, test, 0)
    seen = chapter._exclusions(split, "seen", "test").toarray() > 0
    np.testing.assert_array_equal(seen, [[True, True, True], [True, True, True]])  # film 2 unseen in training
    every = chapter._exclusions(split, "all", "test").toarray() > 0
    np.testing.assert_array_equal(every, [[True, True, False], [True, True, False]])


def test_method_values_picks_the_validation_chosen_k():
    rows = []
    for seed, best in ((0, 5), (1, 10)):
        rows.append({"setting": "main", "seed": seed, "method": "SEMAUTO-kNN", "candidates": "seen",
                     "metric": "k_best", "value": best})
        for k in (5, 10):
            rows.append({"setting": "main", "seed": seed, "method": "SEMAUTO-kNN", "candidates": "seen",
                         "part": "test", "k": k, "metric": "ndcg@10", "value": seed + k / 100})
        rows.append({"setting": "main", "seed": seed, "method": "Pop", "candidates": "seen", "part": "test",
                     "metric": "ndcg@10", "value": 0.1 * (seed + 1)})
    result = ChapterResult(pd.DataFrame(rows), chapter.Config(alternatives={}), {})
    assert chapter.method_values(result, "SEMAUTO-kNN").to_dict() == {0: 0.05, 1: 1.10}
    assert chapter.method_values(result, "SEMAUTO-kNN", k=10).to_dict() == {0: 0.10, 1: 1.10}
    # the controls do not depend on the SEMAUTO settings: every setting reads the main runs
    assert chapter.method_values(result, "Pop", setting="relations=all").to_dict() == {0: 0.1, 1: 0.2}
    with pytest.raises(ConfigError, match="cannot change"):
        chapter.try_setting(result, ks=[3])


def test_exclusions_keep_the_users_own_ratings():
    from replication.experiments.protocols import Holdout

    fit = sp.csr_array(np.array([[5, 0, 0], [4, 0, 0]], dtype=np.float32))
    valid = sp.csr_array(np.array([[0, 3, 0], [0, 0, 0]], dtype=np.float32))  # film 1: rated only in validation
    split = Holdout(fit + valid, fit, valid, fit, 0)
    excluded = chapter._exclusions(split, "seen", "test").toarray()
    np.testing.assert_array_equal(excluded, [[5, 3, 1], [4, 1, 1]])  # a 3-star rating is never read as 4
