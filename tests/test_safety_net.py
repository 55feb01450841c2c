"""A safety net for silent wrong results (issue 31): each test here guards one way the book could quietly print a
wrong number with the chapters still running, and was checked by breaking the code that way once (the mutation
it names). The chapter smoke runs catch some of these too; these tests name the module that holds the bug."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.spatial
import scipy.stats
import torch

from replication import explain, latent, metrics, neighbours, regression, splits
from replication.experiments import claims as C
from replication.experiments import protocols
from replication.models.training import fit_loop

PLAIN = C.INDEPENDENT


# ---------------------------------------------------------------------------------------------------- training


def test_validation_runs_in_evaluation_mode_without_gradients():
    """Mutation: fit_loop validating in training mode (dropout on, Mult-VAE sampling z)."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    seen = []

    def validate() -> float:
        seen.append((net.training, torch.is_grad_enabled()))
        return float(net(torch.ones(1, 3)).sum())

    def loss(batch, step):
        return net(torch.ones(4, 3)).pow(2).sum(), {}, 4.0

    fit_loop(net, torch.optim.SGD(net.parameters(), lr=0.01), batches=lambda e: [0], loss=loss, validate=validate,
             monitor=validate, epochs=3)
    assert seen and all(state == (False, False) for state in seen)


# ---------------------------------------------------------------------------------------------------- intervals


