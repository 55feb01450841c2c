"""Tests for the teaching chapter's helpers: hand-computed cases, slow loop references and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication import teaching
from replication.errors import ConfigError, DataError
from tests.helpers import problem


def toy() -> tuple[sp.csr_array, np.ndarray]:
    """2 users x 4 items with 3 ratings, and hand-picked predictions."""
    X = sp.csr_array(np.array([[5.0, 0, 3, 0], [0, 4, 0, 0]]))
    P = np.array([[4.0, 0.2, 3.0, -0.1], [1.0, 3.0, 0.4, 2.0]])
    return X, P


# ---------------------------------------------------------------- loss decomposition


def test_loss_decomposition_by_hand() -> None:
    """Observed errors 1, 0, 1 -> SSE 2; unobserved predictions 0.2, -0.1, 1, 0.4, 2 -> SSE 0.04+0.01+1+0.16+4."""
    X, P = toy()
    out = teaching.loss_decomposition(P, X)
    assert out["n_observed"] == 3 and out["n_unobserved"] == 5
    assert out["sse_observed"] == pytest.approx(2.0)
    assert out["sse_unobserved"] == pytest.approx(5.21)
    assert out["masked_mse"] == pytest.approx(2.0 / 3)
    assert out["full_mse"] == pytest.approx(7.21 / 8)
    assert out["share_unobserved"] == pytest.approx(5.21 / 7.21)


def test_loss_decomposition_matches_loop_reference() -> None:
    rng = np.random.default_rng(3)
    X = sp.random_array((7, 9), density=0.3, random_state=3, format="csr") * 5
    P = rng.normal(size=(7, 9))
    obs = unobs = 0.0
    dense = X.toarray()
    for u in range(7):
        for i in range(9):
            e = (dense[u, i] - P[u, i]) ** 2
            if dense[u, i] != 0:
                obs += e
            else:
                unobs += e
    out = teaching.loss_decomposition(P, X)
    assert out["sse_observed"] == pytest.approx(obs) and out["sse_unobserved"] == pytest.approx(unobs)


def test_all_zero_prediction_has_no_unobserved_loss() -> None:
    """Predicting zero everywhere makes the unobserved part of the full loss exactly zero: the collapse optimum."""
    X, _ = toy()
    out = teaching.loss_decomposition(np.zeros((2, 4)), X)
    assert out["sse_unobserved"] == 0.0 and out["share_unobserved"] == 0.0
    assert out["sse_observed"] == pytest.approx(25 + 9 + 16)


def test_loss_decomposition_accepts_torch_and_rejects_bad_shapes() -> None:
    torch = pytest.importorskip("torch")
    X, P = toy()
    out = teaching.loss_decomposition(torch.tensor(P, requires_grad=True), X)
    assert out["sse_observed"] == pytest.approx(2.0)
    with pytest.raises(DataError, match="shape"):
        teaching.loss_decomposition(P[:, :3], X)
    with pytest.raises(DataError, match="a prediction row of 8 items for a target with 4 columns"):
        teaching.loss_decomposition(P.ravel(), X)  # 1-D: one row predicted for every user
    with pytest.raises(DataError, match="non-finite"):
        teaching.loss_decomposition(np.array([1.0, np.inf, 0.0, 0.0]), X)
    with pytest.raises(DataError, match="non-finite"):
        teaching.loss_decomposition(np.full((2, 4), np.nan), X)


# ---------------------------------------------------------------- prediction distributions and collapse


def test_prediction_summary_by_hand() -> None:
    X, P = toy()
    s = teaching.prediction_summary(P, X, tol=0.5)
    assert s["observed"]["n"] == 3 and s["unobserved"]["n"] == 5
    assert s["observed"]["mean"] == pytest.approx((4 + 3 + 3) / 3)
    assert s["unobserved"]["median"] == pytest.approx(0.4)  # sorted: -0.1, 0.2, 0.4, 1, 2
    assert s["unobserved"]["near_zero"] == pytest.approx(3 / 5)
    assert s["observed"]["near_zero"] == 0.0


def test_dense_observed_matrix_gives_same_summary() -> None:
    X, P = toy()
    assert teaching.prediction_summary(P, X.toarray()) == teaching.prediction_summary(P, X)


def test_explicit_zeros_in_sparse_input_count_as_unobserved() -> None:
    X, P = toy()
    Y = sp.csr_array((np.r_[X.data, 0.0], np.r_[X.indices, 3], np.r_[X.indptr[:2], X.indptr[2] + 1]), shape=(2, 4))
    assert teaching.prediction_summary(P, Y)["unobserved"]["n"] == 5


def test_is_collapsed_uses_the_unobserved_median() -> None:
    X, P = toy()
    assert teaching.is_collapsed(teaching.prediction_summary(P, X), tol=0.5)  # median 0.4
    assert not teaching.is_collapsed(teaching.prediction_summary(P + 3.0, X), tol=0.5)
    assert not teaching.is_collapsed(teaching.prediction_summary(P, X), tol=0.3)
    full = sp.csr_array(np.ones((2, 2)))
    with pytest.raises(DataError, match="no unobserved"):
        teaching.is_collapsed(teaching.prediction_summary(np.ones((2, 2)), full))
    with pytest.raises(ConfigError, match="tol"):
        teaching.prediction_summary(P, X, tol=0)


def test_unobserved_predictions_selects_and_samples_deterministically() -> None:
    X, P = toy()
    np.testing.assert_array_equal(np.sort(teaching.unobserved_predictions(P, X, max_values=None)),
                                  [-0.1, 0.2, 0.4, 1.0, 2.0])
    a = teaching.unobserved_predictions(P, X, max_values=3, seed=1)
    b = teaching.unobserved_predictions(P, X, max_values=3, seed=1)
    assert a.shape == (3,) and np.array_equal(a, b) and set(a) <= {-0.1, 0.2, 0.4, 1.0, 2.0}


# ---------------------------------------------------------------- step-through


def test_step_through_with_a_linear_autoencoder() -> None:
    """encode = first two entries; decode = [z0, z1, z0 + z1, 2 z0]: the filled-in items are ranked by hand."""
    W = np.array([[1.0, 0, 1, 2], [0, 1, 1, 0]])  # decoder, (d=2) x (n=4)
    encode = lambda x: x[:, :2]
    decode = lambda z: z @ W
    trip = teaching.step_through([3.0, 1.0, 0.0, 0.0], encode, decode, k=2, titles=["a", "b", "c", "d"])
    np.testing.assert_array_equal(trip.z, [3.0, 1.0])
    np.testing.assert_array_equal(trip.x_hat, [3.0, 1.0, 4.0, 6.0])
    assert list(trip.filled_in["title"]) == ["d", "c"] and list(trip.filled_in["score"]) == [6.0, 4.0]
    assert list(trip.rated["item"]) == [0, 1] and list(trip.rated["reconstruction"]) == [3.0, 1.0]
    s = trip.summary()
    assert s["n_rated"] == 2 and s["latent_dim"] == 2 and s["compression"] == 2.0 and s["rmse_on_rated"] == 0.0
    assert s["mean_score_unseen"] == pytest.approx(5.0)


def test_step_through_accepts_torch_callables_and_caps_k() -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(5, 2)
    out = torch.nn.Linear(2, 5)
    trip = teaching.step_through(np.array([0, 4, 0, 0, 1.0]), lambda x: layer(torch.as_tensor(x)),
                                 lambda z: out(torch.as_tensor(z)), k=10, titles=lambda i: f"film {i}")
    assert trip.z.shape == (2,) and trip.x_hat.shape == (5,)
    assert len(trip.filled_in) == 3 and set(trip.filled_in["item"]) == {0, 2, 3}
    assert trip.filled_in["score"].is_monotonic_decreasing


def test_step_through_rejects_bad_inputs() -> None:
    ident = lambda x: x
    with pytest.raises(ConfigError, match="k must"):
        teaching.step_through([1.0, 0.0], ident, ident, k=0)
    with pytest.raises(DataError, match="non-empty"):
        teaching.step_through([], ident, ident)
    with pytest.raises(DataError, match="decode returned"):
        teaching.step_through([1.0, 0.0], ident, lambda z: z[:, :1])


# ---------------------------------------------------------------- VAE pieces


def test_gaussian_kl_by_hand() -> None:
    """Standard normal -> 0; mu = (1, 2), var = 1 -> (1 + 4) / 2; mu = 0, var = e -> (e - 1 - 1) / 2."""
    kl = teaching.gaussian_kl([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(kl, [0.0, 2.5, (np.e - 2) / 2])


def test_monte_carlo_kl_agrees_with_closed_form() -> None:
    mu = np.array([[0.5, -1.0, 0.0], [0.0, 0.3, 2.0]])
    logvar = np.array([[0.0, -1.0, 0.5], [-2.0, 0.2, 0.0]])
    np.testing.assert_allclose(teaching.monte_carlo_kl(mu, logvar, n_samples=200_000, seed=0),
                               teaching.gaussian_kl(mu, logvar), atol=0.03)


def test_reparameterize_moments_and_determinism() -> None:
    mu, logvar = np.array([[1.0, -2.0]]), np.log(np.array([[4.0, 0.25]]))
    z = teaching.reparameterize(mu, logvar, n_samples=100_000, seed=5)
    assert z.shape == (100_000, 1, 2)
    np.testing.assert_allclose(z.mean(axis=0), mu, atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), [[2.0, 0.5]], atol=0.02)
    np.testing.assert_array_equal(z, teaching.reparameterize(mu, logvar, n_samples=100_000, seed=5))
    with pytest.raises(DataError, match="shape"):
        teaching.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="n_samples"):
        teaching.reparameterize(mu, logvar, n_samples=0)


def test_active_units_counts_varying_dimensions() -> None:
    mu = np.array([[0.0, 1.0, 5.0], [0.0, -1.0, 5.01], [0.0, 0.5, 4.99]])
    assert teaching.active_units(mu, threshold=0.01) == 1
    with pytest.raises(DataError, match="two users"):
        teaching.active_units(mu[:1])


# ---------------------------------------------------------------- seed tables


# ---------------------------------------------------------------- helpers of the experiments


def test_drop_interactions_is_seeded_and_removes_about_the_fraction() -> None:
    X = sp.random_array((50, 40), density=0.5, random_state=0, format="csr") + 0.0
    a = teaching.drop_interactions(X, 0.5, seed=1)
    b = teaching.drop_interactions(X, 0.5, seed=1)
    assert (a != b).nnz == 0
    assert 0.4 * X.nnz < a.nnz < 0.6 * X.nnz
    kept = a.toarray()
    np.testing.assert_array_equal(kept[kept != 0], X.toarray()[kept != 0])
    assert teaching.drop_interactions(X, 0.0).nnz == X.nnz
    with pytest.raises(ConfigError):
        teaching.drop_interactions(X, 1.0)
    with pytest.raises(DataError):
        teaching.drop_interactions(X.toarray(), 0.5)


def test_recommended_popularity_by_hand() -> None:
    """Items have 3, 2, 1, 0 training users; each user's unseen top-1 is item 3 (score 9), whose popularity is 0."""
    train = sp.csr_array(np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=float))
    scores = np.tile([1.0, 2.0, 3.0, 9.0], (3, 1))
    assert teaching.recommended_popularity(scores, train, k=1) == 0.0
    # unseen top-1: user 0 -> item 3 (0 users), user 1 -> item 2 (1 user), user 2 -> item 1 (2 users); median 1
    scores = np.tile([9.0, 8.0, 7.0, -1.0], (3, 1))
    assert teaching.recommended_popularity(scores, train, k=1) == 1.0


