from types import SimpleNamespace
"""Tests for replication.latent: the latent-space measurements of the C-VAE chapter."""

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
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


# ---------------------------------------------------------------------------------------------------- shift geometry


def conditioned_cloud(uncond, moved, seed=0):
    """Points/labels/users of an unconditioned cloud and one moved copy per condition, each block in a shuffled
    user order (so that users must be matched through `users`, not by position)."""
    rng = np.random.default_rng(seed)
    n = len(uncond)
    blocks = [uncond] + list(moved)
    orders = [rng.permutation(n) for _ in blocks]
    points = np.concatenate([b[o] for b, o in zip(blocks, orders)])
    labels = np.repeat(np.arange(-1, len(moved)), n)
    users = np.concatenate(orders)
    return points, labels, users


def test_shift_geometry_of_a_planted_translation():
    rng = np.random.default_rng(0)
    uncond = rng.standard_normal((50, 3))
    vectors = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]])
    points, labels, users = conditioned_cloud(uncond, [uncond + v for v in vectors])
    geo = latent.shift_geometry(points, labels, users)
    assert geo.index.name == "condition" and geo.index.tolist() == [0, 1]
    assert geo.columns.tolist() == ["shift", "deviation", "spread_ratio", "cosine"]
    np.testing.assert_allclose(geo["shift"], [5.0, 2.0])
    np.testing.assert_allclose(geo["deviation"], 0.0, atol=1e-12)
    np.testing.assert_allclose(geo["spread_ratio"], 1.0)
    np.testing.assert_allclose(geo["cosine"], 1.0)
    np.testing.assert_allclose(latent.shift_vectors(points, labels, users), vectors)


def test_shift_geometry_of_a_planted_scaling():
    rng = np.random.default_rng(1)
    uncond = rng.standard_normal((80, 4)) + 1.0
    points, labels, users = conditioned_cloud(uncond, [2.0 * uncond, 0.5 * uncond, uncond])
    geo = latent.shift_geometry(points, labels, users)
    np.testing.assert_allclose(geo["spread_ratio"], [2.0, 0.5, 1.0])
    # scaling moves every user by a different vector (its own position): not a translation
    assert geo.loc[0, "deviation"] > 0.5 and geo.loc[1, "deviation"] > 0.5
    # the unchanged condition: no mean shift, so deviation and cosine are undefined
    assert geo.loc[2, "shift"] == 0.0 and np.isnan(geo.loc[2, "deviation"]) and np.isnan(geo.loc[2, "cosine"])


def slow_shift_geometry(points, labels, users):
    """Reference: dictionaries of (user, condition) -> point and explicit loops over conditions and users."""
    where = {(int(u), int(c)): points[i] for i, (u, c) in enumerate(zip(users, labels))}
    uncond = points[labels == -1]
    uncond_var = sum(np.var(uncond[:, j]) for j in range(points.shape[1]))
    rows = []
    for c in range(labels.max() + 1):
        deltas = [where[(u, c)] - where[(u, -1)] for (u, c_), _ in where.items() if c_ == c and (u, -1) in where]
        if not deltas:
            rows.append((np.nan, np.nan, np.nan, np.nan))
            continue
        mean = sum(deltas) / len(deltas)
        length = np.sqrt(sum(x * x for x in mean))
        deviation = sum(np.linalg.norm(d - mean) for d in deltas) / len(deltas) / length
        cosine = sum(float(d @ mean) / (np.linalg.norm(d) * length) for d in deltas) / len(deltas)
        cond = points[labels == c]
        spread = np.sqrt(sum(np.var(cond[:, j]) for j in range(points.shape[1])) / uncond_var)
        rows.append((length, deviation, spread, cosine))
    return np.array(rows)


def test_shift_geometry_matches_slow_reference_with_unmatched_users():
    rng = np.random.default_rng(2)
    n, d, C = 30, 4, 3
    labels = np.repeat(np.arange(-1, C), n)
    users = np.tile(np.arange(n), C + 1)
    points = rng.standard_normal((len(labels), d)) + 0.7 * labels[:, None]
    keep = rng.random(len(labels)) > 0.2  # some users lack their unconditioned or conditioned point
    keep[labels == 2] = False
    keep[(labels == 2) & (users == 4)] = True  # condition 2: only user 4 ...
    keep[(labels == -1) & (users == 4)] = False  # ... who has no unconditioned point
    points, labels, users = points[keep], labels[keep], users[keep]
    order = rng.permutation(len(labels))
    points, labels, users = points[order], labels[order], users[order]
    geo = latent.shift_geometry(points, labels, users)
    ref = slow_shift_geometry(points, labels, users)
    np.testing.assert_allclose(geo.to_numpy()[:2], ref[:2], rtol=1e-10)
    # condition 2 has no matched user: no shift, but its cloud still has a spread (a single point: 0)
    assert np.isnan(geo.loc[2, ["shift", "deviation", "cosine"]].astype(float)).all()
    assert geo.loc[2, "spread_ratio"] == 0.0
    assert np.isnan(latent.shift_vectors(points, labels, users)[2]).all()


