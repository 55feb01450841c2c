"""The C-VAE chapter's own logic: joining the folds, the three-valued count, and one-line errors with the allowed
values."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from replication.chapters import cvae


def test_aggregate_joins_the_folds_per_user_and_weights_conditioned_metrics_by_users():
    per_user = pd.DataFrame({"seed": [0, 0, 0], "fold": [0, 1, 1], "model": "M", "user": [5, 7, 9],
                             "ndcg@100": [0.3, 0.6, 0.9], "recall@20": [1.0, 0.0, 0.5], "recall@50": [1.0, 1.0, 1.0]})
    jobs = pd.DataFrame({"seed": [0, 0], "fold": [0, 1], "model": "M conditioned", "condition": [2, 2],
                         "metric": "ndcg", "value": [0.2, 0.5], "users": [1, 3]})
    frame = cvae._aggregate(jobs, per_user)

    def row(metric: str, scope: str) -> float:
        return frame[(frame["metric"] == metric) & (frame["scope"] == scope)]["value"].item()

    assert row("ndcg@100", "all users") == pytest.approx(0.6)  # (0.3 + 0.6 + 0.9) / 3, not the mean of fold means
    assert row("ndcg@100", "fold 0") == pytest.approx(0.3)
    assert row("recall@20", "all users") == pytest.approx(0.5)
    assert row("ndcg", "all users") == pytest.approx((0.2 * 1 + 0.5 * 3) / 4)
    assert row("users tested", "all users") == 3


def test_counted_is_three_valued():
    assert cvae.counted(pd.Series([True, True]), "x").verdict == "holds"
    assert cvae.counted(pd.Series([False, False]), "x").verdict == "does not hold"
    judged = cvae.counted(pd.Series([True, False, True]), "holds")
    assert judged.verdict == "inconclusive" and "2 of 3" in judged.measured


def test_bad_choices_fail_with_the_allowed_values():
    with pytest.raises(ValueError, match="allowed"):
        cvae.Config(variants=["C-VAE tiny"])
    fake = SimpleNamespace(config=cvae.Config())
    with pytest.raises(ValueError, match="allowed: anneal_fraction, balance"):
        cvae.try_setting(fake, hidden=10)
    with pytest.raises(ValueError, match="centres from"):
        cvae.centrality_by_seed(fake, "5 PCs", ["the middle"])
