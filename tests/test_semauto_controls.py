"""SEMAUTO's controls and extensions: rating scaling, IDF / mean summation, the authors' word2vec enrichment (against
gensim's own prediction), explanation quality, list overlap, cold-user bins and the chapter's selections."""

import numpy as np
import pytest
import scipy.sparse as sp

from replication import explain, metrics
from replication.errors import ConfigError, DataError
from replication.models import semauto as S
from tests.oracles import reference_fit


def test_rating_scales_by_hand():
    np.testing.assert_allclose(S.scale_ratings([1, 2, 5]), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(S.scale_ratings([1, 2, 5], "max"), [0.2, 0.4, 1.0])
    with pytest.raises(ConfigError, match="rating_scale"):
        S.scale_ratings([1], "z")
    with pytest.raises(ConfigError, match="rating_scale"):
        S.SemAuto(rating_scale="log")


@pytest.mark.parametrize("rating_scale", S.RATING_SCALES)
def test_batched_equals_reference_under_both_scalings(rating_scale):
    rng = np.random.default_rng(4)
    R = sp.csr_array(((rng.random((5, 8)) < 0.6) * rng.integers(1, 6, (5, 8))).astype(np.float32))
    M = sp.csr_array((rng.random((8, 6)) < 0.5).astype(np.float32))
    fast = S.MaskedNetworks(epochs=50, dtype=np.float64, rating_scale=rating_scale).fit(R, M)
    ref = reference_fit(R, M, range(5), epochs=50, rating_scale=rating_scale)
    np.testing.assert_allclose(fast.profiles(), ref["profiles"], atol=1e-10)


def _model(P, M, R):
    model = S.SemAuto(k=1)
    model.profiles_, model.item_features_, model.train_ = P, sp.csr_array(M, dtype=np.float64), R
    model.shared_ = {}
    return model


def test_idf_and_mean_summation_by_hand():
    M = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [1, 0, 0]], dtype=np.float32)  # feature 0 on every film
    idf = S.feature_idf(M)
    np.testing.assert_allclose(idf, [0.0, np.log(4), np.log(4)])
    P = np.array([[1.0, 0.5, 0.25]])
    R = sp.csr_array(np.zeros((1, 4), dtype=np.float32))
    model = _model(P, M, R)
    np.testing.assert_allclose(model.variant("sum").score()[0], [1.5, 1.0, 1.25, 1.0])
    np.testing.assert_allclose(model.variant("sum-idf").score()[0], [0.5 * np.log(4), 0, 0.25 * np.log(4), 0],
                               rtol=1e-6)
    np.testing.assert_allclose(model.variant("sum-mean").score()[0], [0.75, 1.0, 0.625, 1.0])


def _literal_enrichment(P, own, seed, bins=10, dim=16, window=500, epochs=5):
    """The authors' scripts, one user at a time, with gensim's predict_output_word (the slow reference)."""
    from gensim.models import Word2Vec

    sentences = []
    for u in range(P.shape[0]):
        feats = np.flatnonzero(own[u])
        order = sorted(feats, key=lambda f: (-P[u, f], f))
        sentences.append([f"{f}_{min(int(1 + (bins - 1) * P[u, f]), bins)}" for f in order])
    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=1, epochs=epochs, workers=1, seed=seed,
                     sg=0, hs=0, negative=5)
    out = P.copy()
    for u, sentence in enumerate(sentences):
        seen, values, feats = set(np.flatnonzero(own[u])), [], []
        for word, _ in model.predict_output_word(sentence, topn=len(model.wv)):
            f, b = map(int, word.split("_"))
            if f not in seen and f not in feats:
                feats.append(f)
                values.append(float(b))
        if feats:
            v = np.array(values)
            span = v.max() - v.min()
            out[u, feats] = (v - v.min()) / span if span > 0 else 0.0
    return out


def test_enrichment_equals_the_authors_scripts_with_gensim():
    rng = np.random.default_rng(0)
    own = rng.random((12, 15)) < 0.4
    own[:, 0] = True
    P = np.where(own, rng.random((12, 15)), 0.0)
    P[own] = np.round(P[own], 2)
    fast = S.enrich_profiles(P, own, seed=3, dim=16, epochs=5)
    slow = _literal_enrichment(P, own, seed=3)
    np.testing.assert_allclose(fast, slow, atol=1e-9)
    np.testing.assert_array_equal(fast[own], P[own])  # the user's own features keep their weights
    assert (fast[~own] >= 0).all() and (fast[~own] <= 1).all()
    np.testing.assert_array_equal(S.enrich_profiles(P, own, seed=3, dim=16, epochs=5), fast)  # deterministic
    with pytest.raises(DataError, match="present has shape"):
        S.enrich_profiles(P, own[:, :3])
    with pytest.raises(ConfigError, match="word2vec settings"):
        S.SemAuto(w2v={"size": 3})