def test_shift_geometry_rejects_bad_input():
    points, labels, users = conditioned_cloud(np.eye(3), [np.eye(3) + 1])
    with pytest.raises(ConfigError, match="user 0 has more than one point under condition -1"):
        latent.shift_geometry(points, labels, np.where(users == 1, 0, users))
    with pytest.raises(ConfigError, match="one label and one user"):
        latent.shift_geometry(points, labels[:-1], users)
    with pytest.raises(ConfigError, match="unconditioned points"):
        latent.shift_geometry(points[labels == 0], labels[labels == 0], users[labels == 0])
    with pytest.raises(ConfigError, match="labels >= -1"):
        latent.shift_vectors(points, labels - 1, users)
    with pytest.raises(ConfigError, match="2-D"):
        latent.shift_vectors(points.ravel(), labels, users)


# ---------------------------------------------------------------------------------------------------- condition share


def test_condition_share_hand_case_blobs_and_noise():
    # grand mean 3: total 9 + 1 + 1 + 9 = 20; class means 1 and 5: between 2 * 4 + 2 * 4 = 16
    assert latent.condition_share(np.array([[0.0], [2.0], [4.0], [6.0]]), np.array([0, 0, 1, 1])) == \
        pytest.approx(0.8)
    points, labels = blobs()
    assert latent.condition_share(points, labels) > 0.99
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((4000, 2))
    assert latent.condition_share(noise, rng.integers(0, 4, 4000)) < 0.01
    with pytest.raises(ConfigError, match="identical"):
        latent.condition_share(np.ones((5, 2)), np.arange(5))
    with pytest.raises(ConfigError, match="one label per point"):
        latent.condition_share(points, labels[:-1])


# ---------------------------------------------------------------------------------------------------- PCA + origin


def test_pca_projection_places_the_latent_origin():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    points = rng.standard_normal((200, 4)) * [3.0, 2.0, 1.0, 0.5] + [5.0, -2.0, 1.0, 0.0]
    coords, explained, origin = latent.pca_projection(points, n_components=2, seed=0)
    ref_coords, ref_explained = latent.fit_pca(points, n_components=2, seed=0)
    np.testing.assert_allclose(coords, ref_coords)
    np.testing.assert_allclose(explained, ref_explained)
    pca = PCA(n_components=2, random_state=0).fit(points)
    np.testing.assert_allclose(origin, pca.transform(np.zeros((1, 4)))[0])
    # all components: a rotation about the mean, so the origin lies as far from the PC origin as from the mean
    _, _, full = latent.pca_projection(points, n_components=4)
    assert np.linalg.norm(full) == pytest.approx(np.linalg.norm(points.mean(axis=0)))
    with pytest.raises(ConfigError, match="n_components"):
        latent.pca_projection(points, n_components=5)


# ---------------------------------------------------------------------------------------------------- co-consumption


def test_co_consumption_dissimilarity_hand_case():
    # items: 0 -> A, 1 -> B, 2 -> C (watched by nobody), 3 -> A and B
    G = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    X = sp.csr_array(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32))
    # users with items: A shares (1, 0, 1), B shares (0, 1, 1): deviations (1, -2, 1) / 3 and (-2, 1, 1) / 3,
    # r = (-2 - 2 + 1) / 6 = -0.5; the empty user 4 would make r = 0
    d = latent.co_consumption_dissimilarity(X, G)
    np.testing.assert_allclose(d, [[0.0, 1.5, 1.0], [1.5, 0.0, 1.0], [1.0, 1.0, 0.0]])
    with pytest.raises(ConfigError, match="items x conditions with 4 items"):
        latent.co_consumption_dissimilarity(X, G[:3])
    with pytest.raises(ConfigError, match="at least 2 users"):
        latent.co_consumption_dissimilarity(X[[0, 3]], G)


