"""Tests for replication.models.vae: Mult-DAE, Mult-VAE and C-VAE under the one protocol."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from replication import metrics
from replication.errors import ConfigError, DataError
from replication.experiments import protocols
from replication.metrics import Validation
from replication.models import sparse, vae
from replication.models.vae import MultVAE

torch.set_num_threads(1)


def two_tribes(n_users=80, n_items=40, seed=0):
    """Users of tribe 0 watch items 0..19, tribe 1 items 20..39 (random 40% of them). Conditions: item parity."""
    rng = np.random.default_rng(seed)
    tribe = np.arange(n_users) % 2
    mask = rng.random((n_users, n_items)) < 0.4
    block = (np.arange(n_items)[None, :] // (n_items // 2)) == tribe[:, None]
    X = (mask & block).astype(np.float32)
    X[np.arange(n_users), tribe * (n_items // 2)] = 1.0  # no empty rows
    conds = np.stack([np.arange(n_items) % 2 == 0, np.arange(n_items) % 2 == 1], axis=1).astype(np.float32)
    return sp.csr_array(X), conds, tribe


def split_rows(X, seed=0):
    """Hold out ~20% of each row's items (at least one stays in)."""
    rng = np.random.default_rng(seed)
    dense = X.toarray()
    out = (rng.random(dense.shape) < 0.2) & (dense > 0)
    out[np.arange(len(dense)), dense.argmax(axis=1)] = False
    return sp.csr_array(np.where(out, 0, dense).astype(np.float32)), sp.csr_array(out.astype(np.float32))


SMALL = dict(hidden=16, latent=4, batch_size=16, device="cpu", patience=None)


# ---------------------------------------------------------------- network


def dense(rows: vae.SparseRows) -> torch.Tensor:
    """The dense matrix of a SparseRows batch (tests only: the network never builds it)."""
    out = torch.zeros(rows.n_rows, rows.width, dtype=rows.values.dtype)
    out[rows.rows, rows.cols] = rows.values
    return out


class DenseReference(vae.VAENet):
    """The slow dense reference: Linear over the dense [dropout(x / ||x||), onehot(c)] input. Its dropout draws one
    uniform per non-zero in row-major order (torch.nonzero's), as the sparse network does, so that both consume
    torch's random stream identically and a training with either gives the same numbers up to float rounding."""

    def hidden_input(self, x, condition: torch.Tensor | None = None) -> torch.Tensor:
        """The first layer's pre-activation from the dense input (SparseRows are densified first)."""
        x = dense(x) if isinstance(x, vae.SparseRows) else x
        xn = x / x.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
        if self.training and self.dropout_rate > 0:
            rows, cols = torch.nonzero(x, as_tuple=True)
            scale = torch.zeros_like(x)
            scale[rows, cols] = (torch.rand(rows.shape) >= self.dropout_rate).float()
            xn = xn * scale / (1.0 - self.dropout_rate)
        onehot = torch.zeros(x.shape[0], self.n_conditions)
        if condition is not None and self.n_conditions:
            given = torch.nonzero(condition >= 0, as_tuple=True)[0]
            onehot[given, condition[given]] = 1.0
        return torch.cat([xn, onehot], dim=1) @ self.enc_weight + self.enc_bias


