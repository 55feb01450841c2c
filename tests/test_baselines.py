"""Tests for the baselines and controls: hand-computed cases, slow loop references, validation and a sanity check."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replication import metrics, models
from replication.errors import ConfigError, DataError
from replication.models.baselines import EASE, BiasedMF, ItemKNN, Popularity, Random, UserKNN

BASELINES = ["Random", "Pop", "ItemKNN", "UserKNN", "EASE"]


def random_binary(n_users: int = 30, n_items: int = 20, density: float = 0.3, seed: int = 0) -> sp.csr_array:
    """A reproducible random binary user x item matrix."""
    rng = np.random.default_rng(seed)
    return sp.csr_array((rng.random((n_users, n_items)) < density).astype(np.float64))


# ---------------------------------------------------------------- Popularity


def test_popularity_counts_by_hand() -> None:
    """3 users x 4 items: item counts are 2, 1, 3, 0 for every user; ratings values are ignored."""
    X = sp.csr_array(np.array([[5, 0, 1, 0], [3, 0, 2, 0], [0, 4, 4, 0]], dtype=float))
    scores = Popularity().fit(X).score()
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, np.tile([2, 1, 3, 0], (3, 1)))


def test_popularity_scores_other_users() -> None:
    """Scoring another matrix returns the same row for each of its users."""
    model = Popularity().fit(random_binary())
    other = random_binary(n_users=5, seed=1)
    scores = model.score(other)
    assert scores.shape == (5, 20)
    np.testing.assert_array_equal(scores, np.tile(model.counts_, (5, 1)))


# ---------------------------------------------------------------- ItemKNN


def test_itemknn_cosine_by_hand() -> None:
    """3x3: columns a=(1,1,0), b=(1,0,1), c=(0,1,1): each pair shares one user, cosine = 1/(sqrt2*sqrt2) = 0.5."""
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=float))
    model = ItemKNN(k=10).fit(X)
    expected = np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    np.testing.assert_allclose(model.similarity_, expected, rtol=1e-6)
    np.testing.assert_allclose(model.score(), X.toarray() @ expected, rtol=1e-6)


def test_itemknn_cosine_uneven_by_hand() -> None:
    """3x3 with unequal norms: a=(1,1,1), b=(1,0,0), c=(0,1,1) -> s_ab=1/sqrt3, s_ac=2/sqrt6, s_bc=0."""
    X = sp.csr_array(np.array([[1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=float))
    S = ItemKNN(k=10).fit(X).similarity_
    s_ab, s_ac = 1 / np.sqrt(3), 2 / np.sqrt(6)
    expected = np.array([[0, s_ab, s_ac], [s_ab, 0, 0], [s_ac, 0, 0]])
    np.testing.assert_allclose(S, expected, rtol=1e-6)


def test_itemknn_shrink_and_ratings() -> None:
    """Shrink divides by (|a||b| + shrink); binary=False uses the rating values themselves."""
    X = sp.csr_array(np.array([[2, 1], [0, 3]], dtype=float))
    S = ItemKNN(k=5, shrink=1.0, binary=False).fit(X).similarity_
    expected = 2 * 1 / (2 * np.sqrt(10) + 1.0)
    np.testing.assert_allclose(S, [[0, expected], [expected, 0]], rtol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_itemknn_keeps_top_k_per_column(k: int) -> None:
    """At most k nonzeros per column, zero diagonal, and kept values are the column's k largest off-diagonal."""
    X = random_binary(40, 15, seed=2)
    model = ItemKNN(k=k).fit(X)
    S = model.similarity_
    assert np.all((S != 0).sum(axis=0) <= k)
    assert np.all(np.diag(S) == 0)
    full = ItemKNN(k=1000).fit(X).similarity_
    for j in range(S.shape[1]):
        kept = np.sort(S[:, j][S[:, j] != 0])[::-1]
        np.testing.assert_allclose(kept, np.sort(full[:, j])[::-1][: len(kept)], rtol=1e-6)


def test_itemknn_fold_in_matches_row_scoring() -> None:
    """Scoring a subset of users as new users equals the corresponding rows of the fitted scores."""
    X = random_binary(seed=3)
    model = ItemKNN(k=5).fit(X)
    np.testing.assert_allclose(model.score(X[[0, 4, 7]]), model.score()[[0, 4, 7]], rtol=1e-6)


# ---------------------------------------------------------------- UserKNN


