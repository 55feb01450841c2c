"""Tests for replication.latent: the latent-space measurements of the C-VAE chapter."""

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
import torch

from replication import latent
from replication.errors import ConfigError
from replication.models.vae import MultVAE

torch.set_num_threads(1)


def blobs(n_per=40, seed=0, spread=0.1):
    """Three tight clusters at (10,0), (0,10), (-10,0) plus an unconditioned cluster (-1) at the origin."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    labels = np.repeat(np.arange(-1, 3), n_per)
    points = centers[labels + 1] + spread * rng.standard_normal((len(labels), 2))
    return points, labels


def test_centroids_match_groupby_and_respect_class_order_and_subsets():
    points, labels = blobs()
    classes = np.array([2, 0, -1])
    out = latent.centroids(points, labels, classes)
    for row, c in enumerate(classes):
        np.testing.assert_allclose(out[row], points[labels == c].mean(axis=0))
    with pytest.raises(ConfigError, match="without points"):
        latent.centroids(points, labels, np.array([0, 7]))
    with pytest.raises(ConfigError, match="labels"):
        latent.centroids(points, labels[:-1])


def test_silhouette_high_for_clusters_and_near_zero_for_random_labels():
    points, labels = blobs()
    assert latent.silhouette(points, labels, sample_size=None) > 0.9
    rng = np.random.default_rng(0)
    assert abs(latent.silhouette(points, rng.permutation(labels), sample_size=None)) < 0.15
    with pytest.raises(ConfigError, match="two distinct"):
        latent.silhouette(points, np.zeros(len(points)))


def test_cooccurrence_dissimilarity_hand_case():
    items = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])  # third condition on no item
    d = latent.cooccurrence_dissimilarity(items)
    # conditions 0 and 1: both on items {0, 3}, either on {0, 1, 2, 3} -> 1 - 2/4
    assert d[0, 1] == pytest.approx(0.5) and d[1, 0] == pytest.approx(0.5)
    assert d[0, 2] == 1.0 and d[2, 2] == 0.0
    np.testing.assert_allclose(np.diag(d), 0.0)


def slow_mantel(d1, d2, perms):
    """Reference: loop over permutations with scipy's spearmanr."""
    iu = np.triu_indices(len(d1), k=1)
    r0 = scipy.stats.spearmanr(d1[iu], d2[iu])[0]
    rs = [scipy.stats.spearmanr(d1[iu], d2[np.ix_(p, p)][iu])[0] for p in perms]
    return r0, (1 + sum(r >= r0 - 1e-12 for r in rs)) / (1 + len(perms))


def test_mantel_matches_slow_reference_on_all_permutations():
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((5, 2))
    d1 = latent.centroid_distances(pts)
    d2 = d1 + 0.5 * np.abs(rng.standard_normal((5, 5)))
    d2 = (d2 + d2.T) / 2
    np.fill_diagonal(d2, 0)
    r, p = latent.mantel(d1, d2, n_perm=200, seed=1)
    r_ref, _ = slow_mantel(d1, d2, [])
    assert r == pytest.approx(r_ref)
    # exact permutation distribution over all 120 relabellings: the Monte Carlo p-value should be close
    perms = [np.array(p_) for p_ in itertools.permutations(range(5))]
    _, p_exact = slow_mantel(d1, d2, perms)
    assert abs(p - p_exact) < 0.08


def test_mantel_detects_association_and_not_noise():
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((12, 3))
    d = latent.centroid_distances(pts)
    r, p = latent.mantel(d, d ** 2, n_perm=999)
    assert r == pytest.approx(1.0) and p < 0.01
    other = latent.centroid_distances(rng.standard_normal((12, 3)))
    _, p_noise = latent.mantel(d, other, n_perm=999)
    assert p_noise > 0.01
    with pytest.raises(ConfigError, match="square"):
        latent.mantel(d, d[:5, :5])


def test_centrality_and_pca():
    points, labels = blobs()
    dist = latent.centrality(points, labels, center=np.zeros(2))
    assert dist.idxmin() == -1
    assert dist.loc[0] == pytest.approx(10.0, abs=0.1)
    coords, explained = latent.fit_pca(np.hstack([points, np.zeros((len(points), 1))]), n_components=2)
    assert coords.shape == (len(points), 2)
    assert explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=1e-9)  # origin = mean of the points
    with pytest.raises(ConfigError, match="n_components"):
        latent.fit_pca(points, n_components=3)


def test_genre_tastes_hand_case():
    X = sp.csr_array(np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=np.float32))
    A = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(latent.genre_tastes(X, A), [[0.5, 0.5], [0, 0], [1 / 3, 2 / 3]])


def test_profile_correlations_recover_planted_tastes():
    rng = np.random.default_rng(0)
    users = rng.standard_normal((300, 2))
    genre_centroids = np.array([[5.0, 0.0], [0.0, 5.0]])
    tastes = np.stack([users[:, 0], -users[:, 1]], axis=1) + 0.1 * rng.standard_normal((300, 2))
    out = latent.profile_correlations(users, genre_centroids, tastes)
    assert out.loc[0, "rho"] > 0.9 and out.loc[0, "p"] < 1e-10
    assert out.loc[1, "rho"] < -0.9
    with pytest.raises(ConfigError, match="tastes"):
        latent.profile_correlations(users, genre_centroids, tastes[:, :1])


def test_latent_points_layout_matches_encode():
    rng = np.random.default_rng(0)
    X = sp.csr_array((rng.random((6, 12)) < 0.4).astype(np.float32))
    conds = (rng.random((12, 3)) < 0.5).astype(np.float32)
    model = MultVAE(epochs=1, hidden=8, latent=4, seed=0, device="cpu").fit(X, side=conds)
    points, labels, users = latent.latent_points(model, X)
    assert points.shape == (6 * 4, 4)
    assert labels.tolist() == [-1] * 6 + [0] * 6 + [1] * 6 + [2] * 6
    np.testing.assert_allclose(points[labels == 1], model.encode(X, condition=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(users[labels == 2], np.arange(6))
    plain = MultVAE(epochs=1, hidden=8, latent=4, seed=0, device="cpu").fit(X)
    with pytest.raises(ConfigError, match="conditioned model"):
        latent.latent_points(plain, X)


def test_plots_draw_without_error():
    points, labels = blobs(n_per=10)
    coords = np.hstack([points, points[:, :1] * 0.5])
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    latent.plot_view(ax, coords, labels, ["a", "b", "c"], 0, 1)
    assert ax.get_xlabel() == "PC1"
    fig2 = latent.pair_grid(coords, labels, ["a", "b", "c"], n=3)
    assert len(fig2.axes) == 9
    plt.close("all")