def test_co_consumption_dissimilarity_finds_planted_co_watched_genres():
    rng = np.random.default_rng(0)
    n_genres, per_genre, n_users = 6, 10, 300
    G = np.kron(np.eye(n_genres), np.ones((per_genre, 1)))  # every item has one genre
    liked = [{0, 1}, {2}, {3}, {4}, {5}]  # users of type 0 watch genres 0 and 1 together
    kind = rng.integers(0, len(liked), n_users)
    genre_of_item = np.repeat(np.arange(n_genres), per_genre)
    likes = np.array([[g in liked[t] for g in range(n_genres)] for t in kind])[:, genre_of_item]
    X = sp.csr_array((rng.random(likes.shape) < np.where(likes, 0.6, 0.05)).astype(np.float32))
    d = latent.co_consumption_dissimilarity(X, G)
    np.testing.assert_allclose(d, d.T)
    off = d + np.diag(np.full(n_genres, np.inf))
    assert np.unravel_index(np.argmin(off), d.shape) in [(0, 1), (1, 0)]
    assert d[0, 1] < 0.5 < off[2:].min()


# ---------------------------------------------------------------------------------------------------- neighbour ranks


def test_neighbour_ranks_hand_case_with_a_tie():
    x = np.array([0.0, 1.0, -1.0, 5.0])  # class 0 has 1 and 2 at the same distance: the lower index first
    ranks = latent.neighbour_ranks(np.abs(x[:, None] - x[None, :]))
    np.testing.assert_array_equal(ranks, [[0, 1, 2, 3], [1, 0, 2, 3], [1, 2, 0, 3], [2, 1, 3, 0]])
    d = np.array([[0.0, np.inf, 1.0], [np.inf, 0.0, np.inf], [1.0, np.inf, 0.0]])
    np.testing.assert_array_equal(latent.neighbour_ranks(d), [[0, 2, 1], [1, 0, 2], [1, 2, 0]])
    with pytest.raises(ConfigError, match="square"):
        latent.neighbour_ranks(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="symmetric"):
        latent.neighbour_ranks(np.array([[0.0, 1.0], [2.0, 0.0]]))


# ---------------------------------------------------------------------------------------------------- statements


LINE_NAMES = ["A", "B", "C", "D", "E"]
LINE = np.abs(np.subtract.outer(*[np.array([0.0, 1.0, 2.0, 6.0, 20.0])] * 2))  # five genres on a line


def verdict(kind, a, others=(), k=1):
    return latent.score_statement(latent.Statement("s", "text", kind, a, tuple(others), k), LINE, LINE_NAMES)


def test_score_statement_close_and_far():
    assert verdict("close", "A", ["B"]) == (True, "B is A's 1st nearest of 4")
    assert verdict("close", "A", ["C"]) == (False, "C is A's 2nd nearest of 4")
    assert verdict("close", "A", ["B", "C"], k=2)[0]
    assert not verdict("close", "A", ["B", "D"], k=2)[0]
    assert verdict("far", "A", ["E"]) == (True, "E is A's 1st farthest of 4")
    assert verdict("far", "A", ["B"], k=2) == (False, "B is A's 4th farthest of 4")
    assert verdict("far", "C", ["E", "D"], k=2)[0]  # C: D at 4, E at 18 are its two farthest


def test_score_statement_nearest_set_between_isolated():
    # A's 3 nearest: B, C, D
    assert verdict("nearest_set", "A", ["B", "C", "E"], k=2) == (True, "A's 3 nearest: B, C, D (2 of 3 named)")
    assert not verdict("nearest_set", "A", ["B", "C", "E"], k=3)[0]
    # d(A, C) = 2 >= max(d(B, A), d(B, C)) = 1; d(B, C) = 1 < d(A, C) = 2
    assert verdict("between", "B", ["A", "C"])[0]
    assert not verdict("between", "A", ["B", "C"])[0]
    # nearest-neighbour distances: A 1, B 1, C 1, D 4, E 14
    assert verdict("isolated", "E") == (True, "E's nearest-neighbour distance 14 is the 1st largest of 5")
    assert not verdict("isolated", "D")[0] and verdict("isolated", "D", k=2)[0]
    assert verdict("isolated", "A", k=3)[0] and not verdict("isolated", "A", k=2)[0]  # ties count for A