def dense_loss_terms(logits: torch.Tensor, target, mu: torch.Tensor,
                     logvar: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The multinomial NLL and KL on a dense target (the reference for vae.loss_terms)."""
    target = dense(target) if isinstance(target, vae.SparseRows) else target
    nll = -(F.log_softmax(logits, dim=1) * target).sum(dim=1).mean()
    kl = torch.zeros(()) if logvar is None else (0.5 * (-logvar + logvar.exp() + mu.pow(2) - 1.0).sum(dim=1)).mean()
    return nll, kl


def dense_condition_targets(x, condition: torch.Tensor, item_mask: torch.Tensor) -> torch.Tensor:
    """C-VAE targets on dense rows (the reference for vae.condition_targets)."""
    x = dense(x) if isinstance(x, vae.SparseRows) else x
    return x * torch.cat([item_mask, torch.ones(1, item_mask.shape[1])])[condition]


def reference_copy(net: vae.VAENet) -> DenseReference:
    """A DenseReference holding a copy of `net`'s weights."""
    ref = DenseReference(**net.config())
    ref.load_state_dict(net.state_dict())
    return ref.train(net.training)


def batch_with_conditions(n_rows: int = 6, n_items: int = 12, n_conditions: int = 4,
                          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Binary rows (one empty) with a per-row condition (-1 = none) and a C-VAE target mask."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_rows, n_items, generator=gen) < 0.4).float()
    x[0] = 0.0  # an empty row
    c = torch.tensor([-1, 0, 3, 2, -1, 0][:n_rows])
    mask = (torch.rand(n_conditions, n_items, generator=gen) < 0.5).float()
    return x, c, mask


def test_sparse_rows_from_scipy_and_from_dense_agree():
    x, _, _ = batch_with_conditions()
    a = vae.SparseRows.from_scipy(sp.csr_array(x.numpy()))
    b = vae.SparseRows.of(x)
    for u, v in zip(a[:4], b[:4]):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
    assert a.width == b.width == 12 and a.n_rows == 6
    torch.testing.assert_close(dense(a), x, rtol=0, atol=0)
    ratings = sp.csr_array(x.numpy() * 4.0)
    torch.testing.assert_close(vae.SparseRows.from_scipy(ratings, binary=True).values, a.values, rtol=0, atol=0)


def test_sparse_first_layer_equals_dense_reference():
    torch.manual_seed(0)
    model = vae.VAENet(12, hidden=7, latent=3, n_conditions=4).eval()
    x, c, _ = batch_with_conditions()
    reference = reference_copy(model).hidden_input(x, c)
    torch.testing.assert_close(model.hidden_input(x, c), reference)
    torch.testing.assert_close(model.hidden_input(vae.SparseRows.of(x), c), reference)


@pytest.mark.parametrize("variational", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_training_step_outputs_and_gradients_equal_the_dense_reference(variational, dropout):
    """Forward outputs, the loss and every parameter's gradient of one training step (dropout and the
    reparameterisation noise included: the same seed gives the same masks and noise) against the dense Linear
    reference with a dense target, to float rounding."""
    torch.manual_seed(0)
    model = vae.VAENet(12, hidden=7, latent=3, n_conditions=4, variational=variational, dropout=dropout).train()
    ref = reference_copy(model)
    x, c, mask = batch_with_conditions()
    results = []
    for net, targets, terms in ((model, vae.condition_targets, vae.loss_terms),
                                (ref, dense_condition_targets, dense_loss_terms)):
        torch.manual_seed(5)
        logits, mu, logvar = net(vae.SparseRows.of(x) if net is model else x, c)
        nll, kl = terms(logits, targets(x, c, mask), mu, logvar)
        (nll + 0.3 * kl).backward()
        results.append((logits, mu, nll, kl, {name: p.grad for name, p in net.named_parameters()}))
    (l1, m1, n1, k1, g1), (l2, m2, n2, k2, g2) = results
    for a, b in ((l1, l2), (m1, m2), (n1, n2), (k1, k2)):
        torch.testing.assert_close(a, b)
    assert g1.keys() == g2.keys()
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], msg=name)


def test_first_layer_gradient_passes_gradcheck():
    """The custom backward (the transposed lookup-and-sum) against finite differences, in float64."""
    gen = torch.Generator().manual_seed(0)
    x = vae.SparseRows.of((torch.rand(5, 9, generator=gen) < 0.4).double())
    cond_rows, cond_cols = torch.tensor([1, 3]), torch.tensor([9, 10])
    weight = torch.randn(11, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, b: sparse.first_layer(x, x.values, cond_rows, cond_cols, w, b),
        (weight, bias))


def test_dropout_keeps_expected_scale_and_only_touches_observed_entries():
    torch.manual_seed(0)
    model = vae.VAENet(50, hidden=3, latent=2, dropout=0.5)
    x = torch.zeros(2000, 50)
    x[:, :4] = 1.0
    model.enc_weight.data = torch.zeros(50, 3)
    model.enc_weight.data[:, 0] = 1.0  # first hidden unit sums the (normalised, dropped) inputs
    model.enc_bias.data.zero_()
    model.train()
    h = model.hidden_input(x)[:, 0]
    # each row: sum of 4 entries 0.5 (=1/sqrt 4), each kept w.p. 0.5 and scaled by 2 -> mean 2.0
    assert abs(h.mean().item() - 2.0) < 0.05
    assert set(np.unique(h.detach().numpy()).round(6)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    model.eval()
    torch.testing.assert_close(model.hidden_input(x)[:, 0], torch.full((2000,), 2.0))


def test_gradient_is_zero_for_items_and_conditions_absent_from_the_batch():
    torch.manual_seed(0)
    model = vae.VAENet(10, hidden=5, latent=2, n_conditions=3, dropout=0.0)
    x = torch.zeros(2, 10)
    x[0, [1, 2]] = 1.0
    x[1, [2, 5]] = 1.0
    logits, mu, logvar = model(x, torch.tensor([0, -1]))
    nll, kl = vae.loss_terms(logits, x, mu, logvar)
    (nll + kl).backward()
    grad_rows = model.enc_weight.grad.abs().sum(dim=1)
    used = {1, 2, 5, 10 + 0}
    for row in range(13):
        assert (grad_rows[row] > 0) == (row in used), row


def test_loss_terms_match_hand_computation():
    logits = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, np.log(2.0)], [0.0, 0.0]])
    nll, kl = vae.loss_terms(logits, target, mu, logvar)
    lse = np.log(1 + np.e + np.e ** 2)
    expected_nll = ((lse - 0.0) + (lse - 2.0) + np.log(3.0)) / 2
    # KL of N(mu, s^2) from N(0,1) per dimension: 0.5 * (s^2 + mu^2 - 1 - log s^2)
    expected_kl = (0.5 * (1 + 1 - 1 - 0) + 0.5 * (2 - 1 - np.log(2.0))) / 2
    assert nll.item() == pytest.approx(expected_nll, rel=1e-6)
    assert kl.item() == pytest.approx(expected_kl, rel=1e-6)
    nll_dae, kl_dae = vae.loss_terms(logits, target, mu, None)
    assert kl_dae.item() == 0.0 and nll_dae.item() == pytest.approx(expected_nll, rel=1e-6)


