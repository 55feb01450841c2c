"""Tests for replication.metrics: hand-computed cases, loop references on random data, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import metrics
from replication import metrics as M
from replication.errors import ConfigError, DataError
from tests.helpers import problem

# ---------------------------------------------------------------------------
# A hand-worked example: 3 users, 5 items.
#
#   scores             u0: [0.9, 0.1, 0.8, 0.3, 0.5]
#                      u1: [0.2, 0.7, 0.7, 0.1, 0.9]
#                      u2: [0.5, 0.4, 0.3, 0.2, 0.1]
#   train (excluded)   u0: {0}   u1: {4}   u2: {}
#   top-3              u0: [2, 4, 3]   (0.8, 0.5, 0.3; item 0 excluded)
#                      u1: [1, 2, 0]   (0.7 tie -> lower index 1 first; item 4 excluded)
#                      u2: [0, 1, 2]
#   test (relevant)    u0: {1, 2, 3}  -> hits [T, F, T], n_rel = 3
#                      u1: {0, 3}     -> hits [F, F, T], n_rel = 2
#                      u2: {}         -> every ranking metric is nan
# ---------------------------------------------------------------------------

SCORES = np.array(
    [
        [0.9, 0.1, 0.8, 0.3, 0.5],
        [0.2, 0.7, 0.7, 0.1, 0.9],
        [0.5, 0.4, 0.3, 0.2, 0.1],
    ]
)
TRAIN = sp.csr_array(([5.0, 4.0], ([0, 1], [0, 4])), shape=(3, 5))
TEST = sp.csr_array(([4.0, 5.0, 2.0, 3.0, 5.0], ([0, 0, 0, 1, 1], [1, 2, 3, 0, 3])), shape=(3, 5))
TOPK = np.array([[2, 4, 3], [1, 2, 0], [0, 1, 2]])
NAN = np.nan
L3 = 1.0 / math.log2(3)  # discount at rank 2; rank 1 -> 1, rank 3 -> 1/log2(4) = 1/2


def test_top_k_hand_example():
    np.testing.assert_array_equal(M.top_k(SCORES, 3, exclude=TRAIN), TOPK)
    # without exclusion u0 starts with its best item 0, u1 with item 4
    np.testing.assert_array_equal(M.top_k(SCORES, 2), [[0, 2], [4, 1], [0, 1]])


def test_hits_hand_example():
    np.testing.assert_array_equal(
        M.hits(TOPK, TEST),
        [[True, False, True], [False, False, True], [False, False, False]],
    )


def test_precision_hand():
    # u0: 2 hits / 3, u1: 1 hit / 3, u2: no relevant items -> nan
    np.testing.assert_allclose(M.precision_at_k(TOPK, TEST), [2 / 3, 1 / 3, NAN])


def test_recall_hand():
    # u0: 2 of 3 relevant found, u1: 1 of 2
    np.testing.assert_allclose(M.recall_at_k(TOPK, TEST), [2 / 3, 1 / 2, NAN])
    # n_rel <= k for both users, so the normalized recall is the same here
    np.testing.assert_allclose(M.recall_at_k(TOPK, TEST, normalized=True), [2 / 3, 1 / 2, NAN])


def test_ndcg_hand():
    # u0: DCG = 1 + 1/2 (hits at ranks 1, 3); IDCG over min(3, 3) = 3 hits = 1 + 1/log2(3) + 1/2
    # u1: DCG = 1/2 (hit at rank 3);           IDCG over min(3, 2) = 2 hits = 1 + 1/log2(3)
    expected = [1.5 / (1 + L3 + 0.5), 0.5 / (1 + L3), NAN]
    np.testing.assert_allclose(M.ndcg_at_k(TOPK, TEST), expected)


def test_map_hand():
    # u0: relevant at ranks 1 and 3 of 3 relevant, k=3: (P@1 + P@3) / 3 = (1 + 2/3) / 3 = 5/9
    # u1: relevant at rank 3, 2 relevant: P@3 / min(3, 2) = (1/3) / 2 = 1/6
    np.testing.assert_allclose(M.map_at_k(TOPK, TEST), [(1 + 2 / 3) / 3, 1 / 6, NAN])


def test_f1_hand():
    # u0: P = R = 2/3 -> F1 = 2/3;  u1: P = 1/3, R = 1/2 -> 2 * (1/6) / (5/6) = 2/5
    np.testing.assert_allclose(M.f1_at_k(TOPK, TEST), [2 / 3, 2 / 5, NAN])
    # zero hits with relevant items -> 0, not nan
    rel = sp.csr_array(([1.0], ([0], [4])), shape=(1, 5))
    np.testing.assert_allclose(M.f1_at_k(np.array([[0, 1]]), rel), [0.0])


def test_mep_hand():
    # u0 explainable {3, 4}: top [2, 4, 3] -> 2/3
    # u1 explainable {}: -> 0 (defined, not nan)
    # u2 item 0 = 0.5 (> 0), item 1 = -0.2 (not > 0), item 2 explicit stored 0: top [0, 1, 2] -> 1/3
    expl = sp.csr_matrix(
        ([0.3, 0.9, 0.5, -0.2, 0.0], ([0, 0, 2, 2, 2], [3, 4, 0, 1, 2])), shape=(3, 5)
    )
    np.testing.assert_allclose(M.mep_at_k(TOPK, expl), [2 / 3, 0.0, 1 / 3])


def test_coverage_gini_novelty_hand():
    topk = np.array([[0, 1], [0, 2]])
    # items recommended {0, 1, 2} out of 4
    assert M.coverage(topk, 4) == pytest.approx(0.75)
    # counts [2, 1, 1, 0] -> sorted [0, 1, 1, 2], sum 4; Gini = sum (2i - n - 1) x_i / (n * sum)
    # = (-3*0 - 1*1 + 1*1 + 3*2) / (4 * 4) = 6/16.  Mean-abs-difference check: sum_ij |xi-xj| = 12,
    # 12 / (2 * 4^2 * mean 1) = 0.375.
    assert M.gini(topk, 4) == pytest.approx(0.375)
    # popularity [4, 2, 0, 1] over 4 users: item 0 -> -log2(4/4) = 0, item 1 -> -log2(2/4) = 1,
    # item 2 has popularity 0 -> treated as 1 -> -log2(1/4) = 2; mean over (0, 1, 0, 2) = 0.75
    assert M.novelty(topk, np.array([4, 2, 0, 1]), 4) == pytest.approx(0.75)


def test_rmse_mae_hand():
    truth = sp.csr_matrix(([4.0, 2.0], ([0, 1], [1, 2])), shape=(2, 3))
    pred = np.array([[9.0, 3.5, 9.0], [9.0, 9.0, 3.0]])  # 9s are off-truth and must be ignored
    # errors -0.5 and +1 -> RMSE sqrt((0.25 + 1) / 2), MAE (0.5 + 1) / 2
    assert M.rmse(pred, truth) == pytest.approx(math.sqrt(0.625))
    assert M.mae(pred, truth) == pytest.approx(0.75)


def test_mean_ci_hand():
    # values 1, 2, 3: mean 2, sample sd 1, t_{0.975, df=2} = 4.302652729749462 -> half-width t / sqrt(3)
    mean, hw = M.mean_ci([1.0, 2.0, NAN, 3.0])
    assert mean == pytest.approx(2.0)
    assert hw == pytest.approx(4.302652729749462 / math.sqrt(3))
    assert M.mean_ci([0.7]) == (0.7, 0.0)
    narrower = M.mean_ci([1.0, 2.0, 3.0], confidence=0.5)[1]
    assert 0 < narrower < hw


def test_evaluate_topn_hand():
    res = M.evaluate_topn(SCORES, TRAIN, TEST, ks=(3, 1))
    # nanmean over u0, u1 of the hand values above
    assert res["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert res["recall@3"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert res["ndcg@3"] == pytest.approx((1.5 / (1 + L3 + 0.5) + 0.5 / (1 + L3)) / 2)
    assert res["map@3"] == pytest.approx((5 / 9 + 1 / 6) / 2)
    assert res["f1@3"] == pytest.approx((2 / 3 + 2 / 5) / 2)
    assert res["coverage@3"] == pytest.approx(1.0)  # the evaluated users' lists cover {0,1,2,3,4}
    # k=1: lists [2], [1] of the evaluated users u0, u1 (u2 has no test item); u0 hit, u1 miss
    assert res["precision@1"] == pytest.approx(0.5)
    assert res["coverage@1"] == pytest.approx(2 / 5)
    # default popularity from train: item 0 and item 4 have 1 user, others 0 -> 1; every
    # recommended item has effective popularity 1 -> novelty log2(3 users)
    assert res["novelty@1"] == pytest.approx(math.log2(3))
    assert "mep@3" not in res

    # with a threshold of 4 only test ratings >= 4 are relevant: u0 {1, 2}, u1 {3}
    res = M.evaluate_topn(SCORES, TRAIN, TEST, ks=(3,), relevant_threshold=4.0,
                          explainable=TEST, item_popularity=np.array([3, 3, 3, 3, 3]))
    # u0 top [2, 4, 3]: 1 hit of 2 relevant; u1 top [1, 2, 0]: 0 hits of 1 relevant
    assert res["recall@3"] == pytest.approx((1 / 2 + 0) / 2)
    # explainable = TEST: u0 {1,2,3} -> 2/3, u1 {0,3} -> 1/3; u2 has no test item and is not evaluated
    assert res["mep@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert res["novelty@3"] == pytest.approx(0.0)  # every item seen by all 3 users


# ---------------------------------------------------------------------------
# slow, obviously correct references
# ---------------------------------------------------------------------------


def ref_top_k(scores, k, exclude=None):
    out = []
    for u in range(scores.shape[0]):
        banned = set() if exclude is None else {i for i in range(scores.shape[1]) if exclude[u, i] != 0}
        items = [i for i in range(scores.shape[1]) if i not in banned]
        items.sort(key=lambda i: (-scores[u, i], i))
        out.append(items[:k])
    return np.array(out)


def relevant_sets(rel):
    dense = rel.toarray()
    return [set(np.flatnonzero(row != 0)) for row in dense]


def ref_per_user(topk, rel, metric):
    out = []
    for items, r in zip(topk.tolist(), relevant_sets(rel)):
        k = len(items)
        if not r:
            out.append(np.nan)
            continue
        h = [1.0 if i in r else 0.0 for i in items]
        n_hit = sum(h)
        if metric == "precision":
            out.append(n_hit / k)
        elif metric == "recall":
            out.append(n_hit / len(r))
        elif metric == "recall_norm":
            out.append(n_hit / min(k, len(r)))
        elif metric == "ndcg":
            dcg = sum(h[j] / math.log2(j + 2) for j in range(k))
            idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(r))))
            out.append(dcg / idcg)
        elif metric == "map":
            ap = sum(sum(h[: j + 1]) / (j + 1) * h[j] for j in range(k))
            out.append(ap / min(k, len(r)))
        elif metric == "f1":
            p, rc = n_hit / k, n_hit / len(r)
            out.append(0.0 if p + rc == 0 else 2 * p * rc / (p + rc))
    return np.array(out)


def ref_gini(topk, n_items):
    counts = [0] * n_items
    for i in topk.ravel():
        counts[i] += 1
    mean = sum(counts) / n_items
    diff = sum(abs(a - b) for a in counts for b in counts)
    return diff / (2 * n_items**2 * mean)


def random_case(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = rng.integers(5, 40), rng.integers(12, 50)
    scores = np.round(rng.random((n_users, n_items)), 1)  # coarse values -> many ties
    train = sp.random(n_users, n_items, density=0.15, format="csr", random_state=seed)
    rel = sp.random(n_users, n_items, density=0.2, format="csr", random_state=seed + 1000)
    rel = sp.csr_matrix(rel.multiply(rel > 0.3))  # drop some entries so several users have none
    k = int(rng.integers(1, 11))
    return scores, train, rel, k


SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
def test_top_k_matches_reference(seed):
    scores, train, _, k = random_case(seed)
    np.testing.assert_array_equal(M.top_k(scores, k, exclude=train), ref_top_k(scores, k, train.toarray()))
    np.testing.assert_array_equal(M.top_k(scores, k), ref_top_k(scores, k))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("metric", ["precision", "recall", "recall_norm", "ndcg", "map", "f1"])
def test_per_user_metrics_match_reference(seed, metric):
    scores, train, rel, k = random_case(seed)
    topk = M.top_k(scores, k, exclude=train)
    fn = {
        "precision": M.precision_at_k,
        "recall": M.recall_at_k,
        "recall_norm": lambda t, r: M.recall_at_k(t, r, normalized=True),
        "ndcg": M.ndcg_at_k,
        "map": M.map_at_k,
        "f1": M.f1_at_k,
    }[metric]
    np.testing.assert_allclose(fn(topk, rel), ref_per_user(topk, rel, metric), rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_hits_mep_and_list_metrics_match_reference(seed):
    scores, train, rel, k = random_case(seed)
    n_users, n_items = scores.shape
    topk = M.top_k(scores, k, exclude=train)
    sets = relevant_sets(rel)
    expected_hits = np.array([[i in s for i in row] for row, s in zip(topk.tolist(), sets)])
    np.testing.assert_array_equal(M.hits(topk, sp.csr_array(rel)), expected_hits)
    np.testing.assert_allclose(M.mep_at_k(topk, rel), expected_hits.mean(axis=1))
    assert M.coverage(topk, n_items) == pytest.approx(len(set(topk.ravel().tolist())) / n_items)
    assert M.gini(topk, n_items) == pytest.approx(ref_gini(topk, n_items))
    pop = np.asarray((train != 0).sum(axis=0)).ravel()
    expected_nov = np.mean([-math.log2(max(pop[i], 1) / n_users) for i in topk.ravel()])
    assert M.novelty(topk, pop, n_users) == pytest.approx(expected_nov)
    pred = np.random.default_rng(seed).normal(size=scores.shape)
    errs = [pred[u, i] - rel[u, i] for u in range(n_users) for i in range(n_items) if rel[u, i] != 0]
    assert M.rmse(pred, rel) == pytest.approx(math.sqrt(np.mean(np.square(errs))))
    assert M.mae(pred, rel) == pytest.approx(np.mean(np.abs(errs)))


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


def test_top_k_never_returns_excluded_items():
    rng = np.random.default_rng(0)
    scores = rng.random((30, 20))
    exclude = sp.random(30, 20, density=0.5, format="csr", random_state=0)
    # give excluded items the highest scores so they would win if not masked
    scores[exclude.toarray() != 0] += 10.0
    topk = M.top_k(scores, 5, exclude=exclude)
    assert not M.hits(topk, exclude).any()


def test_top_k_nan_scores_never_beat_real_scores_or_exclusion():
    scores = np.array([[np.nan, 0.1, np.nan, 0.2]])
    exclude = sp.csr_array(([1.0], ([0], [3])), shape=(1, 4))
    # item 3 excluded; item 1 is the only finite one; NaNs follow by index
    np.testing.assert_array_equal(M.top_k(scores, 3, exclude=exclude), [[1, 0, 2]])


def test_top_k_ties_are_deterministic_lower_index_first():
    scores = np.ones((4, 10))
    scores[:, 7] = 2.0
    expected = np.tile([7, 0, 1, 2], (4, 1))
    for _ in range(3):
        np.testing.assert_array_equal(M.top_k(scores, 4), expected)
    # ties across the k-th boundary are filled by the lowest indices too
    np.testing.assert_array_equal(M.top_k(np.zeros((1, 6)), 3), [[0, 1, 2]])


def test_top_k_accepts_csr_matrix_and_csr_array():
    a = M.top_k(SCORES, 3, exclude=sp.csr_matrix(TRAIN))
    b = M.top_k(SCORES, 3, exclude=sp.csr_array(TRAIN))
    np.testing.assert_array_equal(a, b)


def test_nan_for_users_without_relevant_items():
    topk = np.array([[0, 1], [2, 3]])
    rel = sp.csr_array(([1.0], ([0], [1])), shape=(2, 4))
    for fn in (M.precision_at_k, M.recall_at_k, M.ndcg_at_k, M.map_at_k, M.f1_at_k):
        out = fn(topk, rel)
        assert out.shape == (2,)
        assert not np.isnan(out[0]) and np.isnan(out[1]), fn.__name__
    assert not np.isnan(M.mep_at_k(topk, rel)).any()


def test_normalized_recall_differs_when_more_relevant_than_k():
    # all 5 items relevant, k = 2, 2 hits: standard recall 2/5, normalized 2/min(2, 5) = 1
    topk = np.array([[3, 1]])
    rel = sp.csr_array(np.ones((1, 5)))
    assert M.recall_at_k(topk, rel)[0] == pytest.approx(0.4)
    assert M.recall_at_k(topk, rel, normalized=True)[0] == pytest.approx(1.0)


def test_gini_even_and_concentrated():
    # 4 users x 2 items each, every one of 8 items recommended exactly once -> 0
    even = np.arange(8).reshape(4, 2)
    assert M.gini(even, 8) == pytest.approx(0.0)
    # every user gets the same 10 items of a 10,000-item catalogue -> 1 - k/n = 0.999
    same = np.tile(np.arange(10), (500, 1))
    assert M.gini(same, 10_000) == pytest.approx(1 - 10 / 10_000)
    assert M.gini(same, 10_000) > 0.99


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_top_k_bad_k():
    with pytest.raises(ValueError, match=r"k must be.*\(3, 5\)"):
        M.top_k(SCORES, 0)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        M.top_k(SCORES, 6)


def test_top_k_exclude_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 5\)"):
        M.top_k(SCORES, 2, exclude=sp.csr_array((3, 4)))


def test_top_k_pads_short_lists_with_minus_one():
    exclude = sp.csr_array(np.array([[1, 1, 1, 1, 0], [0] * 5, [0] * 5]))
    top = M.top_k(SCORES, 2, exclude=exclude)
    assert top[0].tolist() == [4, -1]
    np.testing.assert_array_equal(top[1:], M.top_k(SCORES, 2)[1:])
    assert M.hits(top, sp.csr_array(np.ones((3, 5))))[0].tolist() == [True, False]


def test_candidates_restrict_the_ranking():
    candidates = sp.csr_array(np.array([[0, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]))
    top = M.top_k(SCORES, 3, candidates=candidates)
    assert set(top[0][:2]) == {1, 3} and top[0][2] == -1
    assert top[1].tolist() == [0, -1, -1] and top[2].tolist() == [-1, -1, -1]
    assert np.isnan(M.mep_at_k(top, candidates)[2])  # an empty list has no MEP
    assert M.mep_at_k(top, candidates)[0] == 1.0  # 2 listed, both explainable


def test_unrated_protocol_matches_the_metric_functions():
    rng = np.random.default_rng(3)
    train = sp.csr_array((rng.random((20, 40)) < 0.2) * rng.integers(1, 6, (20, 40)).astype(float))
    test = sp.csr_array((rng.random((20, 40)) < 0.15) * (train.toarray() == 0) * rng.integers(1, 6, (20, 40)))
    expl = sp.csr_array((rng.random((20, 40)) < 0.5).astype(float))
    scores = rng.random((20, 40))
    got = M.evaluate_topn(scores, train, test, ks=(3, 7), relevant_threshold=4.0, explainable=expl)
    rel = sp.csr_array((test.toarray() >= 4).astype(float))
    has_test = np.diff(test.indptr) > 0
    for n in (3, 7):
        topk = M.top_k(scores, n, exclude=train)
        assert got[f"map@{n}"] == pytest.approx(np.nanmean(M.map_at_k(topk, rel)))
        assert got[f"mep@{n}"] == pytest.approx(M.mep_at_k(topk, expl)[has_test].mean())


def test_mep_of_lists_reads_other_explanations_off_the_same_lists():
    """MEP against a second E from the lists of one ranking equals a full evaluation with that E (both protocols);
    asking for longer lists than were ranked is an error."""
    rng = np.random.default_rng(4)
    train = sp.csr_array((rng.random((25, 30)) < 0.2) * rng.integers(1, 6, (25, 30)).astype(float))
    test = sp.csr_array((rng.random((25, 30)) < 0.2) * (train.toarray() == 0) * rng.integers(1, 6, (25, 30)))
    scores = rng.random((25, 30))
    for candidates in M.CANDIDATES:
        per_user = M.per_user_metrics(scores, train, test, ks=(2, 5), candidates=candidates)
        for density in (0.2, 0.7):
            expl = sp.csr_array((rng.random((25, 30)) < density) * rng.random((25, 30)))
            full = M.evaluate_topn(scores, train, test, ks=(2, 5), explainable=expl, candidates=candidates)
            got = M.mep_of_lists(per_user, expl, (2, 5))
            assert got == pytest.approx({k: full[k] for k in ("mep@2", "mep@5")})
    with pytest.raises(DataError, match="fewer than k"):
        M.mep_of_lists(per_user, expl, (6,))


def test_test_items_protocol_by_hand():
    """One user, test items 0 (5 stars), 1 (2 stars), 2 (4 stars); scores rank 1, 2, 0; items 1, 0 explainable."""
    train = sp.csr_array(np.array([[0, 0, 0, 3.0]]))
    test = sp.csr_array(np.array([[5.0, 2.0, 4.0, 0]]))
    expl = sp.csr_array(np.array([[1.0, 1.0, 0, 1.0]]))
    scores = np.array([[0.1, 0.9, 0.5, 10.0]])  # item 3 scores highest but is not a test item
    got = M.evaluate_topn(scores, train, test, ks=(1, 2, 4), relevant_threshold=4.0, explainable=expl,
                          candidates="test_items")
    # list = [1, 2, 0]; relevant = {0, 2}: AP@2 = (1/2) / 2, AP@4 = (1/2 + 2/3) / 2
    assert got["map@1"] == 0.0 and got["map@2"] == pytest.approx(0.25)
    assert got["map@4"] == pytest.approx((0.5 + 2 / 3) / 2)
    # MEP over the min(n, 3) listed items: [1] -> 1, [1, 2] -> 1/2, [1, 2, 0] -> 2/3
    assert (got["mep@1"], got["mep@2"]) == (1.0, 0.5) and got["mep@4"] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="candidates"):
        M.evaluate_topn(scores, train, test, candidates="all")


def test_per_user_metrics_index_the_evaluated_users():
    frame = M.per_user_metrics(SCORES, TRAIN, TEST, ks=(3,))
    assert frame.index.tolist() == [0, 1]  # user 2 has no test item
    assert frame.loc[0, "precision@3"] == pytest.approx(2 / 3)


def test_validation_metrics():
    target = sp.csr_array(np.array([[0, 4.0, 0], [2.0, 0, 5.0]]))
    v = M.Validation(target, metric="rmse")
    rows, items = v.pairs()
    assert rows.tolist() == [0, 1, 1] and items.tolist() == [1, 0, 2]
    assert v.evaluate(np.array([4.0, 1.0, 6.0])) == pytest.approx(np.sqrt((0 + 1 + 0) / 3))  # 1 and 6 clipped
    assert not v.higher_is_better
    ranking = M.Validation(target, fold_in=sp.csr_array(np.array([[1.0, 0, 0], [0, 1.0, 0]])), metric="ndcg@10")
    scores = np.array([[9.0, 1.0, 0.0], [0.0, 9.0, 1.0]])  # fold-in items are never ranked
    assert ranking.evaluate(scores) == pytest.approx(np.nanmean([1.0, (1 + 1 / np.log2(3)) / (1 + 1 / np.log2(3))]))
    with pytest.raises(DataError, match="no interactions"):
        M.Validation(sp.csr_array((2, 3)))


def test_metric_shape_mismatch_and_empty_k():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        M.precision_at_k(TOPK[:2], TEST)  # 2 users vs 3
    with pytest.raises(ValueError, match=r"k must be >= 1.*\(3, 0\)"):
        M.ndcg_at_k(np.zeros((3, 0), dtype=int), TEST)
    with pytest.raises(ValueError, match="outside"):
        M.hits(np.array([[0], [1], [5]]), TEST)  # item 5 of 5 items
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 3\)"):
        M.rmse(np.zeros((2, 2)), sp.csr_array((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 5\)"):
        M.evaluate_topn(SCORES, TRAIN, sp.csr_array((2, 5)))
    with pytest.raises(ValueError, match=r"ks.*\(3, 5\)"):
        M.evaluate_topn(SCORES, TRAIN, TEST, ks=(0,))
    with pytest.raises(ValueError, match="confidence"):
        M.mean_ci([1.0, 2.0], confidence=1.5)


def test_break_ties_orders_only_exact_ties_at_random() -> None:
    """Distinct float32 scores keep their order (even one ulp apart); exact ties are ordered by a seeded draw, not by
    the item index; the same seed gives the same order; -inf (never listable) stays -inf."""
    close = np.nextafter(np.float32(4.5), np.float32(5))  # one float32 ulp above 4.5
    scores = np.array([[4.5, close, 4.5, 4.5, -np.inf]], dtype=np.float32)
    orders = set()
    for seed in range(20):
        broken = M.break_ties(scores, seed)
        assert np.argmax(broken[0]) == 1 and np.isneginf(broken[0, 4])
        orders.add(tuple(np.argsort(-broken[0, [0, 2, 3]])))
        np.testing.assert_array_equal(broken, M.break_ties(scores, seed))
    assert len(orders) > 1  # the tied items 0, 2, 3 do not always come in index order
    np.testing.assert_array_equal(M.top_k(M.break_ties(scores, 0), 1), [[1]])


def test_per_user_metrics_only_a_subset_gives_the_same_columns() -> None:
    full = M.per_user_metrics(SCORES, TRAIN, TEST, ks=(2, 3), explainable=TRAIN)
    some = M.per_user_metrics(SCORES, TRAIN, TEST, ks=(2, 3), explainable=TRAIN, only=["map", "mep"])
    assert list(some.columns) == ["map@2", "mep@2", "map@3", "mep@3"]
    pd.testing.assert_frame_equal(some, full[some.columns])
    np.testing.assert_array_equal(some.attrs["ranked"], full.attrs["ranked"])
    with pytest.raises(ConfigError, match="metric"):
        M.per_user_metrics(SCORES, TRAIN, TEST, ks=(2,), only=["auc"])


@pytest.mark.parametrize("candidates", metrics.CANDIDATES)
def test_a_scorer_gives_the_dense_matrix_metrics(small_blocks, candidates):
    train, test, scores = problem()
    calls = []

    def scorer(rows):
        calls.append(len(rows))
        return scores[rows]

    expl = sp.csr_array(scores > 0.6)
    dense = metrics.evaluate_topn(scores, train, test, ks=(3, 10), relevant_threshold=4.0, explainable=expl,
                                  candidates=candidates)
    blocked = metrics.evaluate_topn(scorer, train, test, ks=(3, 10), relevant_threshold=4.0, explainable=expl,
                                    candidates=candidates)
    assert blocked == dense
    assert max(calls) <= 7 and len(calls) > 1, "scored a block of users at a time"
    assert metrics.rmse(scorer, test) == metrics.rmse(scores, test)
    assert metrics.mae(scorer, test) == metrics.mae(scores, test)


def test_a_scorer_of_the_wrong_shape_is_named(small_blocks):
    train, test, scores = problem()
    with pytest.raises(DataError, match=r"the scorer returned shape \(7, 29\) for 7 user rows; expected \(7, 30\)"):
        metrics.evaluate_topn(lambda rows: scores[rows][:, 1:], train, test)


def test_scores_are_held_dense_only_up_to_the_limit(monkeypatch):
    score = lambda rows: np.zeros((3, 4))  # noqa: E731
    assert isinstance(metrics.scores_or_scorer(score, (3, 4)), np.ndarray)
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "11")
    assert metrics.scores_or_scorer(score, (3, 4)) is score


def test_tied_shares_by_hand():
    """Per list length n: the share of users whose n-th and (n+1)-th best unrated items tie (known items never
    count)."""
    import numpy as np
    import scipy.sparse as sp

    scores = np.array([[5.0, 5.0, 4.0, 3.0, 9.0],   # item 4 is known: ranked 5, 5 | 4, 3 -> tie at n=1
                       [1.0, 2.0, 2.0, 2.0, 0.0]])  # 2, 2 | 2 -> ties at n=1 and n=2
    known = sp.csr_array(np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]))
    assert metrics.tied_shares(scores, known, [1, 2, 3]) == {1: 1.0, 2: 0.5, 3: 0.0}


def test_long_tail_leaves_out_the_short_head_by_hand():
    from replication.metrics import long_tail

    # item interactions 6, 3, 2, 1, 0: total 12; the head holds >= 1/3 (4 of 12): item 0 alone (6)
    train = sp.csr_array(np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 1, 0],
                                   [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=float))
    assert long_tail(train).tolist() == [False, True, True, True, True]
    assert long_tail(train, head_share=0.6).tolist() == [False, False, True, True, True]  # 6 + 3 = 9 >= 7.2
    with pytest.raises(DataError, match="head_share"):
        long_tail(train, head_share=1.0)
