"""Latent-space measurements for the C-VAE chapter: the PCA pictures of Carraro, Polato & Aiolli (2020) turned into
numbers.

Pipeline: :func:`latent_points` encodes every user unconditioned and conditioned on each genre (latent means mu);
:func:`fit_pca` projects them on the first principal components; then

1. :func:`silhouette` -- do the conditions form clusters?
2. :func:`centroids`, :func:`cooccurrence_dissimilarity`, :func:`mantel` -- do related genres lie close? (Spearman
   correlation between centroid distances and genre co-occurrence dissimilarity, permutation p-value)
3. :func:`centrality` -- do unconditioned users sit at the centre?
4. :func:`centrality` + popularity -- are popular genres central and rare ones peripheral?
5. :func:`profile_correlations` -- does an unconditioned user's position tell their genre tastes?

Plot helpers: :func:`plot_view` (one PC pair, genre clusters coloured, centroids labelled) and :func:`pair_grid`.
Everything is vectorised over users; loops run over genres or permutations only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.stats
from scipy.spatial.distance import cdist

from .errors import ConfigError
from .models import vae

__all__ = ["latent_points", "fit_pca", "silhouette", "centroids", "cooccurrence_dissimilarity", "centroid_distances", "mantel",
           "centrality", "genre_tastes", "profile_correlations", "nearest_genres", "plot_view", "pair_grid"]

NO_CONDITION = vae.NO_CONDITION


def latent_points(model: vae.MultVAE, interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode every user of `interactions` (fold-in rows) unconditioned and under every condition of a fitted C-VAE.

    Returns ``points`` ((1 + C) * n_users x latent), ``labels`` (condition per point, -1 = unconditioned) and
    ``users`` (row of `interactions` per point). Unconditioned points come first.
    """
    n_conditions = model.network_.n_conditions
    if n_conditions < 1:
        raise ConfigError("latent_points needs a conditioned model (n_conditions >= 1)")
    X = sp.csr_array(interactions, dtype=np.float32)
    n = X.shape[0]
    labels = np.repeat(np.arange(-1, n_conditions), n)
    users = np.tile(np.arange(n), n_conditions + 1)
    # one condition at a time (-1: none): the rows are never copied once per condition
    return np.concatenate([model.encode(X, condition=c) for c in range(-1, n_conditions)]), labels, users


def fit_pca(points: np.ndarray, n_components: int = 5, fit_mask: np.ndarray | None = None, seed: int = 0):
    """PCA fitted on ``points[fit_mask]`` (default: all points) and applied to all points.
    Returns ``(coords, explained_variance_ratio)``; the origin of ``coords`` is the mean of the fitted points."""
    from sklearn.decomposition import PCA

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or not 1 <= n_components <= min(points.shape):
        raise ConfigError(f"need a 2-D point matrix with at least n_components={n_components} rows and columns, "
                          f"got shape {points.shape}")
    fit = points if fit_mask is None else points[np.asarray(fit_mask, dtype=bool)]
    pca = PCA(n_components=n_components, random_state=seed).fit(fit)
    return pca.transform(points), pca.explained_variance_ratio_


def silhouette(points: np.ndarray, labels: np.ndarray, sample_size: int | None = 4000, seed: int = 0) -> float:
    """Mean silhouette of the points grouped by label (Euclidean), on a seeded random sample of `sample_size` points.
    +1: tight, well separated clusters; 0: overlapping; < 0: points closer to another cluster."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ConfigError("silhouette needs at least two distinct labels")
    size = None if sample_size is None or sample_size >= len(labels) else sample_size
    return float(silhouette_score(points, labels, sample_size=size, random_state=seed))


def centroids(points: np.ndarray, labels: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Mean point of every class (rows in the order of `classes`, default sorted unique labels), vectorised.
    Points whose label is not in `classes` are ignored; a class without points raises ConfigError."""
    labels = np.asarray(labels)
    points = np.asarray(points, dtype=np.float64)
    if len(labels) != len(points):
        raise ConfigError(f"{len(points)} points but {len(labels)} labels")
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    order = np.argsort(classes)
    pos = np.searchsorted(classes[order], labels)
    pos = np.minimum(pos, len(classes) - 1)
    member = classes[order][pos] == labels
    index = order[pos[member]]
    onehot = sp.csr_array((np.ones(len(index)), (index, np.flatnonzero(member))), shape=(len(classes), len(labels)))
    counts = np.asarray(onehot.sum(axis=1)).ravel()
    if (counts == 0).any():
        raise ConfigError(f"classes without points: {classes[counts == 0].tolist()}")
    return (onehot @ points) / counts[:, None]