def test_training_mode_samples_by_reparameterization():
    """In training mode z = mu + eps * exp(logvar / 2) with eps ~ N(0, I) drawn right after the encoder."""
    torch.manual_seed(2)
    model = vae.VAENet(8, hidden=6, latent=3, dropout=0.0).train()
    with torch.no_grad():
        model.enc_out.bias[3:] = torch.log(torch.tensor([4.0, 0.25, 1.0]))  # logvar: sigma = 2, 0.5, 1
    x = (torch.rand(5, 8) < 0.5).float()
    x[:, 0] = 1
    torch.manual_seed(7)
    logits, mu, logvar = model(x)
    torch.manual_seed(7)
    eps = torch.randn_like(mu)
    torch.testing.assert_close(logits, model.decode(mu + eps * torch.exp(0.5 * logvar)))
    assert not torch.allclose(logits, model.decode(mu))


def test_eval_mode_is_deterministic_and_uses_the_mean():
    torch.manual_seed(1)
    model = vae.VAENet(8, hidden=6, latent=3).eval()
    x = (torch.rand(4, 8) < 0.5).float()
    x[:, 0] = 1
    a, mu, _ = model(x)
    b, _, _ = model(x)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, model.decode(mu))


# ---------------------------------------------------------------- C-VAE data


def test_expand_conditions_hand_case():
    train = sp.csr_array(np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=np.float32))
    item_conditions = np.array([[1, 0], [0, 1], [1, 1]])
    users, conds = vae.expand_conditions(train, item_conditions)
    assert users.tolist() == [0, 1, 2, 0, 1, 1]
    assert conds.tolist() == [-1, -1, -1, 0, 0, 1]


def test_condition_targets_keep_only_items_with_the_condition():
    x = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    out = vae.condition_targets(x, torch.tensor([0, -1, 1]), mask)
    assert dense(out).tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    assert out.indptr.tolist() == [0, 1, 4, 6]


# ---------------------------------------------------------------- training


def test_fit_is_deterministic_and_keeps_the_best_epoch():
    X, _, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=1)
    valid = Validation(held_out, fold_in=fold_in, metric="ndcg@100")
    m1, m2 = (MultVAE(epochs=6, seed=3, **SMALL).fit(X, valid=valid) for _ in range(2))
    h1, h2 = m1.history_, m2.history_
    np.testing.assert_array_equal(h1["loss"].to_numpy(), h2["loss"].to_numpy())
    np.testing.assert_array_equal(m1.score(fold_in), m2.score(fold_in))
    best = h1.attrs["best_epoch"]
    assert h1.loc[h1["epoch"] == best, "valid"].item() == pytest.approx(h1["valid"].max())
    assert valid.evaluate(m1.score(fold_in)) == pytest.approx(h1["valid"].max(), abs=1e-9)


