"""The C-VAE chapter's own logic: joining the folds, the three-valued count, the latent spaces, the latent study on
a hand-built translation, and its committed full-run reference (every user tested, runs converged)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import regression
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


def test_latent_spaces_are_views_of_one_pca_with_the_origin_mapped():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 12)) + 3.0
    spaces, explained = cvae.latent_spaces(points, seed=0)
    assert list(spaces) == list(cvae.SPACES)
    ten, origin = spaces["10 PCs"]
    np.testing.assert_allclose(spaces["5 PCs"][0], ten[:, :5])
    np.testing.assert_allclose(spaces["PC2 x PC5"][0], ten[:, [1, 4]])
    np.testing.assert_allclose(spaces["PC3 x PC5"][1], origin[[2, 4]])
    np.testing.assert_allclose(spaces["full latent"][1], np.zeros(12))
    # the origin lands where the zero vector projects: the negated mean rotated into the components
    from sklearn.decomposition import PCA

    pca = PCA(10, random_state=0).fit(points)
    np.testing.assert_allclose(np.abs(origin), np.abs(pca.transform(np.zeros((1, 12)))[0]), atol=1e-9)
    assert explained.shape == (10,) and np.all(np.diff(explained) <= 1e-12)


class TranslatingModel:
    """A stand-in C-VAE whose condition c moves every user's mean by exactly the vector shifts[c]."""

    def __init__(self, base: np.ndarray, shifts: np.ndarray):
        self.base, self.shifts = base, shifts
        self.network_ = SimpleNamespace(n_conditions=len(shifts))

    def encode(self, X, condition=None):
        return self.base[: X.shape[0]] + (0.0 if condition in (None, -1) else self.shifts[condition])


def test_latent_study_of_an_exact_translation():
    rng = np.random.default_rng(1)
    n_users, n_items, n_genres = 40, 30, 4
    X = sp.csr_array((rng.random((n_users, n_items)) < 0.3).astype(np.float32))
    G = np.zeros((n_items, n_genres), dtype=np.float32)
    G[np.arange(n_items), np.arange(n_items) % n_genres] = 1
    G[np.arange(0, n_items, 3), (np.arange(0, n_items, 3) + 1) % n_genres] = 1  # some films with two genres
    lengths = np.array([1.0, 2.0, 3.0, 4.0])
    shifts = np.eye(n_genres, 6) * lengths[:, None] * 5.0
    model = TranslatingModel(rng.normal(size=(n_users, 6)), shifts)
    records, figures = cvae.study_latent_space(model, X, G, ["a", "b", "c", "d"], n_perm=99, silhouette_sample=None,
                                               seed=0)
    got = pd.DataFrame(records)

    def at(metric: str, space: str = "full latent", centre: str = "") -> float:
        chosen = (got["metric"] == metric) & (got["space"] == space) & (got["centre"] == centre)
        return got.loc[chosen, "value"].item()

    assert at("mean cosine") == pytest.approx(1.0)
    assert at("median deviation") == pytest.approx(0.0, abs=1e-9)
    assert at("mean spread ratio") == pytest.approx(1.0)
    np.testing.assert_allclose(figures["geometry"]["shift"], lengths * 5.0)
    # from the unconditioned centroid a genre's distance is its shift length: rho(popularity, length)
    popularity = np.asarray((X @ G).sum(axis=0)).ravel()
    import scipy.stats

    expected = scipy.stats.spearmanr(popularity, lengths).statistic
    assert at("popularity rho", centre="unconditioned centroid") == pytest.approx(expected)
    assert at("rank of unconditioned", centre="latent origin") >= 1
    assert 0.5 < at("condition share") < 1.0


def test_bad_choices_fail_with_the_allowed_values():
    with pytest.raises(ValueError, match="allowed"):
        cvae.Config(variants=["C-VAE tiny"])
    fake = SimpleNamespace(config=cvae.Config())
    with pytest.raises(ValueError, match="allowed: anneal_fraction, balance"):
        cvae.try_setting(fake, hidden=10)
    with pytest.raises(ValueError, match="centres from"):
        cvae.centrality_by_seed(fake, "5 PCs", ["the middle"])


def test_reference_run_tests_every_user_and_converged():
    """The committed reference of a full execution: >= 5 repetitions, every eligible user tested once in each, most
    runs stopped early, and every latent claim with >= 3 alternatives."""
    payload = json.loads((regression.REFERENCE_DIR / "cvae.json").read_text())
    assert len(payload["seeds"]) >= 5
    tested = [r["value"] for r in payload["metrics"] if r["metric"] == "users tested" and r["scope"] == "all users"]
    assert tested and set(tested) == {938.0}  # ML-100K users with >= 5 ratings >= 4
    runs = {}
    for r in payload["metrics"]:
        if r["metric"] in ("best_epoch", "epochs_trained"):
            runs.setdefault((r["model"], r["seed"], r["fold"]), {})[r["metric"]] = r["value"]
    stopped = [run["epochs_trained"] < payload["config"]["epochs"] for run in runs.values()]
    assert len(runs) >= 95 and np.mean(stopped) > 0.5
    assert all(run["best_epoch"] < run["epochs_trained"] for run in runs.values())
    latent_claims = [c for c in payload["claims"] if c["id"][0] in "GLP"]
    assert latent_claims and all(len(c["sensitivity"]) >= 3 for c in latent_claims)
