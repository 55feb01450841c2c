"""The explanation tests on hand cases: deletion removes exactly the cited items, the random control as many;
ranks against a slow loop (ties counted against the item); necessity and sufficiency on a toy model whose answer
is known; the leave-one-out explainer equals a slow loop and, for a linear model, the native contributions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication import faithfulness as F
from replication.errors import DataError
from replication.models import EASE, ItemKNN


def random_rows(n_users: int = 12, n_items: int = 15, density: float = 0.35, seed: int = 0) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density).astype(np.float64)
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = 1.0  # every row rates something
    return sp.csr_array(dense)


def test_delete_removes_exactly_the_cited_items_and_keep_only_keeps_them():
    X = sp.csr_array(np.array([[1.0, 2.0, 0.0, 3.0], [0.0, 4.0, 5.0, 0.0]]))
    cited = np.array([[3, 0, 1], [2, 1, -1]])
    np.testing.assert_array_equal(F.delete(X, cited, 1).toarray(), [[1, 2, 0, 0], [0, 4, 0, 0]])
    np.testing.assert_array_equal(F.delete(X, cited, 2).toarray(), [[0, 2, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(F.delete(X, cited, 5).toarray(), np.zeros((2, 4)), "m beyond what is cited")
    np.testing.assert_array_equal(F.keep_only(X, cited, 1).toarray(), [[0, 0, 0, 3], [0, 0, 5, 0]])
    np.testing.assert_array_equal(X.toarray(), [[1, 2, 0, 3], [0, 4, 5, 0]], "the input is not changed")


def test_the_random_control_cites_as_many_of_the_users_own_items():
    X = random_rows()
    control = F.random_entries(X, seed=3)
    for u in range(X.shape[0]):
        row = set(X.indices[X.indptr[u]:X.indptr[u + 1]])
        cited = control[u][control[u] >= 0]
        assert set(cited) == row and len(cited) == len(row), "a permutation of the user's rated items"
    assert (F.random_entries(X, seed=3) == control).all() and (F.random_entries(X, seed=4) != control).any()
    for m in (1, 3):
        per_row = np.diff(X.indptr)
        removed = per_row - np.diff(F.delete(X, control, m).indptr)
        np.testing.assert_array_equal(removed, np.minimum(per_row, m))


def test_the_matched_control_cites_as_many_random_items_as_the_explanation():
    X = random_rows()
    cited = F.ranked_entries(sp.csr_array(X.multiply(random_rows(seed=9))))  # cites only some rated items
    control = F.matched_control(X, cited, seed=1)
    np.testing.assert_array_equal((control >= 0).sum(axis=1), (cited >= 0).sum(axis=1))
    for u in range(X.shape[0]):
        assert set(control[u][control[u] >= 0]) <= set(X.indices[X.indptr[u]:X.indptr[u + 1]])


def test_ranked_entries_orders_by_weight_then_item():
    W = sp.csr_array(np.array([[0.5, 0.0, 0.9, 0.5], [0.0, 0.0, 0.0, -1.0]]))
    np.testing.assert_array_equal(F.ranked_entries(W), [[2, 0, 3], [3, -1, -1]])


def test_ranks_count_higher_and_tied_candidates_but_never_rated_items():
    scores = np.array([[0.9, 0.5, 0.5, 0.1, 0.7], [0.2, 0.2, 0.2, 0.2, 0.2]])
    rated = sp.csr_array(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=float))
    np.testing.assert_array_equal(F.ranks(scores, np.array([1, 0]), rated), [2, 3])
    rng = np.random.default_rng(0)
    S = rng.integers(0, 4, (20, 9)).astype(float)  # many ties
    R = random_rows(20, 9, 0.3, seed=1)
    items = rng.integers(0, 9, 20)
    slow = [sum(1 for j in range(9) if j != items[u] and R[u, j] == 0 and S[u, j] >= S[u, items[u]])
            for u in range(20)]
    np.testing.assert_array_equal(F.ranks(S, items, R), slow)


def test_necessity_and_sufficiency_on_a_model_whose_answer_is_known():
    # item 0 scores 10 x (rated item 1) and nothing else; the other items score their tiny index-based constants,
    # so item 0 is on top exactly when item 1 is in the input, whatever else the user rated
    n_items = 30
    base = np.linspace(0.0, 1.0, n_items)

    def scorer(rows: sp.csr_array) -> np.ndarray:
        dense = rows.toarray()
        out = np.tile(base, (dense.shape[0], 1))
        out[:, 0] = 10.0 * dense[:, 1]
        return out

    dense = np.zeros((3, n_items))
    dense[:, [1, 5, 6, 7]] = 1.0
    X = sp.csr_array(dense)
    items = np.zeros(3, dtype=np.int64)
    right = np.tile([1, 5, 6, 7], (3, 1))  # cites item 1 first
    wrong = np.tile([5, 6, 7, 1], (3, 1))  # cites item 1 last
    effects = F.deletion_effects(scorer, X, items, right, ms=(1, 3), k=10)
    first = effects[effects["m"] == 1]
    assert first["necessary"].all() and first["sufficient"].all() and (first["rank_before"] == 0).all()
    assert (first["score_drop"] == 10.0).all() and (first["rank_drop"] > 0).all()
    wrong_effects = F.deletion_effects(scorer, X, items, wrong, ms=(1, 3), k=10)
    assert not wrong_effects["necessary"].any(), "deleting items the model ignores changes nothing"
    assert (wrong_effects["score_drop"] == 0).all() and (wrong_effects["rank_drop"] == 0).all()
    assert not wrong_effects["sufficient"].any(), "the ignored items alone cannot keep the item on top"
    np.testing.assert_array_equal(effects["deleted"], [1, 1, 1, 3, 3, 3])


def slow_leave_one_out(scorer, X: sp.csr_array, items: np.ndarray) -> dict[tuple[int, int], float]:
    out = {}
    for u in range(X.shape[0]):
        row = X[[u]].toarray()
        base = scorer(sp.csr_array(row))[0, items[u]]
        for j in np.flatnonzero(row[0]):
            without = row.copy()
            without[0, j] = 0.0
            out[(u, j)] = base - scorer(sp.csr_array(without))[0, items[u]]
    return out


def test_leave_one_out_equals_a_slow_loop_on_a_nonlinear_model():
    X = random_rows(6, 10, 0.4, seed=2)
    X.data = np.arange(1, X.nnz + 1, dtype=float) % 5 + 1  # ratings, not only ones
    W = np.random.default_rng(5).normal(size=(10, 10))

    def scorer(rows: sp.csr_array) -> np.ndarray:  # nonlinear: a normalised input through tanh
        dense = rows.toarray()
        norm = np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
        return np.tanh((dense / norm) @ W)

    items = np.arange(6) % 10
    fast = F.leave_one_out(scorer, X, items, block=7)  # blocks that cut users apart
    slow = slow_leave_one_out(scorer, X, items)
    assert fast.nnz == X.nnz
    for u in range(6):
        for position in range(fast.indptr[u], fast.indptr[u + 1]):
            assert fast.data[position] == pytest.approx(slow[(u, fast.indices[position])], abs=1e-12)


@pytest.mark.parametrize("model", [ItemKNN(k=5), EASE(l2=3.0)])
def test_for_a_linear_model_leave_one_out_is_the_native_explanation(model):
    X = random_rows(15, 12, 0.35, seed=4)
    model.fit(X)
    W = model.similarity_ if isinstance(model, ItemKNN) else model.weights_
    items = np.argmax(np.where(X.toarray() > 0, -np.inf, model.score()), axis=1)
    native = F.linear_contributions(X, W, items)
    np.testing.assert_allclose(native.toarray(), (X.toarray() * W[:, items].T), rtol=1e-6)
    posthoc = F.leave_one_out(model.score, X, items)
    np.testing.assert_allclose(posthoc.toarray(), native.toarray(), rtol=1e-4, atol=1e-6)


def test_bad_inputs_fail_with_one_line():
    X = random_rows(3, 5)
    with pytest.raises(DataError, match="one integer item per row"):
        F.leave_one_out(lambda r: r.toarray(), X, np.array([0, 1]))
    with pytest.raises(DataError, match=r"items must lie in \[0, 4\]"):
        F.linear_contributions(X, np.eye(5), np.array([0, 1, 7]))
    with pytest.raises(DataError, match="ms must be integers >= 1"):
        F.deletion_effects(lambda r: r.toarray(), X, np.array([0, 1, 2]), F.random_entries(X), ms=(0,))


def test_a_feature_explanation_reads_a_profile_and_scores_items():
    # SEMAUTO's summation: score(u, i) = sum_f P[u, f] M[i, f]; the elements are profile features, not items
    rng = np.random.default_rng(7)
    P = sp.csr_array(np.where(rng.random((5, 8)) < 0.5, rng.random((5, 8)), 0.0))
    M = sp.csr_array((rng.random((11, 8)) < 0.3).astype(float))
    items = np.arange(5)

    def scorer(rows: sp.csr_array) -> np.ndarray:
        return np.asarray(sp.csr_array(rows @ M.T).toarray())

    dense = F.linear_contributions(P, M.T.toarray(), items)
    sparse = F.linear_contributions(P, sp.csr_array(M.T), items)
    np.testing.assert_allclose(sparse.toarray(), dense.toarray())
    np.testing.assert_allclose(dense.toarray(), P.toarray() * M.toarray()[items], rtol=1e-12)
    exclude = sp.csr_array((5, 11))
    effects = F.deletion_effects(scorer, P, items, F.ranked_entries(dense), ms=(1, 2), exclude=exclude)
    one = effects[effects["m"] == 1]
    top = dense.toarray().max(axis=1)
    np.testing.assert_allclose(one["score_drop"], np.where(top > 0, top, 0.0), atol=1e-12)