def fit_dense_reference(monkeypatch, model: MultVAE, *args, **kwargs) -> MultVAE:
    """`model.fit(...)` with the dense reference network, dense targets and the dense loss swapped in."""
    with monkeypatch.context() as patch:
        patch.setattr(MultVAE, "_new_network", lambda self, n_items, n_conditions, device: DenseReference(
            n_items, self.hidden, self.latent, n_conditions, self.variational, self.dropout))
        patch.setattr(vae, "loss_terms", dense_loss_terms)
        patch.setattr(vae, "condition_targets", dense_condition_targets)
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize("kind", ["Mult-DAE", "Mult-VAE", "C-VAE"])
def test_training_run_equals_the_dense_reference(monkeypatch, kind):
    """A whole short training (dropout, noise, beta annealing, conditioned rows and validation) gives the same
    per-epoch losses and validation values as the dense reference implementation, to float rounding, and then the
    same scores: the random streams are consumed in the same order."""
    X, conds, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=1)
    kwargs = dict(valid=Validation(held_out, fold_in=fold_in, metric="ndcg@100"))
    if kind == "C-VAE":
        valid, row_conds = protocols.conditioned_validation(fold_in, held_out, conds)
        kwargs = dict(valid=valid, side=conds, valid_conditions=row_conds)
    settings = dict(epochs=6, seed=3, lr=3e-3, variational=kind != "Mult-DAE", **SMALL)
    fast = MultVAE(**settings).fit(X, **kwargs)
    slow = fit_dense_reference(monkeypatch, MultVAE(**settings), X, **kwargs)
    assert isinstance(slow.network_, DenseReference) and not isinstance(fast.network_, DenseReference)
    for column in ("loss", "nll", "kl", "valid"):
        np.testing.assert_allclose(fast.history_[column], slow.history_[column], rtol=1e-5, atol=1e-7, err_msg=column)
    condition = 1 if kind == "C-VAE" else None
    np.testing.assert_allclose(fast.score(fold_in, condition=condition), slow.score(fold_in, condition=condition),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.encode(fold_in, condition=condition), slow.encode(fold_in, condition=condition),
                               rtol=1e-5, atol=1e-5)


def test_cvae_fit_is_deterministic():
    X, conds, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=1)
    valid, row_conds = protocols.conditioned_validation(fold_in, held_out, conds)
    m1, m2 = (MultVAE(epochs=4, seed=2, **SMALL).fit(X, valid=valid, side=conds, valid_conditions=row_conds)
              for _ in range(2))
    np.testing.assert_array_equal(m1.history_["loss"].to_numpy(), m2.history_["loss"].to_numpy())
    np.testing.assert_array_equal(m1.score(fold_in, condition=0), m2.score(fold_in, condition=0))
    third = MultVAE(epochs=4, seed=5, **SMALL).fit(X, valid=valid, side=conds, valid_conditions=row_conds)
    assert not np.array_equal(m1.history_["loss"].to_numpy(), third.history_["loss"].to_numpy())


def test_patience_stops_training():
    X, _, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=1)
    model = MultVAE(epochs=200, seed=0, **{**SMALL, "patience": 3}).fit(
        X, valid=Validation(held_out, fold_in=fold_in))
    h = model.history_
    assert h.attrs["stopped_early"] and len(h) == h.attrs["best_epoch"] + 3 < 200