def test_statement_and_score_statement_reject_bad_input():
    with pytest.raises(ConfigError, match="kind must be one of"):
        latent.Statement("s", "t", "near", "A", ("B",))
    with pytest.raises(ConfigError, match="takes 2 other genres"):
        latent.Statement("s", "t", "between", "A", ("B",))
    with pytest.raises(ConfigError, match="takes 0 other genres"):
        latent.Statement("s", "t", "isolated", "A", ("B",))
    with pytest.raises(ConfigError, match="k must be"):
        latent.Statement("s", "t", "nearest_set", "A", ("B", "C"), k=3)
    with pytest.raises(ConfigError, match="not among the names: Z"):
        verdict("close", "A", ["Z"])
    with pytest.raises(ConfigError, match="exceed the 4 other genres"):
        verdict("close", "A", ["B"], k=5)
    with pytest.raises(ConfigError, match="5 classes in the distance matrix but 4 names"):
        latent.score_statement(latent.PAPER_STATEMENTS[0], LINE, LINE_NAMES[:4])


ML100K_GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
                 "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
                 "Western"]
# a layout after the paper's reading of its Fig. 2, where every statement holds
FIG2 = {"Crime": (0, 0), "Thriller": (1, 0), "Mystery": (0.5, 0.8), "Drama": (2, -3), "War": (3, -4),
        "Romance": (4, -3), "Film-Noir": (-5, -5), "Horror": (3, 2), "Sci-Fi": (5, 4), "Western": (-10, 10),
        "Musical": (-9, 10), "Children's": (10, 10), "Animation": (11, 10), "Fantasy": (9, 9), "Action": (6, 3),
        "Adventure": (7, 4), "Comedy": (3, -1), "Documentary": (-8, 9)}


def test_paper_statements_hold_on_a_layout_after_the_paper_and_fail_when_moved():
    assert len({s.id for s in latent.PAPER_STATEMENTS}) == len(latent.PAPER_STATEMENTS) == 17
    assert all({s.a, *s.others} <= set(ML100K_GENRES) for s in latent.PAPER_STATEMENTS)
    assert all(s.text.count('"') == 2 for s in latent.PAPER_STATEMENTS)  # each quotes the paper
    statements = [s for s in latent.PAPER_STATEMENTS if s.where.endswith("Fig. 2")]
    assert len(statements) == 11 and all(s.space == "full latent" for s in statements)
    assert {s.kind for s in statements} == set(latent.STATEMENT_KINDS)
    by_id = {s.id: s for s in statements}
    pts = np.array([FIG2[g] for g in ML100K_GENRES], dtype=np.float64)
    D = latent.centroid_distances(pts)
    verdicts = {s.id: latent.score_statement(s, D, ML100K_GENRES) for s in statements}
    assert all(holds for holds, _ in verdicts.values()), verdicts
    assert verdicts["thriller_mystery_close"][1] == "Mystery is Thriller's 1st nearest of 17"
    # swap names: Western with Action (next to Horror), Children's with Comedy (next to War)
    swapped = [{"Western": "Action", "Action": "Western", "Children's": "Comedy", "Comedy": "Children's"}.get(g, g)
               for g in ML100K_GENRES]
    assert not latent.score_statement(by_id["horror_far_western"], D, swapped)[0]
    assert not latent.score_statement(by_id["war_far_children"], D, swapped)[0]
    # Film-Noir moved next to Comedy: no longer isolated, its nearest genres change
    moved = pts.copy()
    moved[ML100K_GENRES.index("Film-Noir")] = (3.2, -1.1)
    Dm = latent.centroid_distances(moved)
    assert not latent.score_statement(by_id["filmnoir_isolated"], Dm, ML100K_GENRES)[0]
    assert not latent.score_statement(by_id["filmnoir_nearest"], Dm, ML100K_GENRES)[0]
    with pytest.raises(ConfigError, match="not among the names: War, Children's"):
        latent.score_statement(by_id["war_far_children"], D[:3, :3], ML100K_GENRES[:3])


def test_latent_spaces_are_views_of_one_pca_with_the_origin_mapped():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 12)) + 3.0
    spaces, explained = latent.latent_spaces(points, seed=0)
    assert list(spaces) == list(latent.SPACES)
    ten, origin = spaces["10 PCs"]
    np.testing.assert_allclose(spaces["5 PCs"][0], ten[:, :5])
    np.testing.assert_allclose(spaces["PC2 x PC5"][0], ten[:, [1, 4]])
    np.testing.assert_allclose(spaces["PC3 x PC5"][1], origin[[2, 4]])
    np.testing.assert_allclose(spaces["full latent"][1], np.zeros(12))
    # the origin lands where the zero vector projects: the negated mean rotated into the components
    from sklearn.decomposition import PCA

    pca = PCA(10, random_state=0).fit(points)
    np.testing.assert_allclose(np.abs(origin), np.abs(pca.transform(np.zeros((1, 12)))[0]), atol=1e-9)
    assert explained.shape == (10,) and np.all(np.diff(explained) <= 1e-12)


