"""The protocols module: data sources and what needs the knowledge graph, conditioned evaluation and fold-in
scoring by blocks of users equal to the dense computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import synthetic
from replication.errors import ConfigError
from replication.experiments import protocols
from tests.helpers import SMALL, problem


def test_data_source_checks_the_name_and_knows_what_needs_the_graph(tmp_path):
    with pytest.raises(ConfigError, match="dataset must be one of"):
        protocols.data_source("ml-5m")
    assert protocols.data_source() == {"dataset": "ml-100k", "data_dir": ""}
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    source = protocols.data_source("ml-1m", str(data_dir))
    assert source == {"dataset": "ml-1m", "data_dir": str(data_dir.absolute())}
    train = protocols.holdout(0, "random", 0.1, **source).fit_train
    with pytest.raises(ConfigError, match="knowledge graph"):
        protocols.side_information("item_features", train, **source)
    assert protocols.side_information("genres", train, **source).shape == (train.shape[1], 18)


def test_conditioned_evaluation_by_blocks_equals_the_dense_one(small_blocks):
    train, test, scores = problem(7)
    conditions = (np.random.default_rng(0).random((30, 3)) > 0.6).astype(np.float32)
    for post_filter in (False, True):
        dense = protocols.conditioned_eval(lambda c: scores + c, train, test, conditions, k=5, post_filter=post_filter)
        blocked = protocols.conditioned_eval(lambda c: (lambda rows: scores[rows] + c), train, test, conditions, k=5,
                                             post_filter=post_filter)
        pd.testing.assert_frame_equal(blocked, dense)


def test_a_fold_in_scorer_is_dense_when_small_and_blocked_when_large(monkeypatch):
    from replication import models

    train, test, _ = problem(8)
    model = models.EASE(10.0).fit(train)
    dense = protocols.fold_in_scorer(model, test)
    np.testing.assert_array_equal(dense, model.score(test))
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "10")
    scorer = protocols.fold_in_scorer(model, test)
    np.testing.assert_array_equal(scorer(np.array([3, 1])), model.score(sp.csr_array(test)[[3, 1]]))
