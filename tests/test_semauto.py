"""SEMAUTO: the batched model equals the literal per-user dense network, masks block gradients, users are independent."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from replication import explain, metrics
from replication.errors import ConfigError, DataError
from replication.experiments import protocols
from replication.models import semauto as S
from tests.oracles import reference_fit, reference_user


def toy(seed=0, n_users=6, n_items=9, n_features=7, density=0.5):
    rng = np.random.default_rng(seed)
    R = (rng.random((n_users, n_items)) < density) * rng.integers(1, 6, (n_users, n_items))
    R[:, 0] = np.maximum(R[:, 0], 1)  # everyone rated at least one item
    M = (rng.random((n_items, n_features)) < 0.4).astype(np.float32)
    M[0, 0] = 1
    M[n_items - 1] = 0  # an item without features
    return sp.csr_array(R.astype(np.float32)), sp.csr_array(M)


@pytest.fixture(scope="module")
def real():
    from replication import splits

    data, feats = protocols.load_data(), protocols.item_features(2)
    split = splits.holdout_split(data.ratings, 0.2, seed=1, shape=(data.n_users, data.n_items))
    return split.train, feats


def test_fast_equals_dense_reference_on_real_users(real):
    train, feats = real
    users = [0, 7, 300, 942]
    fast = S.MaskedNetworks(epochs=60).fit(train, feats.matrix)  # float32, collapsed: the setting the chapter uses
    ref = reference_fit(train, feats.matrix, users, epochs=60)
    assert np.abs(fast.profiles()[users] - ref["profiles"]).max() < 1e-5
    assert np.abs(fast.predictions().toarray()[users] - ref["pred"]).max() < 1e-5
    assert np.abs(fast.profiles(scaled=False)[users] - ref["raw"]).max() < 1e-4


@pytest.mark.parametrize("loss", ["sum", "mean"])
@pytest.mark.parametrize("collapse", [True, False])
def test_fast_equals_reference_float64(loss, collapse):
    R, M = toy()
    graph = S.build_graph(R, M, collapse=collapse)
    fast = S.MaskedNetworks(epochs=300, loss=loss, dtype=np.float64).fit(R, M, graph=graph)
    ref = reference_fit(R, M, range(R.shape[0]), epochs=300, loss=loss)
    np.testing.assert_allclose(fast.profiles(scaled=False), ref["raw"], atol=1e-10)
    np.testing.assert_allclose(fast.profiles(), ref["profiles"], atol=1e-10)
    np.testing.assert_allclose(fast.predictions().toarray(), ref["pred"], atol=1e-10)
    per_user_loss = sum(reference_user(*S.user_mask(R, M, u)[:2], epochs=1, loss=loss)["losses"][0]
                        for u in range(R.shape[0]))
    assert fast.losses[0] == pytest.approx(per_user_loss)


def test_collapse_groups_duplicate_hidden_units():
    R = sp.csr_array(np.array([[5, 3, 0]], dtype=np.float32))
    M = sp.csr_array(np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]], dtype=np.float32))
    g = S.build_graph(R, M)
    # features 0 and 1 both connect only item 0 for this user; feature 2 item 1; feature 3 items 0 and 1
    assert g.n_classes == 3 and sorted(g.class_size.tolist()) == [1, 1, 2]
    assert g.uf_class[0] == g.uf_class[1] != g.uf_class[2]
    assert g.n_edges == 5


def test_masked_gradients_are_exactly_zero():
    R, M = toy(3)
    x, mask, _, _ = S.user_mask(R, M, 2)
    W1 = torch.full(mask.shape, 0.01, dtype=torch.float64, requires_grad=True)
    W2 = torch.full(mask.T.shape, 0.01, dtype=torch.float64, requires_grad=True)
    xt, mt = torch.tensor(x), torch.tensor(mask)
    out = torch.sigmoid(torch.sigmoid(xt @ (W1 * mt)) @ (W2 * mt.T))
    (0.5 * ((out - xt) ** 2).sum()).backward()
    assert (mask == 0).any()
    assert torch.all(W1.grad[mt == 0] == 0) and torch.all(W2.grad[mt.T == 0] == 0)
    assert torch.any(W1.grad[mt == 1] != 0)
    # the hand-written backward pass of the reference is the autograd gradient: one step from 0.01 by lr
    one = reference_user(x, mask, epochs=1, lr=1.0)
    np.testing.assert_allclose(0.01 - one["W1"], W1.grad.numpy(), atol=1e-14)
    np.testing.assert_allclose(0.01 - one["W2"], W2.grad.numpy(), atol=1e-14)
    # after training, masked-out weights are untouched
    trained = reference_user(x, mask, epochs=200)
    assert np.all(trained["W1"][mask == 0] == 0.01) and np.all(trained["W2"][mask.T == 0] == 0.01)


def test_users_are_independent():
    R, M = toy(4, n_users=8)
    before = S.MaskedNetworks(epochs=100, dtype=np.float64).fit(R, M)
    changed = R.toarray()
    changed[3] = 0
    changed[3, [1, 2, 5]] = [1, 5, 2]
    after = S.MaskedNetworks(epochs=100, dtype=np.float64).fit(sp.csr_array(changed), M)
    others = [u for u in range(8) if u != 3]
    np.testing.assert_allclose(after.profiles()[others], before.profiles()[others], atol=1e-12)
    np.testing.assert_allclose(after.predictions().toarray()[others], before.predictions().toarray()[others],
                               atol=1e-12)
    assert not np.allclose(after.profiles()[3], before.profiles()[3])


def test_unmasked_equals_dense_fully_connected_network():
    R, M = toy(5)
    model = S.UnmaskedNetworks(epochs=200).fit(R, M)
    for user in range(R.shape[0]):
        x, mask, items, feats = S.user_mask(R, M, user)
        ref = reference_user(x, np.ones_like(mask), epochs=200)  # same hidden size, every connection present
        assert np.allclose(ref["pre"], ref["pre"][0])  # all hidden units stay identical
        np.testing.assert_allclose(model.profiles(scaled=False)[user, feats], ref["pre"], atol=1e-10)
        np.testing.assert_allclose(model.pred_[model.graph.ui_user == user], ref["pred"], atol=1e-10)


def test_training_is_deterministic_and_reduces_loss():
    R, M = toy(6)
    a = S.MaskedNetworks(epochs=50).fit(R, M)
    b = S.MaskedNetworks(epochs=50).fit(R, M)
    assert np.array_equal(a.profiles(), b.profiles())
    assert a.losses[-1] < a.losses[0]


def test_minmax_profiles_hand_case():
    R = sp.csr_array(np.array([[5, 1, 0]], dtype=np.float32))
    M = sp.csr_array(np.array([[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    model = S.MaskedNetworks(epochs=0, rating_scale="max").fit(R, M)
    # r / 5: before training a_f = 0.01 * sum of scaled ratings: f0 = 0.01, f1 = 0.002, f2 = 0.012; f3 absent
    np.testing.assert_allclose(model.profiles(scaled=False)[0], [0.01, 0.002, 0.012, 0.0], atol=1e-8)
    np.testing.assert_allclose(model.profiles()[0], [0.8, 0.0, 1.0, 0.0], atol=1e-6)
    # (r - 1) / 4 (the authors'): the one-star film adds nothing, f0 = f2 = 0.01, f1 = 0
    authors = S.MaskedNetworks(epochs=0).fit(R, M)
    np.testing.assert_allclose(authors.profiles(scaled=False)[0], [0.01, 0.0, 0.01, 0.0], atol=1e-8)
    np.testing.assert_allclose(authors.profiles()[0], [1.0, 0.0, 1.0, 0.0], atol=1e-6)


def fitted(P, M, R):
    """A SemAuto recommender holding given profiles (to test its scoring by hand)."""
    model = S.SemAuto(k=1)
    model.profiles_, model.item_features_, model.train_ = P, sp.csr_array(M, dtype=np.float64), R
    return model


def test_sum_and_knn_scores_hand_case():
    P = np.array([[1.0, 0.0, 0.5], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    M = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    R = sp.csr_array(np.array([[0, 0], [4, 0], [0, 5]], dtype=np.float32))
    model = fitted(P, M, R)
    np.testing.assert_allclose(model.variant("sum").score(), [[1.5, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # user 0's nearest profile is user 1 (cosine 1 / sqrt(1.25)); one neighbour: its own rating
    np.testing.assert_allclose(model.score()[0], [4.0, 0.0])
    two = model.variant(k=2).score()
    w = [1 / np.sqrt(1.25), 0.0]  # similarities of user 0 to users 1 and 2
    assert two[0, 0] == pytest.approx(w[0] * 4 / (abs(w[0]) + abs(w[1])))
    np.testing.assert_allclose(model.score(np.array([2])), model.score()[[2]])
    assert model.variant("sum").recommender == "sum" and model.recommender == "knn"


def test_recommender_trains_through_the_protocol():
    R, M = toy(3)
    model = S.SemAuto(epochs=40, k=2).fit(R, side=M)
    ref = S.MaskedNetworks(epochs=40).fit(R, M)
    np.testing.assert_allclose(model.profiles_, ref.profiles())
    assert list(model.history_["loss"]) == list(ref.losses)
    plain = S.SemAuto(epochs=40, masked=False).fit(R, side=M)
    assert set(np.unique(plain.profiles_)) <= {0.0, 1.0}  # the unmasked profile is the feature set
    with pytest.raises(ConfigError, match="item x feature|items x features"):
        S.SemAuto().fit(R)
    with pytest.raises(ConfigError, match="row indices"):
        model.score(R)  # no fold-in: SEMAUTO trains one network per fitted user


def test_explanations_use_readable_labels(real):
    from replication import datasets

    train, feats = real
    model = S.MaskedNetworks(epochs=20).fit(train, feats.matrix)
    P = model.profiles()
    data = datasets.load()
    item = int(np.argmax((feats.matrix @ P[0])))
    table = explain.feature_reasons(P, feats.matrix, feats.features, train, 0, item, n=3, titles=data.title)
    assert len(table) == 3 and table["weight"].is_monotonic_decreasing
    assert not table["label"].str.contains(r"\bm\.0", regex=True).any()
    text = explain.explanation_text(data.title(item), table)
    assert text.startswith("Recommended") and table["label"].iloc[0] in text


def test_bad_inputs_raise_clear_errors():
    R, M = toy()
    with pytest.raises(ConfigError, match="lr"):
        S.MaskedNetworks(lr=0).fit(R, M)
    with pytest.raises(ConfigError, match="epochs"):
        S.MaskedNetworks(epochs=-1).fit(R, M)
    with pytest.raises(ConfigError, match="loss"):
        S.MaskedNetworks(loss="l1").fit(R, M)
    with pytest.raises(DataError, match="items"):
        S.build_graph(R, M[:5])
    with pytest.raises(DataError, match=r"\(0, 5.0\]"):
        S.build_graph(R * 2, M)
    with pytest.raises(DataError, match="scipy.sparse"):
        S.build_graph(R.toarray(), M)
    with pytest.raises(ConfigError, match="k must be"):
        S.SemAuto(k=0)


def test_explanations_can_skip_ubiquitous_features(real):
    train, feats = real
    model = S.MaskedNetworks(epochs=5).fit(train, feats.matrix)
    P = model.profiles()
    item = int(np.argmax(feats.matrix.sum(axis=1)))  # the film with most features
    table = explain.feature_reasons(P, feats.matrix, feats.features, train, 3, item, n=5, max_items=50)
    assert (feats.features["n_items"].to_numpy()[table["feature"].to_numpy()] <= 50).all()


def test_mean_rank_correlation_hand_case():
    scores = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    assert metrics.mean_rank_correlation(scores[:1], np.array([10.0, 20.0, 30.0])) == pytest.approx(1.0)
    assert metrics.mean_rank_correlation(scores, np.array([10.0, 20.0, 30.0])) == pytest.approx(0.0)


def test_profile_correlation_matches_numpy():
    R, M = toy(7)
    model = S.MaskedNetworks(epochs=30, dtype=np.float64, init=0.01).fit(R, M, snapshots=(0,))
    g = model.graph
    corr = explain.profile_correlation(g, model.snapshots[0], model.pre_)
    for user in range(g.n_users):
        sel = g.uf_user == user
        if sel.sum() > 1:
            assert corr[user] == pytest.approx(np.corrcoef(model.snapshots[0][sel], model.pre_[sel])[0, 1])
