"""Tests for replication.explain: a hand-computed toy matrix, a slow set-based reference of Eq. 5-7, no test leak,
the two MAP/MEP ranking protocols against replication.metrics, and bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import explain, metrics, splits
from replication.errors import ConfigError, DataError

# users a, b, c, d x 4 items. cos(a,b)=25/(5*sqrt(41))=.781, cos(a,c)=16/(5*sqrt(41))=.625, cos(c,d)=6/(5*sqrt(20))=.268,
# every other pair 0. With 2 neighbours (ties -> lower index): N_a={b,c}, N_b={a,c}, N_c={a,d}, N_d={c,a}.
TOY = np.array([[5, 0, 0, 4], [5, 0, 0, 0], [0, 3, 0, 4], [0, 2, 4, 0]], dtype=float)
TOY_EXP = np.array([
    [2.5, 1.5, 0.0, 2.0],  # (b + c) / 2
    [2.5, 1.5, 0.0, 4.0],  # (a + c) / 2
    [2.5, 1.0, 2.0, 2.0],  # (a + d) / 2
    [2.5, 1.5, 0.0, 4.0],  # (c + a) / 2
])


def test_neighbours_by_hand() -> None:
    np.testing.assert_array_equal(explain.neighbours(sp.csr_array(TOY), 2), [[1, 2], [0, 2], [0, 3], [2, 0]])


def test_scores_by_hand() -> None:
    np.testing.assert_allclose(explain.explanation_scores(sp.csr_array(TOY), 2), TOY_EXP)


def test_threshold_by_hand() -> None:
    E = explain.explainability_matrix(sp.csr_array(TOY), 2, theta=1.5)
    expected = np.where(TOY_EXP > 1.5, TOY_EXP, 0.0)  # strictly above theta: the 1.5 entries drop out
    np.testing.assert_allclose(E.toarray(), expected)
    assert E.nnz == np.count_nonzero(expected)
    np.testing.assert_array_equal(explain.explainable_mask(E, 2.0).toarray(), (TOY_EXP > 2.0).astype(np.float32))


def slow_explainability(R: np.ndarray, n_neighbors: int, theta: float) -> np.ndarray:
    """Eq. 5-7 literally: sets of neighbours, U_{i,x}, and sum_x x * |N_u ∩ U_{i,x}| / |N_u|."""
    n_users, n_items = R.shape
    out = np.zeros_like(R)
    for u in range(n_users):
        sims = []
        for v in range(n_users):
            if v != u:
                den = np.linalg.norm(R[u]) * np.linalg.norm(R[v])
                sims.append((-(R[u] @ R[v] / den if den else 0.0), v))
        nbrs = {v for _, v in sorted(sims)[:n_neighbors]}
        for i in range(n_items):
            score = sum(x * len(nbrs & {v for v in range(n_users) if R[v, i] == x}) / len(nbrs)
                        for x in (1, 2, 3, 4, 5))
            out[u, i] = score if score > theta else 0.0
    return out


@pytest.mark.parametrize("n_neighbors,theta", [(1, 0.0), (3, 0.0), (5, 1.0)])
def test_matches_slow_reference(n_neighbors: int, theta: float) -> None:
    rng = np.random.default_rng(n_neighbors)
    R = rng.integers(1, 6, size=(12, 9)) * (rng.random((12, 9)) < 0.4)
    E = explain.explainability_matrix(sp.csr_array(R.astype(float)), n_neighbors, theta)
    np.testing.assert_allclose(E.toarray(), slow_explainability(R.astype(float), n_neighbors, theta), rtol=1e-6)


def test_no_test_rating_reaches_E() -> None:
    """E is a function of the training matrix alone: changing every test rating leaves it unchanged."""
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    frame = pd.DataFrame([(u, i, float(rng.integers(1, 6))) for u in range(n_users) for i in range(n_items)
                          if rng.random() < 0.3], columns=["user", "item", "rating"])
    split = splits.random_split(frame, 0.2, seed=1, shape=(n_users, n_items))
    E = explain.explainability_matrix(split.train, 5)
    changed = split.test_frame.assign(rating=6.0 - split.test_frame["rating"])
    again = splits.RatingSplit(split.train_frame, changed, split.shape, split.seed)
    np.testing.assert_array_equal(explain.explainability_matrix(again.train, 5).toarray(), E.toarray())
    # ...while the same ratings placed in the training matrix do change it (the test is able to fail)
    leaked = sp.csr_array(split.train + again.test)
    assert not np.array_equal(explain.explainability_matrix(leaked, 5).toarray(), E.toarray())


def test_map_mep_unrated_matches_metrics() -> None:
    rng = np.random.default_rng(3)
    train = sp.csr_array((rng.random((20, 40)) < 0.2) * rng.integers(1, 6, (20, 40)).astype(float))
    test = sp.csr_array((rng.random((20, 40)) < 0.15) * (train.toarray() == 0) * rng.integers(1, 6, (20, 40)))
    expl = sp.csr_array((rng.random((20, 40)) < 0.5).astype(float))
    scores = rng.random((20, 40))
    got = explain.map_mep(scores, train, test, expl, ns=(3, 7), relevant_threshold=4.0)
    rel = sp.csr_array((test.toarray() >= 4).astype(float))
    has_test = np.diff(test.indptr) > 0
    for n in (3, 7):
        topk = metrics.top_k(scores, n, exclude=train)
        assert got[f"map@{n}"] == pytest.approx(np.nanmean(metrics.map_at_k(topk, rel)))
        assert got[f"mep@{n}"] == pytest.approx(metrics.mep_at_k(topk, expl)[has_test].mean())


def test_map_mep_test_items_by_hand() -> None:
    """One user, test items 0 (5 stars), 1 (2 stars), 2 (4 stars); scores rank 1, 2, 0; items 1, 0 explainable."""
    train = sp.csr_array(np.array([[0, 0, 0, 3.0]]))
    test = sp.csr_array(np.array([[5.0, 2.0, 4.0, 0]]))
    expl = sp.csr_array(np.array([[1.0, 1.0, 0, 1.0]]))
    scores = np.array([[0.1, 0.9, 0.5, 10.0]])  # item 3 scores highest but is not a test item
    got = explain.map_mep(scores, train, test, expl, ns=(1, 2, 5), protocol="test_items")
    # list = [1, 2, 0]; relevant = {0, 2}: AP@2 = (1/2) / 2, AP@5 = (1/2 + 2/3) / 2
    assert got["map@1"] == 0.0 and got["map@2"] == pytest.approx(0.25)
    assert got["map@5"] == pytest.approx((0.5 + 2 / 3) / 2)
    # MEP over the min(n, 3) listed items: [1] -> 1, [1, 2] -> 1/2, [1, 2, 0] -> 2/3
    assert (got["mep@1"], got["mep@2"]) == (1.0, 0.5) and got["mep@5"] == pytest.approx(2 / 3)


def test_bad_inputs() -> None:
    R = sp.csr_array(TOY)
    with pytest.raises(ConfigError):
        explain.explainability_matrix(R, 4)  # only 3 other users
    with pytest.raises(ConfigError):
        explain.explainability_matrix(R, 0)
    with pytest.raises(ConfigError):
        explain.explainability_matrix(R, 2, theta=-1)
    with pytest.raises(DataError):
        explain.explainability_matrix(TOY, 2)  # dense, not sparse
    with pytest.raises(DataError):
        explain.explainability_matrix(sp.csr_array(-TOY), 2)
    with pytest.raises(ConfigError):
        explain.map_mep(np.zeros((4, 4)), R, R, R, protocol="all")
    with pytest.raises(DataError):
        explain.map_mep(np.zeros((3, 4)), R, R, R)


def test_paired_verdict() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.9, 1.9, 2.9, 3.9])
    mean, half, v = explain.paired_verdict(a, b)
    assert mean == pytest.approx(0.1) and half == pytest.approx(0.0, abs=1e-12) and v == "holds"
    assert explain.paired_verdict(a, b, higher_is_better=False)[2] == "does not hold"
    assert explain.paired_verdict(a, a + np.array([0.1, -0.1, 0.1, -0.1]))[2] == "inconclusive"
    with pytest.raises(DataError):
        explain.paired_verdict([1.0], [2.0])