def test_the_loss_decomposition_of_one_row_for_everyone_is_the_dense_one():
    from replication import teaching

    train, _, _ = problem(6)
    row = np.linspace(0.5, 4.5, 30)
    dense = teaching.loss_decomposition(np.tile(row, (40, 1)), train)
    by_row = teaching.loss_decomposition(row, train)
    assert by_row.keys() == dense.keys()
    for key, value in dense.items():
        assert by_row[key] == pytest.approx(value, rel=1e-12), key
    with pytest.raises(DataError, match="a prediction row of 29 items for a target with 30 columns"):
        teaching.loss_decomposition(row[1:], train)


def test_sampled_scores_decode_a_seeded_sample_of_the_code(monkeypatch):
    """Mult-VAE's lists from a sampled code: with the sample replaced by its mean they are the model's own scores
    (same encoder path, eval mode); with a seed they repeat; a Mult-DAE has no distribution to sample from."""
    pytest.importorskip("torch")
    from replication.models import MultVAE

    rows = sp.random(30, 20, density=0.3, format="csr", random_state=0)
    rows.data[:] = 1.0
    vae = MultVAE(hidden=8, latent=4, epochs=2, patience=None, seed=0, device="cpu").fit(rows)
    first, again = teaching.sampled_scores(vae, rows, seed=3), teaching.sampled_scores(vae, rows, seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, vae.score(rows), atol=1e-4)
    monkeypatch.setattr(teaching, "reparameterize", lambda mu, logvar, n_samples=1, seed=0: np.asarray(mu)[None])
    np.testing.assert_allclose(teaching.sampled_scores(vae, rows), vae.score(rows), rtol=1e-5, atol=1e-5)
    dae = MultVAE(variational=False, hidden=8, latent=4, epochs=1, patience=None, seed=0, device="cpu").fit(rows)
    with pytest.raises(ConfigError, match="variational"):
        teaching.sampled_scores(dae, rows)
