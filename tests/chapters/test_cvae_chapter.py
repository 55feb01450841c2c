"""The C-VAE chapter's own logic: joining the folds, the three-valued count, and one-line errors with the allowed
values."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from replication.chapters import cvae
from replication.experiments import claims as C


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


def test_exact_test_against_chance_rates_by_hand():
    # two statements at chance 0.5: both hold with probability 0.25, at least one with 0.75
    assert cvae._exact_above_chance(np.array([1, 1]), np.array([0.5, 0.5])) == pytest.approx(0.25)
    assert cvae._exact_above_chance(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.75)
    assert cvae._exact_above_chance(np.array([1, 0, 1]), np.array([0.1, 0.2, 0.3])) == pytest.approx(
        0.1 * 0.2 + 0.1 * 0.3 + 0.2 * 0.3 - 2 * 0.1 * 0.2 * 0.3)


def test_one_repetition_can_agree_or_leave_inconclusive_but_never_reverse():
    holds = C.Judgement("holds", "m", "t", "threshold")
    assert cvae._one_run(True, holds, "x").verdict == "holds"
    assert cvae._one_run(False, holds, "x").verdict == "inconclusive"
    fails = C.Judgement("does not hold", "m", "t", "threshold")
    assert cvae._one_run(False, fails, "x").verdict == "does not hold"
    assert cvae._one_run(True, C.Judgement("inconclusive", "m", "t", "threshold"), "x").verdict == "inconclusive"


def test_stability_compares_the_same_users_across_repetitions():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(30, 4))
    cents = rng.normal(size=(19, 5))
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    order = rng.permutation(30)  # the second repetition stacks its users in another order
    spaces = {("C-VAE annealed", 0): {"users": np.arange(30), "mu": mu, "centroids": cents},
              ("C-VAE annealed", 1): {"users": order, "mu": mu[order] @ Q, "centroids": -cents},
              (cvae.UNTRAINED, 0): {"users": np.arange(30), "mu": rng.normal(size=(30, 4)), "centroids": cents},
              (cvae.UNTRAINED, 1): {"users": np.arange(30), "mu": rng.normal(size=(30, 4)), "centroids": cents}}
    frame = cvae.stability(spaces)
    same = frame[(frame["model"] == "C-VAE annealed") & (frame["versus"] == "C-VAE annealed")].set_index("metric")
    assert same.loc["cka", "value"] == pytest.approx(1.0) and same.loc["procrustes", "value"] == pytest.approx(0.0,
                                                                                                              abs=1e-9)
    assert same.loc["genre order", "value"] == pytest.approx(1.0) and (frame["users"] == 30).all()
    control = frame[(frame["versus"] == cvae.UNTRAINED) & (frame["metric"] == "cka")]["value"]
    assert (control < 0.9).all()
