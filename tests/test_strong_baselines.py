"""RP3beta, PureSVD and iALS against slow references written from their papers' definitions (loops over users and
items, here only) and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication import models
from replication.errors import ConfigError

X = sp.csr_array(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=np.float64))


def test_rp3beta_equals_the_random_walk_by_hand():
    dense = X.toarray()
    alpha, beta = 0.7, 0.5
    n_users, n_items = dense.shape
    W = np.zeros((n_items, n_items))
    for i in range(n_items):  # item i -> user u (P(u | i)) -> item j (P(j | u)), each raised to alpha
        for j in range(n_items):
            for u in range(n_users):
                if dense[u, i] and dense[u, j]:
                    W[i, j] += (1 / dense[:, i].sum()) ** alpha * (1 / dense[u].sum()) ** alpha
            W[i, j] /= dense[:, j].sum() ** beta
    np.fill_diagonal(W, 0.0)
    model = models.RP3beta(alpha=alpha, beta=beta, k=3).fit(X)
    np.testing.assert_allclose(model.weights_, W, rtol=1e-6)
    np.testing.assert_allclose(model.score(), dense @ W, rtol=1e-5)
    # k = 1 keeps each item's single largest weight
    top1 = models.RP3beta(alpha=alpha, beta=beta, k=1).fit(X).weights_
    assert ((top1 > 0).sum(axis=1) == 1).all() and np.allclose(top1.max(axis=1), W.max(axis=1))


def test_pure_svd_projects_on_the_top_item_directions():
    rng = np.random.default_rng(0)
    R = sp.csr_array((rng.random((30, 12)) < 0.3).astype(np.float64))
    model = models.PureSVD(factors=4).fit(R)
    _, _, Vt = np.linalg.svd(R.toarray())
    V = Vt[:4].T
    np.testing.assert_allclose(model.score(), R.toarray() @ V @ V.T, atol=1e-5)
    np.testing.assert_allclose(model.score(R[:3]), model.score(np.arange(3)), atol=1e-6)  # fold-in = fitted rows
    assert np.array_equal(model.score(), models.PureSVD(factors=4).fit(R).score())


def _ials_reference(R: np.ndarray, items: np.ndarray, reg: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One sweep of Hu et al.'s closed-form updates, one user and one item at a time."""
    f = items.shape[1]
    users = np.zeros((R.shape[0], f))
    for u in range(R.shape[0]):
        C = np.diag(1 + alpha * R[u])
        users[u] = np.linalg.solve(items.T @ C @ items + reg * np.eye(f), items.T @ C @ R[u])
    new_items = np.zeros_like(items)
    for i in range(R.shape[1]):
        C = np.diag(1 + alpha * R[:, i])
        new_items[i] = np.linalg.solve(users.T @ C @ users + reg * np.eye(f), users.T @ C @ R[:, i])
    return users, new_items


def test_ials_equals_the_per_user_closed_form():
    rng = np.random.default_rng(1)
    R = sp.csr_array((rng.random((25, 15)) < 0.3).astype(np.float64))
    model = models.IALS(factors=3, reg=0.5, alpha=4.0, iterations=1, seed=2, cg_steps=None, tol=1e-10)
    model.fit(R)
    start = 0.01 * np.random.default_rng(2).standard_normal((15, 3))
    users, items = _ials_reference(R.toarray(), start, 0.5, 4.0)
    np.testing.assert_allclose(model.user_factors_, users, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.item_factors_, items, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.score(np.array([0, 3])), users[[0, 3]] @ items.T, rtol=1e-4, atol=1e-6)
    # two sweeps: the second starts from the first (warm-started CG reaches the same exact update)
    twice = models.IALS(factors=3, reg=0.5, alpha=4.0, iterations=2, seed=2, cg_steps=None, tol=1e-10).fit(R)
    users2, items2 = _ials_reference(R.toarray(), items, 0.5, 4.0)
    np.testing.assert_allclose(twice.item_factors_, items2, rtol=1e-4, atol=1e-6)


def test_ials_fits_the_interactions_and_is_deterministic():
    rng = np.random.default_rng(0)
    R = sp.csr_array((rng.random((40, 20)) < 0.25).astype(np.float64))
    a = models.IALS(factors=8, iterations=10).fit(R).score()
    assert np.array_equal(a, models.IALS(factors=8, iterations=10).fit(R).score())
    dense = R.toarray()

    def objective(model) -> float:  # Hu et al.'s weighted loss with its penalty
        error = dense - model.user_factors_ @ model.item_factors_.T
        penalty = (model.user_factors_ ** 2).sum() + (model.item_factors_ ** 2).sum()
        return float(((1 + model.alpha * dense) * error ** 2).sum() + model.reg * penalty)

    fits = {steps: [objective(models.IALS(factors=8, iterations=n, cg_steps=steps).fit(R)) for n in (1, 3, 10)]
            for steps in (3, None)}
    assert fits[None][0] > fits[None][1] > fits[None][2]  # exact ALS never increases the loss
    assert fits[3][2] < 1.02 * fits[None][2]  # three warm-started CG steps per sweep reach (almost) the same loss
    assert a[dense > 0].mean() > a[dense == 0].mean() + 0.3  # observed items score higher
    with pytest.raises(ConfigError, match="fitted on"):
        models.IALS().fit(R).score(R[:2])


@pytest.mark.parametrize("name, bad", [("RP3beta", {"alpha": 0.0}), ("PureSVD", {"factors": 0}),
                                       ("iALS", {"reg": 0.0})])
def test_bad_settings_fail_with_one_line(name, bad):
    with pytest.raises(ConfigError):
        models.make(name, **bad)
