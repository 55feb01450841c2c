"""The one cosine-neighbour computation: similarities by hand, deterministic ties, self-exclusion, kNN scores
against a loop reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication import neighbours
from replication.errors import ConfigError, DataError
from replication.neighbours import cosine_similarity, knn_scores, top_neighbours


def test_cosine_by_hand_sparse_and_dense_agree():
    X = np.array([[1.0, 0, 1], [0, 2, 0], [1, 1, 0], [0, 0, 0]])
    S = cosine_similarity(sp.csr_array(X))
    assert S[0, 2] == pytest.approx(1 / 2)  # (1*1) / (sqrt 2 * sqrt 2)
    assert S[1, 2] == pytest.approx(2 / (2 * np.sqrt(2)))
    assert S[3].tolist() == [0, 0, 0, 0]  # an empty row has similarity 0 to everything
    np.testing.assert_allclose(S, cosine_similarity(X))
    np.testing.assert_allclose(cosine_similarity(X[:2], X), S[:2])
    with pytest.raises(DataError):
        cosine_similarity(X, X[:, :2])


def test_top_neighbours_ties_go_to_the_lower_index_and_self_is_excluded():
    S = np.array([[1.0, 0.5, 0.5, 0.9],
                  [0.5, 1.0, 0.2, 0.2],
                  [0.5, 0.2, 1.0, 0.2],
                  [0.9, 0.2, 0.2, 1.0]])
    idx, sim = top_neighbours(S, 2, exclude_self=True)
    assert idx.tolist() == [[3, 1], [0, 2], [0, 1], [0, 1]]
    assert sim[0].tolist() == [0.9, 0.5]
    idx_all, _ = top_neighbours(S, 4)
    assert idx_all[1].tolist() == [1, 0, 2, 3]
    with pytest.raises(ConfigError):
        top_neighbours(S, 4, exclude_self=True)  # only 3 others


def test_top_neighbours_matches_a_stable_sort_reference_on_random_ties():
    rng = np.random.default_rng(0)
    S = rng.integers(0, 4, size=(30, 30)).astype(float)  # many ties
    idx, _ = top_neighbours(S, 7, exclude_self=True)
    ref = S.copy()
    np.fill_diagonal(ref, -np.inf)
    np.testing.assert_array_equal(idx, np.argsort(-ref, axis=1, kind="stable")[:, :7])


def test_knn_scores_match_a_loop():
    R = sp.random(12, 9, density=0.4, random_state=2, format="csr") * 5
    idx, sim = top_neighbours(cosine_similarity(R), 3, exclude_self=True)
    out = knn_scores(idx, sim, R)
    dense = R.toarray()
    for u in range(12):
        expected = sum(sim[u, j] * dense[idx[u, j]] for j in range(3)) / max(np.abs(sim[u]).sum(), 1e-300)
        if np.abs(sim[u]).sum() == 0:
            expected = np.zeros(9)
        np.testing.assert_allclose(out[u], expected, atol=1e-12)
    with pytest.raises(DataError):
        knn_scores(idx[:, :2], sim, R)


@pytest.mark.parametrize("block_entries", [1, 40 * 3, 40 * 40])
@pytest.mark.parametrize("dense", [False, True])
def test_nearest_rows_by_blocks_equals_the_full_similarity(block_entries, dense):
    X = sp.random(40, 25, density=0.15, random_state=3, format="csr")
    X.data = np.ceil(X.data * 2)  # few distinct values: tied similarities
    X = X.toarray() if dense else X
    full = neighbours.top_neighbours(neighbours.cosine_similarity(X), 6, exclude_self=True)
    idx, sim = neighbours.nearest_rows(X, 6, block_entries=block_entries)
    np.testing.assert_array_equal(idx, full[0])
    if dense:  # BLAS sums a block's products in another order: equal to the last bit or two
        np.testing.assert_allclose(sim, full[1], rtol=1e-14)
    else:  # sparse products are exact
        np.testing.assert_array_equal(sim, full[1])
    assert (idx != np.arange(40)[:, None]).all()