class TranslatingModel:
    """A stand-in C-VAE whose condition c moves every user's mean by exactly the vector shifts[c]."""

    def __init__(self, base: np.ndarray, shifts: np.ndarray):
        self.base, self.shifts = base, shifts
        self.network_ = SimpleNamespace(n_conditions=len(shifts))

    def encode(self, X, condition=None):
        return self.base[: X.shape[0]] + (0.0 if condition in (None, -1) else self.shifts[condition])


def test_latent_study_of_an_exact_translation():
    rng = np.random.default_rng(1)
    n_users, n_items, n_genres = 40, 30, 4
    X = sp.csr_array((rng.random((n_users, n_items)) < 0.3).astype(np.float32))
    G = np.zeros((n_items, n_genres), dtype=np.float32)
    G[np.arange(n_items), np.arange(n_items) % n_genres] = 1
    G[np.arange(0, n_items, 3), (np.arange(0, n_items, 3) + 1) % n_genres] = 1  # some films with two genres
    lengths = np.array([1.0, 2.0, 3.0, 4.0])
    shifts = np.eye(n_genres, 6) * lengths[:, None] * 5.0
    model = TranslatingModel(rng.normal(size=(n_users, 6)), shifts)
    records, figures = latent.study_latent_space(model, X, G, ["a", "b", "c", "d"], n_perm=99,
                                                 silhouette_sample=None, seed=0)
    got = pd.DataFrame(records)

    def at(metric: str, space: str = "full latent", centre: str = "") -> float:
        chosen = (got["metric"] == metric) & (got["space"] == space) & (got["centre"] == centre)
        return got.loc[chosen, "value"].item()

    assert at("mean cosine") == pytest.approx(1.0)
    assert at("median deviation") == pytest.approx(0.0, abs=1e-9)
    assert at("mean spread ratio") == pytest.approx(1.0)
    np.testing.assert_allclose(figures["geometry"]["shift"], lengths * 5.0)
    # from the unconditioned centroid a genre's distance is its shift length: rho(popularity, length)
    popularity = np.asarray((X @ G).sum(axis=0)).ravel()
    import scipy.stats

    expected = scipy.stats.spearmanr(popularity, lengths).statistic
    assert at("popularity rho", centre="unconditioned centroid") == pytest.approx(expected)
    assert at("rank of unconditioned", centre="latent origin") >= 1
    assert 0.5 < at("condition share") < 1.0


# a PC3 x PC5 layout after the paper's Fig. 3: three overlapping pairs, Action, Musical and Documentary offside
FIG3 = {"Mystery": (0, 0), "Horror": (0.2, 0), "Children's": (5, 0), "Fantasy": (5.2, 0), "War": (0, 5),
        "Western": (0.2, 5), "Crime": (1.5, 1.5), "Thriller": (2.5, 1.5), "Drama": (3.5, 2), "Romance": (4, 3),
        "Comedy": (3, 3), "Sci-Fi": (2, 3), "Adventure": (1.5, 3.5), "Animation": (4.5, 1), "Film-Noir": (1, 2.5),
        "Action": (-8, -8), "Musical": (12, -6), "Documentary": (-7, 12)}


def test_the_fig3_statements_hold_on_a_layout_after_the_paper_and_fail_when_swapped():
    statements = [s for s in latent.PAPER_STATEMENTS if s.where.endswith("Fig. 3")]
    assert len(statements) == 6 and all(s.space == "PC3 x PC5" for s in statements)
    D = latent.centroid_distances(np.array([FIG3[g] for g in ML100K_GENRES], dtype=np.float64))
    assert all(latent.score_statement(s, D, ML100K_GENRES)[0] for s in statements)
    swapped = [{"Horror": "Action", "Action": "Horror"}.get(g, g) for g in ML100K_GENRES]
    by_id = {s.id: s for s in statements}
    assert not latent.score_statement(by_id["mystery_horror_overlap"], D, swapped)[0]
    assert not latent.score_statement(by_id["action_offside"], D, swapped)[0]