def userknn_reference(train: np.ndarray, query: np.ndarray | None, k: int, binary: bool = True) -> np.ndarray:
    """Slow per-user loop: cosine to every fitted user, keep top-k (self excluded when query is None)."""
    prep = (lambda a: (a != 0).astype(float)) if binary else (lambda a: a.astype(float))
    fitted = prep(train)
    queries = fitted if query is None else prep(query)
    out = np.zeros((queries.shape[0], fitted.shape[1]))
    for u, q in enumerate(queries):
        sims = []
        for v, row in enumerate(fitted):
            if query is None and v == u:
                continue
            denom = np.linalg.norm(q) * np.linalg.norm(row)
            sims.append((q @ row / denom if denom else 0.0, v))
        sims.sort(key=lambda t: -t[0])
        top = sims[:k]
        total = sum(abs(s) for s, _ in top)
        if total:
            out[u] = sum(s * fitted[v] for s, v in top) / total
    return out


def test_userknn_matches_loop_reference() -> None:
    """Vectorized user-kNN equals the per-user loop on random ratings (binary=False, so no similarity ties)."""
    rng = np.random.default_rng(4)
    dense = (rng.random((25, 12)) < 0.4) * rng.integers(1, 6, (25, 12))
    model = UserKNN(k=4, binary=False).fit(sp.csr_array(dense.astype(float)))
    ref = userknn_reference(dense, None, 4, binary=False)
    np.testing.assert_allclose(model.score(), ref, rtol=1e-5, atol=1e-6)


def test_userknn_new_users_match_loop_reference() -> None:
    """score(train=other) compares new users against the fitted users (no self exclusion)."""
    rng = np.random.default_rng(5)
    train = (rng.random((25, 12)) < 0.4).astype(float)
    other = (rng.random((6, 12)) < 0.4).astype(float)
    model = UserKNN(k=3).fit(sp.csr_matrix(train))
    scores = model.score(sp.csr_matrix(other))
    assert scores.shape == (6, 12)
    # Ties in binary cosine can pick different neighbours; compare against the reference only where
    # the k-th and (k+1)-th similarities differ.
    ref = userknn_reference(train, other, 3)
    sims = np.sort(
        (other / np.linalg.norm(other, axis=1, keepdims=True).clip(1e-12))
        @ (train / np.linalg.norm(train, axis=1, keepdims=True).clip(1e-12)).T,
        axis=1,
    )[:, ::-1]
    untied = ~np.isclose(sims[:, 2], sims[:, 3])
    assert untied.any()
    np.testing.assert_allclose(scores[untied], ref[untied], rtol=1e-5, atol=1e-6)


def test_userknn_by_hand() -> None:
    """3 users, k=1: user 0=(1,1,0) nearest is user 1=(1,1,1) (cos 0.816) not user 2=(0,0,1)."""
    X = sp.csr_array(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]], dtype=float))
    scores = UserKNN(k=1).fit(X).score()
    np.testing.assert_allclose(scores[0], [1, 1, 1])
    np.testing.assert_allclose(scores[2], [1, 1, 1])  # user 2's only similar user is user 1
    np.testing.assert_allclose(scores[1], [1, 1, 0])  # user 1: cos to 0 is 0.816 > 0.577 to 2


# ---------------------------------------------------------------- EASE


def ease_reference(X: np.ndarray, l2: float) -> np.ndarray:
    """Slow per-column ridge regression of item j on all other items, with B_jj fixed at 0."""
    n_items = X.shape[1]
    B = np.zeros((n_items, n_items))
    for j in range(n_items):
        others = [i for i in range(n_items) if i != j]
        A = X[:, others]
        B[others, j] = np.linalg.solve(A.T @ A + l2 * np.eye(len(others)), A.T @ X[:, j])
    return B


@pytest.mark.parametrize("l2", [0.5, 10.0, 500.0])
def test_ease_matches_constrained_least_squares(l2: float) -> None:
    """B has a zero diagonal and X @ B matches the per-column constrained least squares solution."""
    X = random_binary(40, 15, seed=6)
    model = EASE(l2=l2).fit(X)
    assert np.all(np.diag(model.weights_) == 0)
    B_ref = ease_reference(X.toarray(), l2)
    np.testing.assert_allclose(model.weights_, B_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.score(), X.toarray() @ B_ref, rtol=1e-4, atol=1e-5)