def cooccurrence_dissimilarity(item_conditions) -> np.ndarray:
    """Jaccard dissimilarity between conditions over items: 1 - |items with both| / |items with either|.
    A condition that no item has gets dissimilarity 1 to every other condition (0 to itself)."""
    A = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions) > 0
    if A.ndim != 2:
        raise ConfigError(f"item_conditions must be items x conditions, got shape {A.shape}")
    A = A.astype(np.float64)
    both = A.T @ A
    size = np.diag(both)
    either = size[:, None] + size[None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - np.where(either > 0, both / either, 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def centroid_distances(genre_centroids: np.ndarray) -> np.ndarray:
    """Euclidean distances between all pairs of centroids (square, zero diagonal)."""
    return cdist(genre_centroids, genre_centroids)


def _upper(matrices: np.ndarray) -> np.ndarray:
    n = matrices.shape[-1]
    i, j = np.triu_indices(n, k=1)
    return matrices[..., i, j]


def mantel(d1: np.ndarray, d2: np.ndarray, n_perm: int = 9999, seed: int = 0) -> tuple[float, float]:
    """Mantel test: Spearman correlation between the upper triangles of two square dissimilarity matrices and the
    one-sided permutation p-value for a positive association, (1 + #{r_perm >= r}) / (1 + n_perm), permuting the
    rows and columns of `d2` together."""
    d1, d2 = np.asarray(d1, dtype=np.float64), np.asarray(d2, dtype=np.float64)
    if d1.ndim != 2 or d1.shape != d2.shape or d1.shape[0] != d1.shape[1] or d1.shape[0] < 3:
        raise ConfigError(f"mantel needs two square matrices of the same size >= 3, got {d1.shape} and {d2.shape}")
    if n_perm < 1:
        raise ConfigError(f"n_perm must be >= 1, got {n_perm}")
    n = d1.shape[0]
    x = scipy.stats.rankdata(_upper(d1))
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, n)), axis=1)
    permuted = d2[perms[:, :, None], perms[:, None, :]]
    ys = scipy.stats.rankdata(np.vstack([_upper(d2)[None, :], _upper(permuted)]), axis=1)
    xc = x - x.mean()
    yc = ys - ys.mean(axis=1, keepdims=True)
    r = (yc @ xc) / (np.linalg.norm(yc, axis=1) * np.linalg.norm(xc))
    return float(r[0]), float((1 + np.sum(r[1:] >= r[0] - 1e-12)) / (1 + n_perm))


def centrality(points: np.ndarray, labels: np.ndarray, center: np.ndarray | None = None) -> pd.Series:
    """Distance of every class centroid from `center` (default: the mean of all points), indexed by label."""
    classes = np.unique(labels)
    cents = centroids(points, labels, classes)
    center = np.asarray(points, dtype=np.float64).mean(axis=0) if center is None else np.asarray(center)
    return pd.Series(np.linalg.norm(cents - center, axis=1), index=classes, name="distance")


def genre_tastes(interactions, item_conditions) -> np.ndarray:
    """Users x conditions: the share of each user's items that have the condition (0 for users without items)."""
    X = sp.csr_array(interactions, dtype=np.float64)
    A = (np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions) > 0)
    counts = np.diff(X.indptr).astype(np.float64)
    return (X @ A.astype(np.float64)) / np.maximum(counts, 1.0)[:, None]