def _enumerated_chance(statement, D, names):
    """The slow reference: score the statement's form on every substitution of distinct genres."""
    n_named = len(statement.others)
    holds = []
    for combo in itertools.permutations(range(len(names)), 1 + n_named):
        if statement.kind == "nearest_set" and list(combo[1:]) != sorted(combo[1:]):
            continue  # a set of named genres: each counted once
        s = latent.Statement("x", "t", statement.kind, names[combo[0]], tuple(names[i] for i in combo[1:]),
                             statement.k)
        holds.append(latent.score_statement(s, D, names)[0])
    return float(np.mean(holds))


@pytest.mark.parametrize("kind, others, k", [("close", ("b",), 1), ("close", ("b",), 3), ("far", ("b",), 2),
                                             ("close", ("b", "c"), 3), ("nearest_set", ("b", "c", "d"), 2),
                                             ("between", ("b", "c"), 1), ("isolated", (), 2)])
def test_chance_rate_equals_the_enumeration_over_random_genres(kind, others, k):
    rng = np.random.default_rng(3)
    names = list("abcdefgh")
    D = latent.centroid_distances(rng.normal(size=(8, 3)))
    statement = latent.Statement("s", "t", kind, "a", others, k)
    assert latent.chance_rate(statement, D) == pytest.approx(_enumerated_chance(statement, D, names))


def test_chance_rates_by_hand():
    D = latent.centroid_distances(np.random.default_rng(0).normal(size=(18, 4)))
    close = latent.Statement("s", "t", "close", "a", ("b",), 3)
    assert latent.chance_rate(close, D) == pytest.approx(3 / 17)
    between = latent.Statement("s", "t", "between", "a", ("b", "c"), 1)
    assert latent.chance_rate(between, D) == pytest.approx(1 / 3)  # one longest side per triangle
    noir = latent.Statement("s", "t", "nearest_set", "a", ("b", "c", "d", "e"), 3)
    assert latent.chance_rate(noir, D) == pytest.approx((4 * 13 + 1) / 2380)  # C(4,3) C(13,1) + C(4,4) of C(17,4)


def test_profiling_axis_needs_opposite_significant_correlations():
    rng = np.random.default_rng(0)
    names = ["Comedy", "Romance", "Thriller", "Action", "Crime", "War"]
    tastes = rng.dirichlet(np.ones(6), size=400)
    light, serious = tastes[:, :2].sum(axis=1), tastes[:, 2:5].sum(axis=1)
    found = latent.profiling_axis(light - serious + rng.normal(scale=0.05, size=400), tastes, names)
    assert found["holds"] == 1.0 and found["rho light"] > 0 > found["rho serious"]
    assert latent.profiling_axis(rng.normal(size=400), tastes, names)["holds"] == 0.0
    assert latent.profiling_axis(light + serious, tastes, names)["holds"] == 0.0  # same sign on both ends
    with pytest.raises(ConfigError, match="not among the names: Comedy"):
        latent.profiling_axis(light, tastes, ["x"] * 6)


def test_component_stretch_is_the_within_condition_share_per_component():
    labels = np.repeat([0, 1], 50)
    rng = np.random.default_rng(0)
    coords = np.column_stack([labels * 10.0 + rng.normal(scale=0.1, size=100), rng.normal(size=100)])
    stretch = latent.component_stretch(coords, labels)
    assert stretch[0] < 0.01 and stretch[1] > 0.95


def test_cka_and_procrustes_see_through_rotations_and_scaling():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert latent.linear_cka(X, 3.0 * X @ Q + 1.0) == pytest.approx(1.0)
    assert latent.procrustes_distance(X, 3.0 * X @ Q + 1.0) == pytest.approx(0.0, abs=1e-12)
    unrelated = rng.normal(size=(200, 6))
    assert latent.linear_cka(X, unrelated) < 0.2 and latent.procrustes_distance(X, unrelated) > 0.8
    # CKA by hand for one-column representations: the squared correlation
    x, y = rng.normal(size=(50, 1)), rng.normal(size=(50, 1))
    assert latent.linear_cka(x, y) == pytest.approx(np.corrcoef(x[:, 0], y[:, 0])[0, 1] ** 2)
    with pytest.raises(ConfigError, match="same rows"):
        latent.linear_cka(X, X[:10])


def test_genre_order_agreement_ignores_the_sign_of_a_component():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(18, 5))
    assert latent.genre_order_agreement(a, -a) == pytest.approx(1.0)
    b = a.copy()
    b[:, 1] = rng.permutation(b[:, 1])
    assert latent.genre_order_agreement(a, b) < 1.0