def test_a_monitored_validation_gives_the_run_that_would_have_stopped_on_it():
    """One C-VAE training validated on conditioned rows and monitored on unconditioned ones: its monitored twin has
    exactly the weights, best epoch and length of a separate run validated on the unconditioned rows alone, and
    the main model is exactly the run without a monitor."""
    X, conds, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=1)
    valid, row_conds = protocols.conditioned_validation(fold_in, held_out, conds)
    plain = Validation(held_out, fold_in=fold_in, metric="ndcg@100")
    settings = dict(epochs=60, seed=4, **{**SMALL, "patience": 2})
    both = MultVAE(**settings).fit(X, valid=valid, side=conds, valid_conditions=row_conds, monitor=plain)
    alone = MultVAE(**settings).fit(X, valid=valid, side=conds, valid_conditions=row_conds)
    unconditioned = MultVAE(**settings).fit(X, valid=plain, side=conds)
    twin = both.monitored()
    assert len(both.history_) == len(alone.history_)
    assert {k: both.history_.attrs[k] for k in ("best_epoch", "stopped_early")} == alone.history_.attrs
    np.testing.assert_array_equal(both.history_["valid"], alone.history_["valid"])
    np.testing.assert_array_equal(both.score(fold_in, condition=1), alone.score(fold_in, condition=1))
    assert twin.history_.attrs["best_epoch"] == unconditioned.history_.attrs["best_epoch"]
    assert len(twin.history_) == len(unconditioned.history_)
    np.testing.assert_array_equal(twin.history_["valid"], unconditioned.history_["valid"])
    np.testing.assert_array_equal(twin.score(fold_in), unconditioned.score(fold_in))
    assert both.history_.attrs["best_epoch"] != twin.history_.attrs["best_epoch"] or \
        len(both.history_) != len(twin.history_), "the two criteria should stop differently in this case"
    with pytest.raises(ConfigError, match="monitor"):
        MultVAE(**settings).fit(X).monitored()


def test_beta_annealing_schedule_and_dae_has_no_kl():
    X, _, _ = two_tribes(n_users=32)
    h = MultVAE(epochs=4, seed=0, beta_cap=0.3, anneal_steps=5, **SMALL).fit(X).history_  # 2 updates per epoch
    # beta logged is the mean over the epoch's two updates: steps (0, 1), (2, 3), (4, 5), (6, 7) -> min(0.3, s/5)
    np.testing.assert_allclose(h["beta"].to_numpy(), [0.1, 0.3, 0.3, 0.3])
    h = MultVAE(epochs=2, seed=0, variational=False, **SMALL).fit(X).history_
    assert (h["kl"] == 0).all() and (h["beta"] == 0).all()
    np.testing.assert_allclose(h["loss"], h["nll"])