def profile_correlations(uncond_points: np.ndarray, genre_centroids: np.ndarray, tastes: np.ndarray) -> pd.DataFrame:
    """Profiling test: for every genre g, the Spearman correlation (and its p-value) between a user's taste for g
    and the position of their unconditioned point along the direction from the unconditioned centroid to g's
    centroid. Positive correlations mean "users lying towards the Comedy cluster watch more comedies"."""
    uncond_points = np.asarray(uncond_points, dtype=np.float64)
    tastes = np.asarray(tastes, dtype=np.float64)
    if tastes.shape != (uncond_points.shape[0], genre_centroids.shape[0]):
        raise ConfigError(f"tastes must be users x genres {(uncond_points.shape[0], genre_centroids.shape[0])}, "
                          f"got {tastes.shape}")
    center = uncond_points.mean(axis=0)
    directions = genre_centroids - center
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    projection = (uncond_points - center) @ directions.T  # users x genres
    rows = []
    for g in range(tastes.shape[1]):
        if np.ptp(tastes[:, g]) == 0:
            rows.append({"rho": np.nan, "p": np.nan})
            continue
        rho, p = scipy.stats.spearmanr(projection[:, g], tastes[:, g])
        rows.append({"rho": float(rho), "p": float(p)})
    return pd.DataFrame(rows)


def nearest_genres(genre_centroids: np.ndarray, names, n: int = 3) -> pd.DataFrame:
    """For every genre the `n` genres whose centroids are nearest (Euclidean)."""
    d = cdist(genre_centroids, genre_centroids)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1)[:, :n]
    names = np.asarray(list(names))
    return pd.DataFrame({"genre": names, **{f"nearest {k + 1}": names[order[:, k]] for k in range(n)}})


def _colors(n: int):
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20")
    return [cmap(i % 20) for i in range(n)]


def plot_view(ax, coords: np.ndarray, labels: np.ndarray, names, i: int, j: int, max_points: int = 250,
              seed: int = 0, annotate: bool = True):
    """Scatter of principal components i and j (0-based), one colour per genre, unconditioned users in black, genre
    centroids as large labelled markers. At most `max_points` points per class are drawn (seeded sample)."""
    names = list(names)
    rng = np.random.default_rng(seed)
    colors = _colors(len(names))
    for c in range(-1, len(names)):
        idx = np.flatnonzero(labels == c)
        if len(idx) > max_points:
            idx = rng.choice(idx, max_points, replace=False)
        color = "black" if c < 0 else colors[c]
        ax.scatter(coords[idx, i], coords[idx, j], s=3, alpha=0.35, color=color, linewidths=0,
                   label="no condition" if c < 0 else names[c], rasterized=True)
    if annotate:
        cents = centroids(coords, labels, np.arange(-1, len(names)))
        for c in range(-1, len(names)):
            x, y = cents[c + 1, i], cents[c + 1, j]
            color = "black" if c < 0 else colors[c]
            ax.scatter([x], [y], s=60, color=color, edgecolors="white", linewidths=1.0, zorder=3)
            ax.annotate("none" if c < 0 else names[c], (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points",
                        zorder=4)
    ax.set_xlabel(f"PC{i + 1}")
    ax.set_ylabel(f"PC{j + 1}")
    return ax


def pair_grid(coords: np.ndarray, labels: np.ndarray, names, n: int = 5, max_points: int = 120, seed: int = 0):
    """n x n grid of PC pairs (centroids only below the diagonal for legibility, histograms of each PC's centroid
    positions on the diagonal). Returns the figure."""
    import matplotlib.pyplot as plt

    names = list(names)
    colors = ["black"] + _colors(len(names))
    cents = centroids(coords, labels, np.arange(-1, len(names)))
    fig, axes = plt.subplots(n, n, figsize=(2.3 * n, 2.3 * n))
    for a in range(n):
        for b in range(n):
            ax = axes[a, b]
            if a == b:
                for c in range(-1, len(names)):
                    ax.hist(coords[labels == c, a], bins=30, histtype="step", color=colors[c + 1], linewidth=0.8)
            elif a > b:
                plot_view(ax, coords, labels, names, b, a, max_points=max_points, seed=seed, annotate=False)
            else:
                ax.scatter(cents[:, b], cents[:, a], c=colors, s=25)
            ax.set_xlabel(f"PC{b + 1}" if a == n - 1 else "")
            ax.set_ylabel(f"PC{a + 1}" if b == 0 else "")
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig
