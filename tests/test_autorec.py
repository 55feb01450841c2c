"""Tests for replication.models.autorec: hand-computed forward pass and loss, the sparse path equal to the dense
reference, masked gradients, E-AutoRec as AutoRec plus an input block, early stopping on validation, determinism,
no test input, learning on a toy low-rank matrix, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from replication import metrics
from replication.errors import ConfigError, DataError
from replication.metrics import Validation
from replication.models.autorec import AutoRec, AutoRecNet
from replication.models.sparse import Encode, Pattern, SampledDot


def toy_ratings(n_users: int = 60, n_items: int = 25, density: float = 0.35, seed: int = 0):
    """Low-rank 1..5 ratings, split at random into train / test CSR matrices."""
    rng = np.random.default_rng(seed)
    full = np.clip(np.rint(3 + 1.5 * rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_items)) / 1.5), 1, 5)
    observed = rng.random((n_users, n_items)) < density
    is_test = rng.random((n_users, n_items)) < 0.2
    train = sp.csr_array(full * (observed & ~is_test))
    test = sp.csr_array(full * (observed & is_test))
    return train, test


def test_forward_by_hand() -> None:
    net = AutoRecNet(n_items=2, hidden=1, n_extra_inputs=2)
    with torch.no_grad():
        net.enc_weight.copy_(torch.tensor([[1.0], [2.0], [3.0], [-1.0]]))
        net.enc_bias.fill_(-0.5)
        net.dec_weight.copy_(torch.tensor([[2.0], [-1.0]]))
        net.dec_bias.copy_(torch.tensor([0.1, 0.2]))
    x, e = torch.tensor([[0.2, 0.0]]), torch.tensor([[0.4, 0.6]])
    h = 1 / (1 + np.exp(-(0.2 * 1 + 0.4 * 3 - 0.6 - 0.5)))
    np.testing.assert_allclose(net(x, e).detach().numpy(), [[2 * h + 0.1, -h + 0.2]], rtol=1e-6)
    pattern = Pattern(torch.tensor([0, 0]), torch.tensor([0, 1]), 1, 2)
    h_t = net.encode(x, e)
    np.testing.assert_allclose(net.decode_at(h_t, pattern).detach().numpy(), [2 * h + 0.1, -h + 0.2], rtol=1e-6)
    sparse_h = net.encode_rows(Pattern(torch.tensor([0]), torch.tensor([0]), 1, 2), torch.tensor([0.2]), e)
    torch.testing.assert_close(sparse_h, h_t)


def test_sparse_products_and_their_gradients_match_the_dense_ones() -> None:
    torch.manual_seed(0)
    h = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    W = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    rows, items = torch.tensor([0, 0, 2, 3, 6, 6]), torch.tensor([1, 8, 1, 3, 0, 8])  # CSR order
    pattern = Pattern(rows, items, 7, 9)
    weights = torch.randn(6, dtype=torch.float64)
    (SampledDot.apply(h, W, pattern) * weights).sum().backward()
    gh, gW = h.grad.clone(), W.grad.clone()
    h.grad, W.grad = None, None
    ((h @ W.T)[rows, items] * weights).sum().backward()
    torch.testing.assert_close(gh, h.grad)
    torch.testing.assert_close(gW, W.grad)
    values = torch.rand(6, dtype=torch.float64)
    X = torch.zeros(7, 9, dtype=torch.float64).index_put_((rows, items), values)
    W.grad = None
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    out = Encode.apply(W, b, values, pattern, None, None)
    torch.testing.assert_close(out, X @ W + b)
    G = torch.arange(28.0, dtype=torch.float64).reshape(7, 4)
    (out * G).sum().backward()
    torch.testing.assert_close(W.grad, X.T @ G)
    torch.testing.assert_close(b.grad, G.sum(0))
    # with an extra dense block E: the weight is [W_r; W_e] and grad W_e = E^T G
    E = torch.rand(7, 3, dtype=torch.float64)
    We = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    out = Encode.apply(We, b, values, pattern, E, None)
    torch.testing.assert_close(out, X @ We[:9] + E @ We[9:] + b)
    (out * G).sum().backward()
    torch.testing.assert_close(We.grad, torch.cat([X.T @ G, E.T @ G]))
    # Eq. 4 read as a sum: E (as wide as X) goes through the same block, z = (X + E) W + b, grad W = (X + E)^T G
    E_sum = torch.rand(7, 9, dtype=torch.float64)
    W.grad = None
    out = Encode.apply(W, b, values, pattern, E_sum, None)
    torch.testing.assert_close(out, (X + E_sum) @ W + b)
    (out * G).sum().backward()
    torch.testing.assert_close(W.grad, (X + E_sum).T @ G)
    # the two products, with empty rows first, in the middle and last (rows 1, 4, 5) and empty columns
    wide = torch.randn(9, 150, dtype=torch.float64)
    torch.testing.assert_close(pattern.times(values, wide), X @ wide)
    torch.testing.assert_close(pattern.t_times(values, torch.ones(7, 3, dtype=torch.float64)),
                               X.T @ torch.ones(7, 3, dtype=torch.float64))
    late = Pattern(torch.tensor([2, 2]), torch.tensor([4, 5]), 4, 6)  # rows 0, 1, 3 and columns 0-3 empty
    Y = torch.zeros(4, 6, dtype=torch.float64).index_put_((torch.tensor([2, 2]), torch.tensor([4, 5])),
                                                          values[:2])
    torch.testing.assert_close(late.times(values[:2], wide[:6]), Y @ wide[:6])
    torch.testing.assert_close(late.t_times(values[:2], wide[:4]), Y.T @ wide[:4])


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=16, optimizer="adam", lr=0.01),
                                    dict(input_dropout=0.3), dict(extra=True), dict(extra=True, combine="sum")])
def test_sparse_path_trains_like_the_dense_reference(kwargs) -> None:
    """Same seed, same data: the sparse path (embedding bag + sampled decoder) gives the dense path's training."""
    train, _ = toy_ratings()
    extra = np.random.default_rng(0).random((60, 25)) * 5 if kwargs.pop("extra", False) else None
    fits = [AutoRec(hidden=6, epochs=5, seed=2, sparse=s, device="cpu", **kwargs).fit(train, side=extra)
            for s in (True, False)]
    np.testing.assert_allclose(fits[0].score(), fits[1].score(), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(fits[0].history_["loss"], fits[1].history_["loss"], rtol=1e-4)


@pytest.mark.parametrize("extra", [None, "dense", "mixed"])
def test_validation_pass_is_reused_by_the_next_epoch_without_changing_training(monkeypatch, extra) -> None:
    """Full batch: the encoder pass of each epoch's validation is the next epoch's training forward (same weights,
    same inputs), so it runs once instead of twice; the training is bit-identical to one without validation."""
    import replication.models.autorec as autorec_module

    from replication.models.autorec import MixedRatings

    train, valid = toy_ratings()
    mixing = sp.csr_array(np.random.default_rng(0).random((60, 60)) < 0.1) / 6.0
    side = {None: None, "dense": np.random.default_rng(0).random((60, 25)) * 5,
            "mixed": MixedRatings(mixing, train)}[extra]
    calls = {"n": 0}
    forward = autorec_module.Encode.forward

    def counted(ctx, weight, bias, values, pattern, extra, memo):
        calls["n"] += memo is None  # an encoder pass actually computed
        return forward(ctx, weight, bias, values, pattern, extra, memo)

    monkeypatch.setattr(autorec_module.Encode, "forward", staticmethod(counted))
    plain = AutoRec(hidden=5, epochs=6, seed=1, device="cpu").fit(train, side=side)
    assert calls["n"] == 6  # one encoder pass per training epoch
    calls["n"] = 0
    validated = AutoRec(hidden=5, epochs=6, seed=1, device="cpu").fit(
        train, valid=Validation(valid, metric="rmse"), side=side)
    assert calls["n"] == 6 + 1  # the first training epoch, then one pass per validation (reused by the next epoch)
    np.testing.assert_array_equal(plain.history_["loss"].to_numpy(), validated.history_["loss"].to_numpy())


@pytest.mark.parametrize("kwargs", [dict(), dict(sparse=False), dict(batch_size=16, optimizer="adam", lr=0.01),
                                    dict(combine="sum"), dict(combine="sum", sparse=False)])
def test_mixed_ratings_input_trains_like_the_dense_block(kwargs) -> None:
    """An extra block given as M @ R (never formed) trains and scores like the same block given densely: full
    batch and mini-batch (rows of M), sparse and dense paths, all users and a subset."""
    from replication.models.autorec import MixedRatings

    train, _ = toy_ratings()
    rng = np.random.default_rng(1)
    M = sp.csr_array(rng.random((60, 60)) * (rng.random((60, 60)) < 0.1))
    mixed = MixedRatings(M, train)
    fits = [AutoRec(hidden=6, epochs=5, seed=2, device="cpu", **kwargs).fit(train, side=side)
            for side in (mixed, (M @ train).toarray())]
    np.testing.assert_allclose(fits[0].score(), fits[1].score(), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(fits[0].history_["loss"], fits[1].history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(fits[0].score(np.array([7, 3])), fits[1].score()[[7, 3]], rtol=2e-4, atol=2e-4)
    with pytest.raises(DataError, match="side.mixing"):
        AutoRec(epochs=1, device="cpu").fit(train, side=MixedRatings(M[:, :50], train))


def test_first_loss_is_eq3_by_hand() -> None:
    """History's epoch-1 loss (full batch) is sum of masked squared errors + l2/2 (|W1|^2 + |W2|^2) at the start."""
    train, _ = toy_ratings()
    for loss in ("masked", "full"):
        model = AutoRec(hidden=4, epochs=1, l2=3.0, seed=5, loss=loss, device="cpu").fit(train)
        torch.manual_seed(5)
        ref = AutoRecNet(train.shape[1], 4)
        X = train.toarray() / 5
        with torch.no_grad():
            ref.dec_bias.fill_(float(train.data.mean()) / 5)
            out = ref(torch.from_numpy(X).float()).numpy()
        W1, W2 = ref.enc_weight.detach().numpy(), ref.dec_weight.detach().numpy()
        sq = (out - X) ** 2
        data = sq[X > 0].sum() if loss == "masked" else sq.sum()
        expected = data + 3.0 / 2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        assert model.history_["loss"].iloc[0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("batch_size", [None, 25])
def test_training_follows_the_gradient_of_eq3(batch_size) -> None:
    """The penalty's gradient is added in place after the data term's; a plain autograd loop over the dense Eq. 3
    (penalty differentiated by autograd, scaled by each batch's share of users) reaches the same weights."""
    train, _ = toy_ratings()
    model = AutoRec(hidden=4, epochs=3, l2=2.0, optimizer="adam", lr=0.05, batch_size=batch_size, seed=3,
                    device="cpu").fit(train)
    torch.manual_seed(3)
    ref = AutoRecNet(train.shape[1], 4)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        ref.dec_bias.fill_(float(train.data.mean()) / 5)
    opt = torch.optim.Adam(ref.parameters(), lr=0.05)
    X = torch.from_numpy(train.toarray() / 5).float()
    torch.manual_seed(3)  # the loop's re-seed
    for _ in range(3):
        if batch_size is None:
            batches = [torch.arange(60)]
        else:
            order = torch.randperm(60, generator=generator)
            batches = [order[b:b + batch_size] for b in range(0, 60, batch_size)]
        for users in batches:
            x = X[users]
            objective = (((ref(x) - x) * (x > 0)) ** 2).sum() + 2.0 * ref.penalty() * len(users) / 60
            opt.zero_grad()
            objective.backward()
            opt.step()
    for name in ("enc_weight", "dec_weight", "enc_bias", "dec_bias"):
        torch.testing.assert_close(getattr(model.network_, name), getattr(ref, name), rtol=1e-4, atol=1e-5)


def test_minibatch_penalty_is_scaled_so_an_epoch_sums_to_eq3() -> None:
    """Two batches of two users, equal numbers of ratings: with a negligible step the epoch's loss (the mean of the
    two batch objectives) is half of Eq. 3 at the start, i.e. each batch carries half of the penalty."""
    R = sp.csr_array(np.array([[5, 0, 3, 1], [0, 2, 4, 1], [1, 1, 0, 5], [4, 0, 2, 2]], dtype=np.float32))
    model = AutoRec(hidden=3, epochs=1, l2=7.0, batch_size=2, optimizer="adam", lr=1e-12, seed=1, device="cpu")
    model.fit(R)
    torch.manual_seed(1)
    ref = AutoRecNet(4, 3)
    X = R.toarray() / 5
    with torch.no_grad():
        ref.dec_bias.fill_(float(R.data.mean()) / 5)
        out = ref(torch.from_numpy(X).float()).numpy()
    eq3 = ((out - X) ** 2)[X > 0].sum() + 7.0 * ref.penalty().item()
    assert model.history_["loss"].iloc[0] == pytest.approx(eq3 / 2, rel=1e-5)


def test_masked_loss_never_touches_unrated_items() -> None:
    """An item nobody rated gets zero gradient under the masked loss (l2=0): its decoder row and bias stay put."""
    train, _ = toy_ratings()
    train = train.tolil()
    train[:, 3] = 0
    train = sp.csr_array(train)
    train.eliminate_zeros()
    torch.manual_seed(0)
    init = AutoRecNet(train.shape[1], 8).dec_weight.detach().clone()
    masked = AutoRec(hidden=8, epochs=3, l2=0.0, seed=0, device="cpu").fit(train).network_
    full = AutoRec(hidden=8, epochs=3, l2=0.0, seed=0, loss="full", device="cpu").fit(train).network_
    torch.testing.assert_close(masked.dec_weight[3].detach(), init[3])
    assert masked.dec_bias[3].item() == pytest.approx(train.data.mean() / 5)
    assert not torch.allclose(full.dec_weight[3].detach(), init[3])  # the full loss pulls it towards 0


def test_eautorec_is_autorec_with_an_extra_block() -> None:
    """With a zero extra block E-AutoRec computes exactly what AutoRec computes with the same rating weights."""
    torch.manual_seed(0)
    plain, wide = AutoRecNet(5, 3), AutoRecNet(5, 3, n_extra_inputs=5)
    with torch.no_grad():
        wide.enc_weight[:5].copy_(plain.enc_weight)
        for name in ("enc_bias", "dec_weight", "dec_bias"):
            getattr(wide, name).copy_(getattr(plain, name))
    x = torch.rand(4, 5)
    torch.testing.assert_close(wide(x, torch.zeros(4, 5)), plain(x))
    assert wide.enc_weight.shape == (10, 3)


def test_eq4_as_a_sum_feeds_r_plus_e_through_one_block() -> None:
    """combine="sum": no second weight block; the codes are those of the plain network fed r + e, by hand and in
    the dense and sparse paths."""
    torch.manual_seed(0)
    plain, summed = AutoRecNet(5, 3), AutoRecNet(5, 3, n_extra_inputs=5, combine="sum")
    with torch.no_grad():
        for name in ("enc_weight", "enc_bias", "dec_weight", "dec_bias"):
            getattr(summed, name).copy_(getattr(plain, name))
    assert summed.enc_weight.shape == (5, 3)
    x, e = torch.tensor([[0.2, 0, 0.8, 0, 0]]), torch.rand(1, 5)
    torch.testing.assert_close(summed(x, e), plain(x + e))
    pattern = Pattern(torch.tensor([0, 0]), torch.tensor([0, 2]), 1, 5)
    torch.testing.assert_close(summed.encode_rows(pattern, torch.tensor([0.2, 0.8]), e), plain.encode(x + e))
    with pytest.raises(ConfigError, match="n_extra_inputs = n_items"):
        AutoRecNet(5, 3, n_extra_inputs=4, combine="sum")


def test_one_star_is_not_missing() -> None:
    """Ratings are scaled r/5: a single 1-star rating gives a different code than no rating at all."""
    torch.manual_seed(0)
    net = AutoRecNet(3, 2)
    h = net.encode(torch.tensor([[0.2, 0, 0], [0, 0, 0]]))
    assert not torch.allclose(h[0], h[1])


def test_deterministic_per_seed() -> None:
    train, _ = toy_ratings()
    fit = dict(hidden=6, epochs=4, seed=3, batch_size=16, optimizer="adam", device="cpu")
    m1 = AutoRec(**fit).fit(train)
    m2 = AutoRec(**fit).fit(train)
    np.testing.assert_array_equal(m1.score(), m2.score())
    m3 = AutoRec(**{**fit, "seed": 4}).fit(train)
    assert not np.array_equal(m1.score(), m3.score())


def test_validation_picks_the_best_epoch_and_stops_early() -> None:
    train, valid = toy_ratings(n_users=120, seed=2)
    v = Validation(valid, metric="rmse")
    model = AutoRec(hidden=8, epochs=200, patience=5, lr=0.05, l2=0.0, device="cpu", seed=0).fit(train, valid=v)
    hist = model.history_
    best = hist.attrs["best_epoch"]
    assert hist["valid"].iloc[best - 1] == hist["valid"].min()
    assert hist.attrs["stopped_early"] and len(hist) == best + 5
    assert v.evaluate(model.predict()[v.pairs()]) == pytest.approx(hist["valid"].min(), rel=1e-5)
    assert list(hist.columns) == ["epoch", "loss", "train_rmse", "weight", "valid", "seconds"]


def test_learns_and_extra_input_is_used() -> None:
    train, test = toy_ratings(n_users=200, density=0.8, seed=1)
    model = AutoRec(hidden=8, epochs=150, lr=0.03, l2=1.0, device="cpu").fit(train)
    hist = model.history_
    assert hist["train_rmse"].iloc[-1] < 0.7 * hist["train_rmse"].iloc[0]
    baseline = metrics.rmse(np.full(test.shape, train.data.mean()), test)
    assert metrics.rmse(model.predict(), test) < 0.9 * baseline
    extra = np.random.default_rng(0).random((200, 25)) * 5
    model = AutoRec(hidden=8, epochs=2, device="cpu").fit(train, side=extra)
    assert model.name == "E-AutoRec"
    with torch.no_grad():
        h = model.network_.encode_rows(model.rows_.pattern, model.rows_.values, model.extra_)
        h0 = model.network_.encode_rows(model.rows_.pattern, model.rows_.values, model.extra_ * 0)
    assert not torch.allclose(h, h0)


def test_scores_for_selected_users_and_fold_in_rows() -> None:
    train, _ = toy_ratings()
    model = AutoRec(hidden=4, epochs=2, device="cpu").fit(train)
    np.testing.assert_allclose(model.score(np.array([3, 5])), model.score()[[3, 5]], rtol=1e-5)
    np.testing.assert_allclose(model.score(train[[3, 5]]), model.score()[[3, 5]], rtol=1e-5)
    assert model.predict().min() >= 1 and model.predict().max() <= 5
    eauto = AutoRec(hidden=2, epochs=1, device="cpu").fit(train, side=np.zeros((60, 4)))
    with pytest.raises(ConfigError):
        eauto.score(train[[0]])  # E-AutoRec needs the fitted users' E rows


def test_bad_inputs() -> None:
    train, _ = toy_ratings()
    for bad in (dict(loss="mse"), dict(input_dropout=1.0), dict(epochs=0), dict(optimizer="sgd"), dict(hidden=0),
                dict(patience=0), dict(combine="product")):
        with pytest.raises(ConfigError):
            AutoRec(**bad)
    with pytest.raises(DataError):
        AutoRec().fit(train.toarray())
    with pytest.raises(DataError):
        AutoRec().fit(train * 2)  # ratings above the scale
    with pytest.raises(DataError):
        AutoRec().fit(train, side=np.zeros((3, 4)))
    with pytest.raises(ConfigError):
        AutoRec().score()  # not fitted