def test_ease_binarizes_by_default_and_fold_in() -> None:
    """Ratings are binarized unless binary=False; scoring other users uses X_new @ B."""
    rng = np.random.default_rng(7)
    dense = (rng.random((30, 10)) < 0.4) * rng.integers(1, 6, (30, 10)).astype(float)
    X = sp.csr_array(dense)
    np.testing.assert_allclose(
        EASE(l2=5.0).fit(X).weights_, ease_reference((dense != 0).astype(float), 5.0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        EASE(l2=5.0, binary=False).fit(X).weights_, ease_reference(dense, 5.0), rtol=1e-4, atol=1e-6
    )
    model = EASE(l2=5.0).fit(X)
    np.testing.assert_allclose(model.score(X[:4]), model.score()[:4], rtol=1e-6)


# ---------------------------------------------------------------- Random


def test_random_is_seeded_per_user_row() -> None:
    X = random_binary(seed=11)
    a, b = Random(seed=1).fit(X), Random(seed=1).fit(X)
    np.testing.assert_array_equal(a.score(), b.score())
    np.testing.assert_array_equal(a.score(np.array([4, 2])), a.score()[[4, 2]])
    assert not np.array_equal(a.score(), Random(seed=2).fit(X).score())
    assert a.score(X[:3]).shape == (3, 20)
    assert 0.45 < a.score().mean() < 0.55


@pytest.mark.parametrize("n_items", [20, 21])  # odd widths start rows in the middle of a 64-bit draw
def test_random_rows_are_those_of_one_seeded_table(n_items: int) -> None:
    """Scoring users alone (no table in memory) gives exactly row r of default_rng(seed).random((n, m), float32)."""
    X = sp.random(9, n_items, density=0.3, random_state=0, format="csr")
    table = np.random.default_rng(5).random((9, n_items), dtype=np.float32)
    model = Random(seed=5).fit(X)
    np.testing.assert_array_equal(model.score(), table)
    np.testing.assert_array_equal(model.score(np.array([8, 3, 3])), table[[8, 3, 3]])
    assert model.score(np.array([], dtype=int)).shape == (0, n_items)


# ---------------------------------------------------------------- BiasedMF


def tiny_ratings() -> sp.csr_array:
    """4 users x 5 items, 11 ratings; item 4's only raters are users 2 and 3."""
    rows = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3])
    cols = np.array([0, 1, 3, 1, 2, 0, 2, 4, 1, 3, 4])
    vals = np.array([5, 3, 4, 2, 1, 4, 5, 3, 1, 2, 4], dtype=float)
    return sp.csr_array((vals, (rows, cols)), shape=(4, 5))


def noisy_low_rank(seed: int = 1, n_users: int = 60, n_items: int = 40) -> tuple[sp.csr_array, sp.csr_array]:
    """(train, valid): rank-3 ratings plus noise rounded to 1..5, half observed for training, 30% of the rest held
    out; small enough for a factor model without regularization to overfit within a few dozen epochs."""
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    full = np.clip(np.round(3 + 0.7 * U @ V.T + rng.normal(scale=0.8, size=(n_users, n_items))), 1, 5)
    observed = rng.random(full.shape) < 0.5
    held = (rng.random(full.shape) < 0.3) & ~observed
    return sp.csr_array(np.where(observed, full, 0.0)), sp.csr_array(np.where(held, full, 0.0))


@pytest.mark.parametrize("l2", [0.5, 3.0])
def test_biases_converge_to_the_closed_form_ridge_solution(l2: float) -> None:
    """factors=0 minimizes ||y - mu - A b||^2 + l2 ||b||^2 (A: user and item one-hot columns), whose solution is
    b = (A^T A + l2 I)^{-1} A^T (y - mu); full-batch Rprop reaches it (to 1e-6 in ~200 epochs here)."""
    R = tiny_ratings()
    coo = R.tocoo()
    y, mu = coo.data, coo.data.mean()
    A = np.zeros((R.nnz, 4 + 5))
    A[np.arange(R.nnz), coo.row] = 1.0
    A[np.arange(R.nnz), 4 + coo.col] = 1.0
    b = np.linalg.solve(A.T @ A + l2 * np.eye(9), A.T @ (y - mu))
    model = BiasedMF(factors=0, l2=l2, epochs=400, patience=None).fit(R)
    assert model.name == "Biases" and model.network_.user_factors is None
    np.testing.assert_allclose(model.network_.user_bias.detach().numpy(), b[:4], atol=1e-4)
    np.testing.assert_allclose(model.network_.item_bias.detach().numpy(), b[4:], atol=1e-4)
    np.testing.assert_allclose(model.score(), mu + b[:4, None] + b[None, 4:], atol=1e-4)
    # an unconverged fit is measurably off: the test can fail
    early = BiasedMF(factors=0, l2=l2, epochs=5, patience=None).fit(R)
    assert np.abs(early.network_.item_bias.detach().numpy() - b[4:]).max() > 1e-2