def test_every_interval_has_the_stated_coverage():
    """Mutation: a 90% interval where 95% is stated (t quantile, bootstrap percentiles)."""
    v = np.array([0.1, 0.4, 0.2, 0.5, 0.3])
    mean, half = metrics.mean_ci(v)
    assert half == pytest.approx(scipy.stats.t.ppf(0.975, 4) * v.std(ddof=1) / np.sqrt(5))
    low, high = C._runs(v, PLAIN).interval()
    assert (low, high) == pytest.approx((mean - half, mean + half))
    rng = np.random.default_rng(0)
    a, b = rng.random(200), rng.random(200)
    j = C.bootstrap(a, b, n_boot=500, seed=4)
    d = a - b
    means = d[np.random.default_rng(4).integers(0, d.size, size=(500, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    assert f"[{C._fmt(lo)}, {C._fmt(hi)}]" in j.measured


@pytest.mark.parametrize("values, side, expected", [
    ([0.24, 0.26, 0.25, 0.27], "above", "inconclusive"),  # the interval's two ends on either side of 0.25
    ([0.255, 0.26, 0.258, 0.262], "above", "holds"),      # just above, tight
    ([0.245, 0.24, 0.242, 0.238], "above", "does not hold"),
    ([0.24, 0.26, 0.25, 0.27], "below", "inconclusive"),
    ([0.245, 0.24, 0.242, 0.238], "below", "holds"),
    ([0.255, 0.26, 0.258, 0.262], "below", "does not hold"),
])
def test_threshold_near_its_bound_in_both_directions(values, side, expected):
    """Mutation: `below` judged as `above` (or the interval's ends swapped)."""
    bound = C.Bound(0.25, "the bound under test, a hand-made case")
    judged = C.threshold(values, design=PLAIN, **{side: bound})
    assert judged.verdict == expected, judged.measured


# ---------------------------------------------------------------------------------------------------- regression


def test_the_regression_check_flags_a_three_percent_move_of_a_small_metric():
    """Mutation: the 2% relative tolerance applied as an absolute 0.02."""
    record = lambda v: {"metrics": [{"metric": "ndcg@10", "model": "A", "value": v}], "claims": []}  # noqa: E731
    assert regression.compare(record(0.515), record(0.5)) != []
    assert regression.compare(record(0.505), record(0.5)) == []


# ---------------------------------------------------------------------------------------------------- rankings


def test_self_is_never_a_neighbour_even_when_every_similarity_is_zero():
    """Mutation: self excluded by a zero instead of minus infinity (self then wins the tie at index 0)."""
    idx, sims = neighbours.top_neighbours(np.zeros((4, 4)), 3, exclude_self=True)
    assert all(i not in row for i, row in enumerate(idx))
    np.testing.assert_array_equal(idx[0], [1, 2, 3])
    rows, _ = neighbours.nearest_rows(sp.csr_array((4, 5)), 2)  # users without ratings: all-zero cosines
    assert all(i not in row for i, row in enumerate(rows))


def test_an_empty_list_slot_is_never_a_hit():
    """Mutation: the -1 padding of a short list looked up as an item (it then matches the previous user's last
    item: user 1's empty slot would find user 0's relevant item 3)."""
    scores = np.tile([0.9, 0.8, 0.1, 0.0], (2, 1))
    exclude = sp.csr_array(np.array([[0, 0, 0, 0], [0, 0, 1, 1]]))  # user 1 can be shown items 0 and 1 only
    test = sp.csr_array(np.array([[0, 0, 0, 5.0], [0, 0, 5.0, 0]]))  # relevant: user 0 item 3, user 1 item 2
    top = metrics.top_k(scores, 3, exclude=exclude)
    np.testing.assert_array_equal(top, [[0, 1, 2], [0, 1, -1]])
    np.testing.assert_array_equal(metrics.hits(top, test), np.zeros((2, 3), dtype=bool))
    values = metrics.evaluate_topn(scores, exclude, test, ks=(3,), relevant_threshold=4.0)
    assert values["recall@3"] == 0.0 and values["precision@3"] == 0.0 and values["ndcg@3"] == 0.0


# ---------------------------------------------------------------------------------------------------- splits


def test_the_validation_part_is_drawn_with_its_own_seed():
    """Mutation: the validation split reusing the test split's seed (then it repeats the test's choices)."""
    data = protocols.load_data()
    split = protocols.holdout(3, "holdout", 0.2)
    outer = splits.holdout_split(data.ratings, 0.2, seed=3, shape=(data.n_users, data.n_items))
    same_seed = splits.holdout_split(outer.train_frame, 0.25, seed=3, shape=(data.n_users, data.n_items))
    own_seed = splits.holdout_split(outer.train_frame, 0.25, seed=3 + 1000, shape=(data.n_users, data.n_items))
    assert (split.valid != same_seed.test).nnz > 0
    assert (split.valid != own_seed.test).nnz == 0


def test_a_per_user_holdout_is_random_not_the_file_order():
    """Mutation: each user's last (or first) ratings in file order held out."""
    ratings = pd.DataFrame({"user": np.repeat(np.arange(50), 10), "item": np.tile(np.arange(10), 50),
                            "rating": 4.0})
    split = splits.holdout_split(ratings, 0.2, seed=0)
    held = split.test_frame.groupby("user")["item"].apply(frozenset)
    assert held.nunique() > 10  # the held-out pairs differ between users, not always items 8 and 9 (or 0 and 1)
    assert not (held == frozenset({8, 9})).all() and not (held == frozenset({0, 1})).all()


# ------------------------------------------------------------------------------------------------ explanations, latent


def test_the_neighbour_cache_keys_on_the_neighbourhood_size():
    """Mutation: the per-process neighbour cache keyed on the ratings only (a later size gets the earlier lists)."""
    R = sp.csr_array(np.random.default_rng(0).integers(0, 6, size=(12, 9)).astype(np.float32))
    assert explain.neighbours(R, 3).shape == (12, 3)
    assert explain.neighbours(R, 5).shape == (12, 5)
    assert explain.neighbours(R, 3).shape == (12, 3)


def test_the_silhouette_sample_is_seeded():
    """Mutation: the silhouette's sample drawn without the seed (results change from run to run)."""
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(400, 3)), np.repeat([0, 1, 2, 3], 100)
    points[labels == 1] += 1.0
    one = latent.silhouette(points, labels, sample_size=100, seed=7)
    assert latent.silhouette(points, labels, sample_size=100, seed=7) == one
    assert latent.silhouette(points, labels, sample_size=100, seed=8) != one


def test_the_mantel_p_value_counts_the_observed_statistic():
    """Mutation: p = #{r_perm >= r} / n_perm (without the +1 of the observed statistic, p can be 0)."""
    d = scipy.spatial.distance.squareform(np.arange(1.0, 11.0))  # 5 x 5, all distances distinct
    r, p = latent.mantel(d, d, n_perm=99, seed=0)
    assert r == pytest.approx(1.0)
    assert p >= 1 / 100 and p * 100 == pytest.approx(round(p * 100))
