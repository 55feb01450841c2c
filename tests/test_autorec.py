"""Tests for replication.models.autorec: hand-computed forward pass and loss, masked gradients, E-AutoRec as AutoRec
plus an input block, determinism, no test input, learning on a toy low-rank matrix, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from replication import metrics
from replication.errors import ConfigError, DataError
from replication.models.autorec import AutoRec, fit_autorec, predict


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
    model = AutoRec(n_items=2, hidden=1, n_extra_inputs=2)
    with torch.no_grad():
        model.enc_weight.copy_(torch.tensor([[1.0], [2.0], [3.0], [-1.0]]))
        model.enc_bias.fill_(-0.5)
        model.dec_weight.copy_(torch.tensor([[2.0], [-1.0]]))
        model.dec_bias.copy_(torch.tensor([0.1, 0.2]))
    x, e = torch.tensor([[0.2, 0.0]]), torch.tensor([[0.4, 0.6]])
    h = 1 / (1 + np.exp(-(0.2 * 1 + 0.4 * 3 - 0.6 - 0.5)))
    np.testing.assert_allclose(model(x, e).detach().numpy(), [[2 * h + 0.1, -h + 0.2]], rtol=1e-6)
    rows, items = torch.tensor([0, 0]), torch.tensor([1, 0])
    h_t = model.encode(x, e)
    np.testing.assert_allclose(model.decode_at(h_t, rows, items).detach().numpy(), [-h + 0.2, 2 * h + 0.1], rtol=1e-6)


def test_sparse_encode_matches_dense() -> None:
    train, _ = toy_ratings()
    torch.manual_seed(0)
    model = AutoRec(train.shape[1], 5)
    dense = torch.from_numpy(train.toarray() / 5).float()
    torch.testing.assert_close(model.encode(dense.to_sparse()), model.encode(dense))


def test_first_loss_is_eq3_by_hand() -> None:
    """History's epoch-1 loss (full batch) is sum of masked squared errors + l2/2 (|W1|^2 + |W2|^2) at the start."""
    train, _ = toy_ratings()
    for loss in ("masked", "full"):
        _, hist = fit_autorec(train, hidden=4, epochs=1, l2=3.0, seed=5, batch_size=None, loss=loss)
        torch.manual_seed(5)
        ref = AutoRec(train.shape[1], 4)
        X = train.toarray() / 5
        with torch.no_grad():
            ref.dec_bias.fill_(float(train.data.mean()) / 5)
            out = ref(torch.from_numpy(X).float()).numpy()
        W1, W2 = ref.enc_weight.detach().numpy(), ref.dec_weight.detach().numpy()
        sq = (out - X) ** 2
        data = sq[X > 0].sum() if loss == "masked" else sq.sum()
        expected = data + 3.0 / 2 * ((W1 ** 2).sum() + (W2 ** 2).sum())
        assert hist["loss"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_masked_loss_never_touches_unrated_items() -> None:
    """An item nobody rated gets zero gradient under the masked loss (l2=0): its decoder row and bias stay put."""
    train, _ = toy_ratings()
    train = train.tolil()
    train[:, 3] = 0
    train = sp.csr_array(train)
    train.eliminate_zeros()
    torch.manual_seed(0)
    init = AutoRec(train.shape[1], 8).dec_weight.detach().clone()
    masked, _ = fit_autorec(train, hidden=8, epochs=3, l2=0.0, seed=0, loss="masked")
    full, _ = fit_autorec(train, hidden=8, epochs=3, l2=0.0, seed=0, loss="full")
    torch.testing.assert_close(masked.dec_weight[3].detach(), init[3])
    assert masked.dec_bias[3].item() == pytest.approx(train.data.mean() / 5)
    assert not torch.allclose(full.dec_weight[3].detach(), init[3])  # the full loss pulls it towards 0


def test_eautorec_is_autorec_with_an_extra_block() -> None:
    """With a zero extra block E-AutoRec computes exactly what AutoRec computes with the same rating weights."""
    torch.manual_seed(0)
    plain, wide = AutoRec(5, 3), AutoRec(5, 3, n_extra_inputs=5)
    with torch.no_grad():
        wide.enc_weight[:5].copy_(plain.enc_weight)
        for name in ("enc_bias", "dec_weight", "dec_bias"):
            getattr(wide, name).copy_(getattr(plain, name))
    x = torch.rand(4, 5)
    torch.testing.assert_close(wide(x, torch.zeros(4, 5)), plain(x))
    assert wide.enc_weight.shape == (10, 3)


def test_one_star_is_not_missing() -> None:
    """Ratings are scaled r/5: a single 1-star rating gives a different code than no rating at all."""
    torch.manual_seed(0)
    model = AutoRec(3, 2)
    R = sp.csr_array(np.array([[1.0, 0, 0], [0, 0, 0]]))
    x = torch.from_numpy(R.toarray() / model.scale).float()
    h = model.encode(x)
    assert not torch.allclose(h[0], h[1])


def test_deterministic_and_test_never_an_input() -> None:
    train, test = toy_ratings()
    m1, h1 = fit_autorec(train, hidden=6, epochs=4, seed=3, eval_truth=test, batch_size=16, optimizer="adam")
    m2, h2 = fit_autorec(train, hidden=6, epochs=4, seed=3, batch_size=16, optimizer="adam")  # no eval_truth
    np.testing.assert_array_equal(predict(m1, train), predict(m2, train))
    np.testing.assert_array_equal(h1["train_rmse"], h2["train_rmse"])
    assert h2["test_rmse"].isna().all() and h1["test_rmse"].notna().all()
    m3, _ = fit_autorec(train, hidden=6, epochs=4, seed=4, batch_size=16, optimizer="adam")
    assert not np.array_equal(predict(m1, train), predict(m3, train))


def test_history_matches_metrics_with_dropout() -> None:
    """With input dropout the history is a clean pass after the epoch: it equals metrics.rmse of predict."""
    train, test = toy_ratings()
    model, hist = fit_autorec(train, hidden=6, epochs=3, input_dropout=0.3, eval_truth=test)
    assert list(hist.columns) == ["epoch", "loss", "train_rmse", "test_rmse"] and len(hist) == 3
    pred = predict(model, train)
    assert hist["test_rmse"].iloc[-1] == pytest.approx(metrics.rmse(pred, test), rel=1e-5)
    assert hist["train_rmse"].iloc[-1] == pytest.approx(metrics.rmse(pred, train), rel=1e-5)
    assert pred.min() >= 1 and pred.max() <= 5


def test_learns_and_extra_input_is_used() -> None:
    train, test = toy_ratings(n_users=200, density=0.8, seed=1)
    model, hist = fit_autorec(train, hidden=8, epochs=150, lr=0.03, l2=1.0, eval_truth=test, batch_size=None)
    assert hist["train_rmse"].iloc[-1] < 0.7 * hist["train_rmse"].iloc[0]
    baseline = metrics.rmse(np.full(test.shape, train.data.mean()), test)
    assert metrics.rmse(predict(model, train), test) < 0.9 * baseline
    extra = np.random.default_rng(0).random((200, 25)) * 5
    model, _ = fit_autorec(train, extra=extra, hidden=8, epochs=2)
    assert not np.allclose(predict(model, train, extra), predict(model, train, extra * 0))


def test_bad_inputs() -> None:
    train, _ = toy_ratings()
    with pytest.raises(ConfigError):
        fit_autorec(train, loss="mse")
    with pytest.raises(ConfigError):
        fit_autorec(train, input_dropout=1.0)
    with pytest.raises(ConfigError):
        fit_autorec(train, epochs=0)
    with pytest.raises(ConfigError):
        fit_autorec(train, optimizer="sgd")
    with pytest.raises(ConfigError):
        AutoRec(10, hidden=0)
    with pytest.raises(DataError):
        fit_autorec(train.toarray())
    with pytest.raises(DataError):
        fit_autorec(train * 2)  # ratings above the scale
    with pytest.raises(DataError):
        fit_autorec(train, extra=np.zeros((3, 4)))
    model, _ = fit_autorec(train, extra=np.zeros((60, 4)), hidden=2, epochs=1)
    with pytest.raises(DataError):
        predict(model, train)  # E-AutoRec needs its extra block
