"""The shared protocol of the comparison chapter: one row per (model, seed), metrics in range, shared training
costs charged to every model that uses it, side information from training data only, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from replication import compare, explain
from replication.errors import ConfigError

SMALL = {"semauto": {"epochs": 2}, "autorec": {"epochs": 2, "hidden": 8}, "vae": {"epochs": 1, "hidden": 20,
                                                                               "latent": 5}}


@pytest.fixture(scope="module")
def runs(ml100k):
    return compare.run_comparison(ml100k, [0], ["Pop", "EASE", "SEMAUTO-sum", "SEMAUTO-kNN", "E-AutoRec",
                                               "Mult-VAE"], settings=SMALL, progress=False)


def test_one_row_per_model_and_seed_with_metrics_in_range(runs):
    assert runs["model"].tolist() == ["Pop", "EASE", "SEMAUTO-sum", "SEMAUTO-kNN", "E-AutoRec", "Mult-VAE"]
    for column in ("ndcg@10", "recall@20", "map@10", "mep@10", "coverage@10"):
        assert runs[column].between(0, 1).all(), column
    assert (runs["train_seconds"] > 0).all()


def test_shared_semauto_training_is_charged_to_both_recommenders(runs):
    sum_row, knn_row = (runs.set_index("model").loc[name] for name in ("SEMAUTO-sum", "SEMAUTO-kNN"))
    # the kNN recommender reuses the profiles, so its cost is the training plus its own (small) work
    assert knn_row["train_seconds"] >= 0.5 * sum_row["train_seconds"]


def test_ease_beats_popularity_under_the_protocol(runs):
    table = runs.set_index("model")
    assert table.loc["EASE", "ndcg@10"] > table.loc["Pop", "ndcg@10"]


def test_context_uses_training_ratings_only(ml100k):
    ctx = compare.make_context(ml100k, seed=1)
    expected = explain.explainability_matrix(ctx.split.train, 50, 0.0)
    assert (abs(ctx.explainability - expected)).sum() == 0
    assert ctx.train.multiply(ctx.split.test).nnz == 0
    binary = ctx.train_binary
    assert set(np.unique(binary.data)) == {1.0}
    assert binary.nnz == int((ctx.train.data >= 4).sum())


def test_summary_has_mean_and_ci(runs):
    summary = compare.summarise(runs)
    assert {"ndcg@10", "ndcg@10_ci"} <= set(summary.columns)
    assert (summary["ndcg@10_ci"] == 0).all()  # one seed: no interval


def test_unknown_model_lists_the_allowed_ones(ml100k):
    with pytest.raises(ConfigError, match=r"unknown models \['BPR'\]; allowed: \['Pop'"):
        compare.run_comparison(ml100k, [0], ["Pop", "BPR"], progress=False)