def test_factors_fit_an_exactly_low_rank_matrix_far_better_than_biases() -> None:
    """All entries of a rank-2 matrix in [1, 5] observed, l2=0: the factor model's training RMSE is ~0, far below
    the bias model's (which cannot represent the interaction)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2)) @ rng.normal(size=(2, 15))
    R = sp.csr_array(1 + 4 * (X - X.min()) / (X.max() - X.min()))
    biases = BiasedMF(factors=0, l2=0.0, epochs=500, patience=None).fit(R)
    mf = BiasedMF(factors=5, l2=0.0, epochs=500, patience=None).fit(R)
    rmse_biases, rmse_mf = metrics.rmse(biases.score(), R), metrics.rmse(mf.score(), R)
    assert rmse_biases > 0.3
    assert rmse_mf < 0.01 * rmse_biases
    assert mf.history_["train_rmse"].iloc[-1] < 0.01 * biases.history_["train_rmse"].iloc[-1]


def test_biasedmf_early_stopping_keeps_the_best_validation_epoch() -> None:
    """Unregularized factors overfit noisy ratings: validation RMSE turns up, training stops `patience` epochs after
    the best one, and the kept weights reproduce the best validation RMSE of the history."""
    train, held = noisy_low_rank()
    valid = metrics.Validation(held, metric="rmse")
    model = BiasedMF(factors=10, l2=0.0, epochs=300, patience=10).fit(train, valid=valid)
    history = model.history_
    best = history.attrs["best_epoch"]
    assert {"epoch", "loss", "train_rmse", "valid"} <= set(history.columns)
    assert history.attrs["stopped_early"] and best < len(history) == best + 10
    assert history["valid"].idxmin() == best - 1
    assert history["valid"].iloc[-1] > history["valid"].min()
    rows, items = valid.pairs()
    kept = valid.evaluate(model.score()[rows, items])
    assert kept == pytest.approx(history["valid"].min(), abs=1e-5)
    assert kept < valid.evaluate(BiasedMF(factors=10, l2=0.0, epochs=len(history), patience=None)
                                 .fit(train).score()[rows, items]) - 1e-3  # the last epoch was worse
    predicted = model.predict()
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0
    np.testing.assert_array_equal(predicted, np.clip(model.score(), 1, 5))


def test_biasedmf_is_deterministic_for_a_seed() -> None:
    """Same seed: identical scores (and histories' losses); another seed: different initial factors, different
    scores. Scoring rows equals the rows of the full score matrix."""
    train, held = noisy_low_rank(seed=2)
    fit = lambda seed: BiasedMF(factors=4, l2=1.0, epochs=30, seed=seed).fit(  # noqa: E731
        train, valid=metrics.Validation(held, metric="rmse"))
    a, b, c = fit(0), fit(0), fit(1)
    assert a.score().dtype == np.float32 and a.score().shape == train.shape
    np.testing.assert_array_equal(a.score(), b.score())
    np.testing.assert_array_equal(a.history_["loss"], b.history_["loss"])
    assert np.abs(a.score() - c.score()).max() > 1e-3
    np.testing.assert_allclose(a.score(np.array([3, 0, 7])), a.score()[[3, 0, 7]], rtol=1e-6, atol=1e-6)


def test_biasedmf_through_the_registry() -> None:
    """"BiasedMF" and "Biases" (factors=0) are registered, need no side information and pass their parameters."""
    train = tiny_ratings()
    assert models.make("BiasedMF").name == "BiasedMF" and models.make("Biases").name == "Biases"
    assert models.SIDE["BiasedMF"] is None and models.SIDE["Biases"] is None
    np.testing.assert_array_equal(models.make("Biases", l2=2.0, epochs=50).fit(train).score(),
                                  BiasedMF(factors=0, l2=2.0, epochs=50).fit(train).score())


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BiasedMF(factors=-1), "factors must be"),
        (lambda: BiasedMF(factors=2.5), "factors must be an integer"),
        (lambda: BiasedMF(l2=-1.0), "l2 must be"),
        (lambda: BiasedMF(lr=0.0), "lr must be"),
        (lambda: BiasedMF(epochs=0), "epochs must be"),
        (lambda: BiasedMF(patience=0), "patience must be"),
        (lambda: BiasedMF(init_std=-0.1), "init_std must be"),
        (lambda: BiasedMF(seed=-1), "seed must be"),
    ],
)
def test_biasedmf_bad_params_raise(make, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_biasedmf_bad_validation_and_fold_in_raise() -> None:
    """A ranking validation metric, fold-in validation rows, fold-in scoring rows and ratings above 5 are refused
    with a message saying what is wrong."""
    train, held = noisy_low_rank(seed=3)
    with pytest.raises(ConfigError, match=r"metric 'rmse'.*ndcg@10"):
        BiasedMF(factors=2).fit(train, valid=metrics.Validation(held, metric="ndcg@10"))
    with pytest.raises(ConfigError, match="no fold-in rows"):
        BiasedMF(factors=2).fit(train, valid=metrics.Validation(held, fold_in=train, metric="rmse"))
    model = BiasedMF(factors=2, epochs=3).fit(train)
    with pytest.raises(ConfigError, match="scores only the users it was fitted on"):
        model.score(train[:2])
    with pytest.raises(DataError, match=r"\(0, 5.0\]"):
        BiasedMF().fit(train * 2)


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("name", BASELINES)
def test_shape_dtype_and_determinism_through_the_registry(name: str) -> None:
    """Every baseline returns a float32 (n_users, n_items) array, identical across runs and input types."""
    X = random_binary(seed=8)
    a, b = models.make(name).fit(X).score(), models.make(name).fit(sp.csr_matrix(X)).score()
    assert a.shape == X.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert models.make(name).name == name
    np.testing.assert_allclose(models.make(name).fit(X).score(np.array([1, 3])), a[[1, 3]], rtol=1e-6)


def test_registry_passes_params_and_names_the_allowed_models() -> None:
    X = random_binary(seed=9)
    np.testing.assert_allclose(models.make("EASE", l2=3.0).fit(X).score(), EASE(l2=3.0).fit(X).score())
    with pytest.raises(ConfigError, match=r"unknown model 'svd'.*EASE"):
        models.make("svd")


@pytest.mark.parametrize("cls", [Popularity, ItemKNN, UserKNN, EASE, Random])
def test_bad_matrices_raise(cls: type) -> None:
    """Dense, list or item-count-mismatched inputs raise DataError with a clear message."""
    with pytest.raises(DataError, match="scipy.sparse"):
        cls().fit(np.ones((3, 4)))
    with pytest.raises(DataError, match="scipy.sparse"):
        cls().fit([[1, 0], [0, 1]])
    model = cls().fit(random_binary(10, 6))
    with pytest.raises(DataError, match="5 item columns, expected 6"):
        model.score(random_binary(3, 5))
    with pytest.raises(ConfigError, match="rows must lie"):
        model.score(np.array([10]))


def test_score_before_fit_raises() -> None:
    """Scoring an unfitted model is an error, not garbage."""
    with pytest.raises(ConfigError, match="not fitted"):
        EASE().score()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ItemKNN(k=0), "k must be an integer"),
        (lambda: UserKNN(k=-3), "k must be an integer"),
        (lambda: ItemKNN(k=2.5), "k must be an integer"),
        (lambda: ItemKNN(shrink=-1.0), "shrink must be"),
        (lambda: EASE(l2=-1.0), "l2 must be"),
        (lambda: EASE(l2=float("nan")), "l2 must be"),
        (lambda: Random(seed=-1), "seed must be"),
    ],
)
def test_bad_params_raise(make, match: str) -> None:
    """Out-of-range or non-numeric hyperparameters raise ConfigError with the parameter named."""
    with pytest.raises(ConfigError, match=match):
        make()


# ---------------------------------------------------------------- sanity


def test_recover_held_out_entries_of_low_rank_matrix() -> None:
    """On a random low-rank binary matrix, EASE and item-kNN rank held-out positives above negatives."""
    rng = np.random.default_rng(10)
    n_users, n_items, rank = 200, 60, 3
    U = rng.random((n_users, rank))
    V = rng.random((rank, n_items))
    logits = U @ V
    full = (logits > np.quantile(logits, 0.7)).astype(float)
    held = (full == 1) & (rng.random(full.shape) < 0.2)
    train = sp.csr_array(np.where(held, 0.0, full))
    negatives = full == 0
    for scores in (EASE(l2=10.0).fit(train).score(), ItemKNN(k=20).fit(train).score()):
        assert scores[held].mean() > scores[negatives].mean() + 0.1 * scores[negatives].std()