def test_enriched_variant_shares_the_fitted_networks():
    rng = np.random.default_rng(1)
    R = sp.csr_array(((rng.random((10, 12)) < 0.5) * rng.integers(1, 6, (10, 12))).astype(np.float32))
    M = sp.csr_array((rng.random((12, 8)) < 0.4).astype(np.float32))
    model = S.SemAuto(epochs=5, k=3, w2v={"epochs": 2, "dim": 8}).fit(R, side=M)
    enriched = model.variant(enriched=True)
    assert not model.enriched and enriched.enriched
    P = enriched.profiles()
    assert "enriched" in model.shared_ and enriched.profiles() is P  # computed once, shared by the variants
    own = np.zeros(P.shape, dtype=bool)
    own[model.graph_.uf_user, model.graph_.uf_feat] = True
    np.testing.assert_array_equal(P[own], model.profiles_[own])  # the user's own features keep their weights
    assert (model.profiles_[~own] == 0).all() and (P[~own] > 0).any()  # the enrichment adds features
    by_hand = _model(P, M, model.train_).variant("knn", 3)  # kNN on the enriched profiles, as given
    np.testing.assert_allclose(enriched.score(), by_hand.score())


def test_explanation_quality_by_hand():
    # 2 users, 3 films, 4 features; feature 3 links every film ("ubiquitous" for limit 2)
    M = sp.csr_array(np.array([[1, 0, 0, 1], [0, 1, 1, 1], [0, 0, 1, 1]], dtype=np.float32))
    feature_items = np.asarray(M.sum(axis=0)).ravel()  # [1, 1, 2, 3]
    P = np.array([[0.2, 0.5, 0.5, 1.0], [0.9, 0.0, 0.3, 0.1]])
    liked = sp.csr_array(np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32))  # user 0 liked film 0, user 1 film 2
    top = np.array([[1, 2], [0, 1]])
    q = explain.explanation_quality(P, top, M, feature_items, liked, ubiquitous_above=2)
    # authors' rule: pairs (0,1) -> f3 (1.0), (0,2) -> f3, (1,0) -> f0 (0.9), (1,1) -> f2 (0.3)
    assert q["explained"] == 1.0
    assert q["ubiquitous"] == 0.5  # the two f3 pairs
    assert q["grounded"] == pytest.approx(0.75)  # f3 links film 0 (liked by user 0); f2 links film 2 (user 1)
    assert q["most_common"] == 0.5 and q["distinct"] == 0.75 and q["tied"] == 0.0
    r = explain.explanation_quality(P, top, M, feature_items, liked, ubiquitous_above=2, limit=2)
    # without f3: (0,1) -> f1 or f2 tie at 0.5 (f1 by index), (0,2) -> f2 (0.5), (1,0) -> f0, (1,1) -> f2 (0.3)
    assert r["tied"] == 0.25 and r["ubiquitous"] == 0.0
    assert r["grounded"] == pytest.approx(0.25)  # only (1,1): f2 links film 2, liked by user 1


def test_score_share_by_frequency_by_hand():
    M = sp.csr_array(np.array([[1, 1], [0, 1]], dtype=np.float32))
    P = np.array([[0.25, 0.75]])
    share = explain.score_share_by_frequency(P, np.array([[0, 1]]), M, np.array([5, 60]))
    # film 0: 0.25 (f0, 5 films) + 0.75 (f1, 60 films); film 1: 0.75 (f1) -> 0.25 / 1.75 from 1-10
    assert share["1-10"] == pytest.approx(0.25 / 1.75) and share["51-200"] == pytest.approx(1.5 / 1.75)
    assert share.sum() == pytest.approx(1.0)


def test_list_overlap_by_hand():
    top = np.array([[0, 1], [1, 2], [3, 4]])
    # pairs: {0,1}&{1,2} -> 1/3; others 0; mean over the 3 unordered pairs
    assert metrics.list_overlap(top, 5) == pytest.approx((1 / 3) / 3)
    assert metrics.list_overlap(np.array([[0, 1], [0, 1]]), 5) == pytest.approx(1.0)
    with pytest.raises(DataError):
        metrics.list_overlap(np.array([[0, 9]]), 5)