def test_beta_enters_the_loss_as_nll_plus_beta_kl():
    X, _, _ = two_tribes(n_users=32)
    h = MultVAE(epochs=3, seed=0, beta_cap=0.5, anneal_steps=1, batch_size=32, **{k: v for k, v in SMALL.items()
                                                                                 if k != "batch_size"}).fit(X).history_
    # one update per epoch; beta = min(0.5, step / 1): 0 at the first update, then 0.5
    np.testing.assert_allclose(h["beta"], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(h["loss"], h["nll"] + h["beta"] * h["kl"], rtol=1e-5)


def test_default_anneal_reaches_the_cap_after_cap_times_fraction_of_the_budget():
    X, _, _ = two_tribes(n_users=32)
    model = MultVAE(epochs=20, seed=0, beta_cap=0.2, **SMALL).fit(X)  # 40 updates, anneal_steps = 0.5 * 40 = 20
    assert model.anneal_steps_ == 20
    h = model.history_
    # the cap 0.2 is reached at step 0.2 * 20 = 4, i.e. within the 3rd epoch (steps 4 and 5): 10% of the updates
    assert h["beta"].iloc[1] < 0.2 and h["beta"].iloc[2] == pytest.approx(0.2)


def test_models_learn_the_two_tribes():
    X, conds, tribe = two_tribes()
    fold_in, held_out = split_rows(X, seed=2)
    pop = np.asarray(X.sum(axis=0)).ravel()
    pop_top = metrics.top_k(np.tile(pop, (X.shape[0], 1)), 5, exclude=fold_in)
    pop_ndcg = np.nanmean(metrics.ndcg_at_k(pop_top, held_out))
    for kw in (dict(variational=False), dict()):
        model = MultVAE(epochs=25, seed=0, lr=3e-3, **SMALL, **kw).fit(X)
        top = metrics.top_k(model.score(fold_in), 5, exclude=fold_in)
        assert np.nanmean(metrics.ndcg_at_k(top, held_out)) > pop_ndcg + 0.2
        # recommendations stay inside the user's tribe
        assert ((top // 20) == tribe[:, None]).mean() > 0.9


def test_cvae_condition_pushes_its_items_up():
    X, conds, _ = two_tribes()
    model = MultVAE(epochs=30, seed=0, lr=3e-3, cond_per_epoch=None, **SMALL).fit(X, side=conds)
    assert model.name == "C-VAE"
    assert model.history_["weight"].iloc[0] == len(vae.expand_conditions(X, conds)[0])
    plain = metrics.top_k(model.score(X), 4, exclude=X)
    shares = []
    for c in (0, 1):
        top = metrics.top_k(model.score(X, condition=c), 4, exclude=X)
        shares.append(conds[top, c].mean())
    # the conditions partition the items, so unconditioned shares average 0.5
    assert (conds[plain, 0].mean() + conds[plain, 1].mean()) / 2 == pytest.approx(0.5)
    assert min(shares) > 0.9


def test_balanced_subsample_size():
    X, conds, _ = two_tribes(n_users=40)
    n_cond = len(vae.expand_conditions(X, conds)[0]) - 40
    h = MultVAE(epochs=1, seed=0, cond_per_epoch=0.5, **SMALL).fit(X, side=conds).history_
    assert h["weight"].iloc[0] == 40 + 20
    h = MultVAE(epochs=1, seed=0, cond_per_epoch=None, **SMALL).fit(X, side=conds).history_
    assert h["weight"].iloc[0] == 40 + n_cond


def test_score_and_encode_shapes_and_conditions():
    X, conds, _ = two_tribes(n_users=10)
    model = MultVAE(epochs=1, seed=0, **SMALL).fit(X, side=conds)
    assert model.score(X).shape == (10, 40)
    np.testing.assert_allclose(model.score(), model.score(X), rtol=1e-5, atol=1e-6)  # fitted users = own rows
    np.testing.assert_allclose(model.score(np.array([2, 4])), model.score()[[2, 4]], rtol=1e-5, atol=1e-6)
    assert model.encode(X, condition=1).shape == (10, 4)
    per_row = np.array([0, 1] * 5)
    mixed = model.score(X, condition=per_row)
    np.testing.assert_allclose(mixed[::2], model.score(X, condition=0)[::2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="one index per row"):
        model.score(X, condition=np.zeros(3))
    with pytest.raises(ConfigError, match=r"\[-1, 1\]"):
        model.score(X, condition=2)


# ---------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors():
    X, conds, _ = two_tribes(n_users=10)
    with pytest.raises(DataError, match="scipy.sparse"):
        MultVAE(epochs=1).fit(X.toarray())
    with pytest.raises(DataError, match="valid.fold_in"):
        Validation(X, fold_in=sp.csr_array((10, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match="dropout"):
        vae.VAENet(10, dropout=1.0)
    with pytest.raises(ConfigError, match="epochs"):
        MultVAE(epochs=0)
    with pytest.raises(DataError, match="item_conditions"):
        vae.expand_conditions(X, conds[:5])
    with pytest.raises(DataError, match="conditions"):
        MultVAE(epochs=1, **SMALL).fit(X, side=conds[:5])
    model = MultVAE(epochs=1, **SMALL).fit(X)
    with pytest.raises(ConfigError, match="no condition input"):
        model.score(X, condition=0)
    with pytest.raises(ConfigError, match="not fitted"):
        MultVAE().score(X)


# ---------------------------------------------------------------- conditioned evaluation


def test_conditioned_eval_hand_case_and_post_filter():
    conds = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    fold_in = sp.csr_array(np.array([[1, 0, 0, 0]], dtype=np.float32))
    held_out = sp.csr_array(np.array([[0, 1, 1, 0]], dtype=np.float32))
    scores = np.array([[9.0, 1.0, 3.0, 2.0]])  # ranking after excluding item 0: 2, 3, 1
    table = protocols.conditioned_eval(lambda c: scores, fold_in, held_out, conds, k=2)
    assert table["share"].tolist() == [0.0, 1.0]
    # condition 0: relevant {1}, not in top-2 -> 0; condition 1: relevant {2} at rank 1 -> 1
    assert table["ndcg"].tolist() == [0.0, 1.0]
    filtered = protocols.conditioned_eval(lambda c: scores, fold_in, held_out, conds, k=1, post_filter=True)
    assert filtered["share"].tolist() == [1.0, 1.0]
    assert filtered["ndcg"].tolist() == [1.0, 1.0]


def test_balanced_sampling_draws_rare_conditions_as_often_as_common_ones():
    conditions = np.array([0] * 900 + [1] * 100)
    rng = np.random.default_rng(0)
    counts = np.zeros(2)
    for _ in range(200):  # small draws: without replacement the rare rows would deplete within a draw
        picked = vae.sample_conditioned(conditions, 20, rng, balance=True)
        assert len(np.unique(picked)) == 20
        counts += np.bincount(conditions[picked], minlength=2)
    assert abs(counts[1] / counts.sum() - 0.5) < 0.05
    counts = np.bincount(conditions[vae.sample_conditioned(conditions, 500, rng, balance=False)], minlength=2)
    assert counts[1] < 100
    assert vae.sample_conditioned(conditions, 1000, rng).tolist() == list(range(1000))
    with pytest.raises(ConfigError, match="cannot draw"):
        vae.sample_conditioned(conditions, 1001, rng)


def test_fit_binarizes_a_copy_and_leaves_the_callers_matrix_alone():
    X, _, _ = two_tribes(n_users=16)
    ratings = X.copy()
    ratings.data[:] = 4.0
    model = MultVAE(epochs=1, seed=0, **SMALL).fit(ratings)
    assert (ratings.data == 4.0).all()
    reference = MultVAE(epochs=1, seed=0, **SMALL).fit(X)
    np.testing.assert_allclose(model.score(X), reference.score(X), rtol=1e-5, atol=1e-5)


def test_conditioned_validation_hand_case():
    # items 0, 1 have condition 0; items 2, 3 condition 1; item 4 neither
    conds = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0, 0]], dtype=np.float32)
    fold_in = sp.csr_array(np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32))
    held_out = sp.csr_array(np.array([[0, 1, 0, 0, 1], [1, 0, 1, 0, 0]], dtype=np.float32))
    valid, row_conds = protocols.conditioned_validation(fold_in, held_out, conds)
    # user 0: unconditioned (items 1, 4), condition 0 (item 1); condition 1 has no held-out item -> dropped.
    # user 1: unconditioned (items 0, 2); its fold-in item 4 has no condition -> no conditioned row.
    assert row_conds.tolist() == [-1, -1, 0]
    np.testing.assert_array_equal(valid.target.toarray(), [[0, 1, 0, 0, 1], [1, 0, 1, 0, 0], [0, 1, 0, 0, 0]])
    np.testing.assert_array_equal(valid.fold_in.toarray(), fold_in.toarray()[[0, 1, 0]])


def test_fit_validates_conditioned_rows():
    X, conds, _ = two_tribes()
    fold_in, held_out = split_rows(X, seed=3)
    valid, row_conds = protocols.conditioned_validation(fold_in, held_out, conds)
    assert (row_conds >= 0).any() and (row_conds == -1).sum() == (np.diff(held_out.indptr) > 0).sum()
    model = MultVAE(epochs=3, seed=0, **SMALL).fit(X, valid=valid, side=conds, valid_conditions=row_conds)
    # the logged validation is nDCG@100 over the conditioned and unconditioned rows, each scored under its condition
    scores = np.vstack([model.score(valid.fold_in[[r]], condition=int(c)) for r, c in enumerate(row_conds)])
    assert model.history_["valid"].iloc[-1] == pytest.approx(valid.evaluate(scores))
    unconditioned = model.score(valid.fold_in)
    assert valid.evaluate(unconditioned) != pytest.approx(valid.evaluate(scores))
    with pytest.raises(ConfigError, match="one condition per validation row"):
        MultVAE(epochs=1, **SMALL).fit(X, valid=valid, side=conds, valid_conditions=row_conds[:-1])
    with pytest.raises(ConfigError, match="conditioned model"):
        MultVAE(epochs=1, **SMALL).fit(X, valid=valid, valid_conditions=row_conds)


def test_untrained_is_the_network_fit_starts_from():
    X, conds, _ = two_tribes()
    start = MultVAE(epochs=1, seed=4, lr=1e-30, dropout=0.0, **SMALL).fit(X, side=conds)  # lr ~ 0: weights stay put
    control = MultVAE(epochs=1, seed=4, dropout=0.0, **SMALL).untrained(X, side=conds)
    for a, b in zip(start.network_.parameters(), control.network_.parameters()):
        torch.testing.assert_close(a, b)
    assert control.network_.n_conditions == 2 and control.name == "C-VAE"
    np.testing.assert_allclose(control.encode(X[:3], condition=1), start.encode(X[:3], condition=1), rtol=1e-6)
