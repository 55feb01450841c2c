"""Tests for replication.explain: a hand-computed toy matrix, a slow set-based reference of Eq. 5-7, no test leak,
the two MAP/MEP ranking protocols against replication.metrics, and bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import explain, metrics, splits
from replication.errors import ConfigError, DataError
from tests.helpers import problem

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


def test_mixing_by_hand_and_the_input_form_of_E() -> None:
    """M has 1/|N_u| at u's neighbours (toy: 1/2 at N_a = {b, c}, ...) and M @ R = Exp; E-AutoRec's input is that
    product (MixedRatings) when theta = 0, and I @ E (the thresholded sparse E) otherwise."""
    from replication.models.autorec import MixedRatings

    R = sp.csr_array(TOY)
    M = explain.neighbour_mixing(R, 2)
    expected_M = np.zeros((4, 4))
    for u, nbrs in enumerate([[1, 2], [0, 2], [0, 3], [2, 0]]):
        expected_M[u, nbrs] = 0.5
    np.testing.assert_array_equal(M.toarray(), expected_M)
    np.testing.assert_allclose((M @ R).toarray(), TOY_EXP)
    given = explain.explainability_input(R, 2)
    assert isinstance(given, MixedRatings)
    np.testing.assert_allclose((given.mixing @ given.ratings).toarray(),
                               explain.explainability_matrix(R, 2).toarray(), rtol=1e-6)
    thresholded = explain.explainability_input(R, 2, theta=1.5)  # I @ E, the thresholded E behind an identity
    assert isinstance(thresholded, MixedRatings)
    np.testing.assert_array_equal(thresholded.mixing.toarray(), np.eye(4))
    np.testing.assert_array_equal((thresholded.mixing @ thresholded.ratings).toarray(),
                                  explain.explainability_matrix(R, 2, 1.5).toarray())


def test_neighbour_evidence_by_hand() -> None:
    """User a's neighbours are b and c: item 0 rated by b (5 stars) only, item 1 by c (3), item 2 by neither,
    item 3 by c (4): counts, their mean rating and Exp = sum / |N_u| (the toy's first row)."""
    table = explain.neighbour_evidence(sp.csr_array(TOY), 0, [0, 1, 2, 3], n_neighbors=2)
    np.testing.assert_array_equal(table["neighbours who rated it"], [1, 1, 0, 1])
    np.testing.assert_allclose(table["their mean rating"], [5.0, 3.0, np.nan, 4.0])
    np.testing.assert_allclose(table["Exp"], TOY_EXP[0])
    with pytest.raises(ConfigError, match="items must be item indices"):
        explain.neighbour_evidence(sp.csr_array(TOY), 0, [4], n_neighbors=2)
    with pytest.raises(ConfigError, match="user"):
        explain.neighbour_evidence(sp.csr_array(TOY), 4, [0], n_neighbors=2)


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


@pytest.mark.parametrize("theta", [0.0, 1.0, 3.0])
def test_the_sparse_explainability_matrix_equals_the_thresholded_dense_scores(theta):
    train, _, _ = problem(2)
    dense = explain.explanation_scores(train, 5)
    dense[dense <= theta] = 0
    E = explain.explainability_matrix(train, 5, theta)
    np.testing.assert_array_equal(E.toarray(), dense.astype(np.float32))
    assert E.nnz == np.count_nonzero(dense)
    np.testing.assert_array_equal(explain.explanation_scores(train, 5, users=[7, 2]),
                                  explain.explanation_scores(train, 5)[[7, 2]])


@pytest.mark.parametrize("theta", [0.0, 2.5])
def test_explainability_by_rows_gives_the_matrix_mep(small_blocks, monkeypatch, theta):
    train, test, scores = problem(4)
    rows = explain.ExplainableRows(train, 5, theta)
    E = explain.explainability_matrix(train, 5, theta)
    np.testing.assert_array_equal(rows.rows([3, 0]).toarray(), E[[3, 0]].toarray())
    np.testing.assert_array_equal(rows(np.arange(40)).toarray(), explain.explainable_mask(E).toarray())
    by_matrix = metrics.per_user_metrics(scores, train, test, ks=(3, 10), explainable=E)
    by_rows = metrics.per_user_metrics(lambda r: scores[r], train, test, ks=(3, 10), explainable=rows)
    pd.testing.assert_frame_equal(by_rows, by_matrix)
    assert metrics.mep_of_lists(by_rows, rows, (3,)) == metrics.mep_of_lists(by_matrix, E, (3,))
    assert isinstance(explain.explainable_pairs(train, 5, theta), sp.csr_array)
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "10")
    assert isinstance(explain.explainable_pairs(train, 5, theta), explain.ExplainableRows)


def test_neighbour_lists_are_found_once_per_ratings(monkeypatch):
    train, _, _ = problem(5)
    first = explain.neighbours(train, 4)
    calls = []
    monkeypatch.setattr(explain, "nearest_rows", lambda *a: calls.append(a) or (np.zeros((40, 4), int), None))
    np.testing.assert_array_equal(explain.neighbours(train.copy(), 4), first)  # the same ratings (a copy)
    assert not calls and not first.flags.writeable
    changed = train.copy()
    changed.data[0] += 1
    explain.neighbours(changed, 4)
    assert len(calls) == 1, "other ratings: found afresh"
