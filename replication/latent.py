"""Latent-space measurements for the C-VAE chapter: the PCA pictures of Carraro, Polato & Aiolli (2020) turned into
numbers.

Pipeline: :func:`latent_points` encodes every user unconditioned and conditioned on each genre (latent means mu);
:func:`fit_pca` / :func:`pca_projection` project them on the first principal components; then

1. :func:`silhouette` -- do the conditions form clusters?
2. :func:`centroids`, :func:`cooccurrence_dissimilarity`, :func:`mantel` -- do related genres lie close? (Spearman
   correlation between centroid distances and genre co-occurrence dissimilarity, permutation p-value)
3. :func:`centrality` -- do unconditioned users sit at the centre?
4. :func:`centrality` + popularity -- are popular genres central and rare ones peripheral?
5. :func:`profile_correlations` -- does an unconditioned user's position tell their genre tastes?
6. :func:`shift_geometry`, :func:`condition_share` -- what a condition does to a user: one common translation, or a
   user-specific move? and how much of the latent variance is the condition?
7. :data:`PAPER_STATEMENTS`, :func:`score_statement`, :func:`neighbour_ranks` -- the paper's pairwise readings of
   genre centroids ("Thriller, Mystery and Crime are close to each other") as verdicts on a distance matrix;
   :func:`co_consumption_dissimilarity` relates genres by who watches them.

Plot helpers: :func:`plot_view` (one PC pair, genre clusters coloured, centroids labelled) and :func:`pair_grid`.
Everything is vectorised over users; loops run over genres or permutations only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.stats
from scipy.spatial.distance import cdist

from .errors import ConfigError
from .models import vae

__all__ = ["latent_points", "fit_pca", "pca_projection", "silhouette", "condition_share", "centroids",
           "cooccurrence_dissimilarity", "co_consumption_dissimilarity", "centroid_distances", "mantel", "centrality",
           "genre_tastes", "profile_correlations", "nearest_genres", "neighbour_ranks", "shift_vectors",
           "shift_geometry", "Statement", "STATEMENT_KINDS", "PAPER_STATEMENTS", "score_statement", "latent_spaces",
           "chance_rate", "PROFILE_AXIS", "profiling_axis", "component_stretch", "linear_cka", "procrustes_distance",
           "genre_order_agreement", "study_latent_space", "worked_user", "SPACES", "plot_view", "pair_grid"]

NO_CONDITION = vae.NO_CONDITION
SPACES = ("full latent", "5 PCs", "10 PCs", "PC2 x PC5", "PC3 x PC5")  # where the study reads the latent means


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


def _pca(points: np.ndarray, n_components: int, fit_mask: np.ndarray | None, seed: int):
    """The one PCA code path: (fitted sklearn PCA, points as float64) after checking the shapes."""
    from sklearn.decomposition import PCA

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or not 1 <= n_components <= min(points.shape):
        raise ConfigError(f"need a 2-D point matrix with at least n_components={n_components} rows and columns, "
                          f"got shape {points.shape}")
    fit = points if fit_mask is None else points[np.asarray(fit_mask, dtype=bool)]
    return PCA(n_components=n_components, random_state=seed).fit(fit), points


def fit_pca(points: np.ndarray, n_components: int = 5, fit_mask: np.ndarray | None = None, seed: int = 0):
    """PCA fitted on ``points[fit_mask]`` (default: all points) and applied to all points.
    Returns ``(coords, explained_variance_ratio)``; the origin of ``coords`` is the mean of the fitted points."""
    pca, points = _pca(points, n_components, fit_mask, seed)
    return pca.transform(points), pca.explained_variance_ratio_


def pca_projection(points: np.ndarray, n_components: int = 5,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of all points, as :func:`fit_pca`, plus where the latent origin (the zero vector, the prior's mean) lands,
    so that centrality can be measured from the prior's centre in PC coordinates too.
    Returns ``(coords, explained_variance_ratio, origin)`` with ``origin`` of length `n_components`."""
    pca, points = _pca(points, n_components, None, seed)
    origin = pca.transform(np.zeros((1, points.shape[1])))[0]
    return pca.transform(points), pca.explained_variance_ratio_, origin


def silhouette(points: np.ndarray, labels: np.ndarray, sample_size: int | None = 4000, seed: int = 0) -> float:
    """Mean silhouette of the points grouped by label (Euclidean), on a seeded random sample of `sample_size` points.
    +1: tight, well separated clusters; 0: overlapping; < 0: points closer to another cluster."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ConfigError("silhouette needs at least two distinct labels")
    size = None if sample_size is None or sample_size >= len(labels) else sample_size
    return float(silhouette_score(points, labels, sample_size=size, random_state=seed))


def condition_share(points: np.ndarray, labels: np.ndarray) -> float:
    """Share of the points' total variance explained by the label (eta squared): between-class sum of squares over
    the total sum of squares around the grand mean, 0 (labels tell nothing) .. 1 (every class a single point)."""
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if points.ndim != 2 or len(points) == 0 or labels.shape != (len(points),):
        raise ConfigError(f"condition_share needs a non-empty 2-D point matrix and one label per point, got points "
                          f"{points.shape} and labels {labels.shape}")
    classes, counts = np.unique(labels, return_counts=True)
    grand = points.mean(axis=0)
    total = float(((points - grand) ** 2).sum())
    if total == 0:
        raise ConfigError("condition_share: all points are identical (total variance is zero)")
    between = float((counts * ((centroids(points, labels, classes) - grand) ** 2).sum(axis=1)).sum())
    return between / total


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


def co_consumption_dissimilarity(interactions, item_conditions) -> np.ndarray:
    """Dissimilarity between conditions by who consumes them: 1 - Pearson correlation, across users with at least
    one item, of the users' genre shares (:func:`genre_tastes`); complements :func:`cooccurrence_dissimilarity`
    (genres co-labelling items). Zero diagonal; a condition whose share does not vary gets 1 to every other."""
    X = sp.csr_array(interactions, dtype=np.float64)
    A = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions)
    if A.ndim != 2 or A.shape[0] != X.shape[1]:
        raise ConfigError(f"item_conditions must be items x conditions with {X.shape[1]} items (the columns of "
                          f"interactions), got shape {A.shape}")
    active = np.asarray((X != 0).sum(axis=1)).ravel() > 0
    if active.sum() < 2:
        raise ConfigError(f"co_consumption_dissimilarity needs at least 2 users with items, got {int(active.sum())}")
    tastes = genre_tastes(X[active], A)
    centred = tastes - tastes.mean(axis=0)
    cov = centred.T @ centred
    scale = np.sqrt(np.diag(cov))
    varies = scale > 1e-12 * max(1.0, float(scale.max()))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(varies[:, None] & varies[None, :], cov / np.outer(scale, scale), 0.0)
    out = np.clip(1.0 - corr, 0.0, 2.0)
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


def neighbour_ranks(distances: np.ndarray) -> np.ndarray:
    """Rank of every class among another's neighbours, to read "b is a's 2nd nearest genre" off a distance matrix:
    ``R[a, b]`` = 1 for a's nearest other class .. C - 1 for its farthest (ties broken by index), diagonal 0."""
    D = np.asarray(distances, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ConfigError(f"neighbour_ranks needs a square distance matrix of at least 2 classes, got shape {D.shape}")
    if np.isnan(D).any() or not np.allclose(D, D.T):
        raise ConfigError("neighbour_ranks needs a symmetric distance matrix without NaN")
    n = len(D)
    # sort each row by (is the class itself, distance, index): the class itself goes last, even after an inf
    order = np.lexsort((D, np.eye(n, dtype=bool)), axis=-1)
    ranks = np.zeros((n, n), dtype=np.int64)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, n + 1), (n, n)), axis=1)
    np.fill_diagonal(ranks, 0)
    return ranks


def _shift_table(labels: np.ndarray, users: np.ndarray, n_points: int) -> np.ndarray:
    """users x (1 + C) table of point indices (column 0: unconditioned, column c + 1: condition c; -1: none)."""
    labels, users = np.asarray(labels), np.asarray(users)
    if labels.shape != (n_points,) or users.shape != (n_points,):
        raise ConfigError(f"{n_points} points need one label and one user each, got labels {labels.shape} and users "
                          f"{users.shape}")
    if n_points == 0 or labels.min() < NO_CONDITION or users.min() < 0:
        raise ConfigError("need points with labels >= -1 and user indices >= 0")
    if not (labels == NO_CONDITION).any() or labels.max() < 0:
        raise ConfigError("need unconditioned points (label -1) and points under at least one condition")
    if not (np.array_equal(labels, labels.astype(np.int64)) and np.array_equal(users, users.astype(np.int64))):
        raise ConfigError("labels and users must be integers")
    labels, users = labels.astype(np.int64), users.astype(np.int64)
    table = np.full((int(users.max()) + 1, int(labels.max()) + 2), -1, dtype=np.int64)
    table[users, labels + 1] = np.arange(n_points)
    if (table >= 0).sum() != n_points:
        keys, counts = np.unique(users * table.shape[1] + labels + 1, return_counts=True)
        user, column = divmod(int(keys[np.argmax(counts > 1)]), table.shape[1])
        raise ConfigError(f"user {user} has more than one point under condition {column - 1}")
    return table


def _user_shifts(points: np.ndarray, table: np.ndarray, c: int) -> np.ndarray:
    """Delta_c(u) = mu(u, c) - mu(u, unconditioned) for every user with both points (users x latent)."""
    both = (table[:, 0] >= 0) & (table[:, c + 1] >= 0)
    return points[table[both, c + 1]] - points[table[both, 0]]


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ConfigError(f"points must be a 2-D matrix (points x latent), got shape {points.shape}")
    return points


def shift_vectors(points: np.ndarray, labels: np.ndarray, users: np.ndarray) -> np.ndarray:
    """Mean shift of every condition, mean_u (mu(u, c) - mu(u, unconditioned)) over the users with both points,
    to draw where a condition moves users (C x latent, NaN rows for conditions without such users)."""
    points = _check_points(points)
    table = _shift_table(labels, users, len(points))
    out = np.full((table.shape[1] - 1, points.shape[1]), np.nan)
    for c in range(table.shape[1] - 1):
        delta = _user_shifts(points, table, c)
        if len(delta):
            out[c] = delta.mean(axis=0)
    return out


def shift_geometry(points: np.ndarray, labels: np.ndarray, users: np.ndarray) -> pd.DataFrame:
    """Is conditioning a translation of the latent space? Per condition c, from the user shifts
    Delta_c(u) = mu(u, c) - mu(u, unconditioned) (users matched through `users`; one without both points skipped):

    - ``shift``: ||mean_u Delta_c(u)||, how far the condition moves users on average;
    - ``deviation``: mean_u ||Delta_c(u) - mean Delta_c|| / ||mean Delta_c|| (0: all users move by the same vector);
    - ``spread_ratio``: sqrt(trace cov(points of c) / trace cov(unconditioned points)), population variances over
      all points of each label (1: the conditioned cloud is as spread as the unconditioned one);
    - ``cosine``: mean_u cos(Delta_c(u), mean Delta_c) (1: all users move the same way; a user that did not move
      counts 0).

    Indexed by condition 0..C-1 ("condition"); NaN where undefined (no matched users, a zero mean shift)."""
    points = _check_points(points)
    labels = np.asarray(labels)
    table = _shift_table(labels, users, len(points))
    means = shift_vectors(points, labels, users)
    uncond_var = points[labels == NO_CONDITION].var(axis=0).sum()
    rows = []
    for c in range(len(means)):
        delta, mean = _user_shifts(points, table, c), means[c]
        cond = points[labels == c]
        length = float(np.linalg.norm(mean))
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = float(np.sqrt(cond.var(axis=0).sum() / uncond_var)) if len(cond) else np.nan
            if len(delta):
                norms = np.linalg.norm(delta, axis=1)
                deviation = float(np.linalg.norm(delta - mean, axis=1).mean() / length) if length > 0 else np.nan
                cosine = float(((delta @ mean) / np.maximum(norms * length, 1e-300)).mean()) if length > 0 else np.nan
            else:
                deviation = cosine = np.nan
        rows.append({"shift": length, "deviation": deviation, "spread_ratio": spread, "cosine": cosine})
    return pd.DataFrame(rows, index=pd.RangeIndex(len(means), name="condition"))


STATEMENT_KINDS = ("close", "far", "nearest_set", "between", "isolated")


@dataclass(frozen=True)
class Statement:
    """One pairwise reading of the genre centroids, checkable on a distance matrix (see :func:`score_statement`).

    ``kind``: "close" (every genre of `others` among a's `k` nearest), "far" (among a's `k` farthest),
    "nearest_set" (at least `k` of a's len(others) nearest are in `others`), "between" (a lies between the two
    `others`: d(o1, o2) >= max(d(a, o1), d(a, o2))), "isolated" (a's nearest-neighbour distance among the `k`
    largest). ``where``: the place in the paper; ``space``: where the statement is judged first (the paper's
    Fig. 3 readings are about its PC3 x PC5 view, which it says "highly differ[s]" from Fig. 2's)."""

    id: str
    text: str
    kind: str
    a: str
    others: tuple[str, ...] = ()
    k: int = 3
    where: str = "Sec. 3.1, Fig. 2"
    space: str = "full latent"

    def __post_init__(self):
        if self.kind not in STATEMENT_KINDS:
            raise ConfigError(f"statement {self.id}: kind must be one of {STATEMENT_KINDS}, got {self.kind!r}")
        counts = {"between": (2, 2), "isolated": (0, 0)}.get(self.kind, (1, None))
        n = len(self.others)
        if n < counts[0] or (counts[1] is not None and n > counts[1]):
            raise ConfigError(f"statement {self.id}: kind {self.kind!r} takes {counts[0]}"
                              f"{'' if counts[1] == counts[0] else ' or more'} other genres, got {n}")
        if self.space not in SPACES:
            raise ConfigError(f"statement {self.id}: space must be one of {SPACES}, got {self.space!r}")
        if self.k < 1 or (self.kind == "nearest_set" and self.k > n):
            raise ConfigError(f"statement {self.id}: k must be >= 1 (and <= the named genres for nearest_set), "
                              f"got {self.k}")


_WAR = '"War is far away from Children and Animation, while it is near Drama and Romance"'
_HORROR = '"Horror is placed between Thriller and Sci-fi and is far away from Western"'
_THRILLER = '"Thriller, Mystery and Crime are close to each other"'
_OVERLAP = '"Mystery and Horror almost completely overlap"'
_PAIRS = '"Very similar considerations can be done for the pairs Children-Fantasy and War-Western"'
_OFFSIDE = '"Action, Musical and Documentary are a bit offside"'
_NOIR = ('"Film-noir genre is placed far away from every genre ... the nearest genres are Crime, Drama, Thriller and '
         'Mystery"')

#: The paper's readings of its Fig. 2 (Carraro, Polato & Aiolli 2020), in MovieLens-100K genre names.
PAPER_STATEMENTS: tuple[Statement, ...] = (
    Statement("thriller_mystery_close", f"Thriller is close to Mystery: {_THRILLER}", "close", "Thriller",
              ("Mystery",), 3),
    Statement("thriller_crime_close", f"Thriller is close to Crime: {_THRILLER}", "close", "Thriller", ("Crime",), 3),
    Statement("mystery_crime_close", f"Mystery is close to Crime: {_THRILLER}", "close", "Mystery", ("Crime",), 3),
    Statement("war_drama_close", f"War is close to Drama: {_WAR}", "close", "War", ("Drama",), 3),
    Statement("war_romance_close", f"War is close to Romance: {_WAR}", "close", "War", ("Romance",), 3),
    Statement("war_far_children", f"War is far from Children's: {_WAR}", "far", "War", ("Children's",), 5),
    Statement("war_far_animation", f"War is far from Animation: {_WAR}", "far", "War", ("Animation",), 5),
    Statement("horror_far_western", f"Horror is far from Western: {_HORROR}", "far", "Horror", ("Western",), 5),
    Statement("filmnoir_nearest", f"Film-Noir's nearest genres are Crime, Drama, Thriller and Mystery: {_NOIR}",
              "nearest_set", "Film-Noir", ("Crime", "Drama", "Thriller", "Mystery"), 3),
    Statement("horror_between_thriller_scifi", f"Horror lies between Thriller and Sci-Fi: {_HORROR}", "between",
              "Horror", ("Thriller", "Sci-Fi"), 1),
    Statement("filmnoir_isolated", f"Film-Noir is far from every genre: {_NOIR}", "isolated", "Film-Noir", (), 3),
    # Fig. 3 (PC3 x PC5): "overlap" read as "the nearest genre", "a bit offside" as "among the 5 most isolated"
    Statement("mystery_horror_overlap", f"Mystery and Horror overlap: {_OVERLAP}", "close", "Mystery", ("Horror",), 1,
              "Sec. 3.1, Fig. 3", "PC3 x PC5"),
    Statement("childrens_fantasy_overlap", f"Children's and Fantasy overlap: {_PAIRS}", "close", "Children's",
              ("Fantasy",), 1, "Sec. 3.1, Fig. 3", "PC3 x PC5"),
    Statement("war_western_overlap", f"War and Western overlap: {_PAIRS}", "close", "War", ("Western",), 1,
              "Sec. 3.1, Fig. 3", "PC3 x PC5"),
    Statement("action_offside", f"Action is offside: {_OFFSIDE}", "isolated", "Action", (), 5, "Sec. 3.1, Fig. 3",
              "PC3 x PC5"),
    Statement("musical_offside", f"Musical is offside: {_OFFSIDE}", "isolated", "Musical", (), 5, "Sec. 3.1, Fig. 3",
              "PC3 x PC5"),
    Statement("documentary_offside", f"Documentary is offside: {_OFFSIDE}", "isolated", "Documentary", (), 5,
              "Sec. 3.1, Fig. 3", "PC3 x PC5"),
)

#: Sec. 3.1.1: along the unconditioned cloud's vertical axis of Fig. 2 (PC5), light entertainment at one end and
#: "serious" films at the other.
PROFILE_AXIS = (("Comedy", "Romance"), ("Thriller", "Action", "Crime"))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def score_statement(statement: Statement, distances: np.ndarray, names) -> tuple[bool, str]:
    """Whether `statement` holds in the centroid distance matrix `distances` (rows and columns named by `names`),
    and a short detail such as "Mystery is Thriller's 2nd nearest of 17"."""
    names = list(names)
    ranks = neighbour_ranks(distances)
    D = np.asarray(distances, dtype=np.float64)
    if len(names) != len(D):
        raise ConfigError(f"{len(D)} classes in the distance matrix but {len(names)} names")
    index = {name: i for i, name in enumerate(names)}
    missing = [g for g in (statement.a, *statement.others) if g not in index]
    if missing:
        raise ConfigError(f"statement {statement.id}: genres not among the names: {', '.join(missing)}")
    a, others, k, n_other = index[statement.a], [index[g] for g in statement.others], statement.k, len(D) - 1
    if max(len(others), k if statement.kind in ("close", "far") else 0) > n_other:
        raise ConfigError(f"statement {statement.id}: k={k} or its {len(others)} named genres exceed the {n_other} "
                          f"other genres of the distance matrix")
    if statement.kind == "close":
        r = ranks[a, others]
        detail = "; ".join(f"{names[o]} is {names[a]}'s {_ordinal(int(x))} nearest of {n_other}"
                           for o, x in zip(others, r))
        return bool((r <= k).all()), detail
    if statement.kind == "far":
        far = n_other + 1 - ranks[a, others]
        detail = "; ".join(f"{names[o]} is {names[a]}'s {_ordinal(int(x))} farthest of {n_other}"
                           for o, x in zip(others, far))
        return bool((far <= k).all()), detail
    if statement.kind == "nearest_set":
        nearest = np.argsort(ranks[a])[1:len(others) + 1]  # ranks[a] is a permutation of 0..C-1, 0 = a itself
        hits = int(np.isin(nearest, others).sum())
        detail = (f"{names[a]}'s {len(others)} nearest: {', '.join(names[i] for i in nearest)} "
                  f"({hits} of {len(others)} named)")
        return hits >= k, detail
    if statement.kind == "between":
        o1, o2 = others
        outer, inner = D[o1, o2], max(D[a, o1], D[a, o2])
        detail = (f"d({names[o1]}, {names[o2]}) = {outer:.3g} vs max(d({names[a]}, {names[o1]}) = {D[a, o1]:.3g}, "
                  f"d({names[a]}, {names[o2]}) = {D[a, o2]:.3g})")
        return bool(outer >= inner), detail
    nn = np.where(np.eye(len(D), dtype=bool), np.inf, D).min(axis=1)
    place = int((nn > nn[a]).sum()) + 1  # ties count in a's favour
    detail = f"{names[a]}'s nearest-neighbour distance {nn[a]:.3g} is the {_ordinal(place)} largest of {len(D)}"
    return place <= k, detail


def chance_rate(statement: Statement, distances: np.ndarray) -> float:
    """How often a statement of the same form holds for randomly chosen genres in the same distance matrix: the
    share of all substitutions of its genres (ordered, distinct) for which it holds. "close"/"far" with m named
    genres: C(k, m) / C(n_other, m); "nearest_set": hypergeometric (at least k of a's m nearest among m random
    genres); "isolated": the share of genres among the k largest nearest-neighbour distances (k / n, more where
    mutual nearest neighbours tie, since ties count in a genre's favour); "between": the share of ordered triples
    (a, o1, o2) with d(o1, o2) >= max(d(a, o1), d(a, o2)) (1/3 without ties: every triangle has one longest side).
    None of them depends on where the genres lie, which is why they are the statements' chance rates."""
    from math import comb

    D = np.asarray(distances, dtype=np.float64)
    n, m, k = len(D), len(statement.others), statement.k
    n_other = n - 1
    if statement.kind in ("close", "far"):
        return comb(k, m) / comb(n_other, m) if m <= n_other else float("nan")
    if statement.kind == "nearest_set":
        return float(scipy.stats.hypergeom(n_other, m, m).sf(k - 1))
    if statement.kind == "isolated":
        nn = np.where(np.eye(n, dtype=bool), np.inf, D).min(axis=1)
        places = (nn[None, :] > nn[:, None]).sum(axis=1) + 1
        return float((places <= k).mean())
    inner = np.maximum(D[:, :, None], D[:, None, :])  # [a, o1, o2] = max(d(a, o1), d(a, o2))
    holds = D[None, :, :] >= inner
    distinct = (np.arange(n)[:, None, None] != np.arange(n)[None, :, None]) & \
               (np.arange(n)[:, None, None] != np.arange(n)[None, None, :]) & \
               (np.arange(n)[None, :, None] != np.arange(n)[None, None, :])
    return float(holds[distinct].mean())


def profiling_axis(axis: np.ndarray, tastes: np.ndarray, names, ends=PROFILE_AXIS) -> dict[str, float]:
    """Sec. 3.1.1's reading of the unconditioned cloud: along `axis` (one coordinate per unconditioned user) the
    share of light entertainment (``ends[0]``) and of "serious" films (``ends[1]``) in a user's history correlate
    with opposite signs, both significantly (Spearman, p < 0.05). Returns both rhos, p-values and ``holds``."""
    names = list(names)
    missing = [g for g in (*ends[0], *ends[1]) if g not in names]
    if missing:
        raise ConfigError(f"profiling_axis: genres not among the names: {', '.join(missing)}")
    tastes = np.asarray(tastes, dtype=np.float64)
    axis = np.asarray(axis, dtype=np.float64)
    if tastes.shape != (len(axis), len(names)):
        raise ConfigError(f"tastes must be users x genres {(len(axis), len(names))}, got {tastes.shape}")
    out: dict[str, float] = {}
    for label, genres in zip(("light", "serious"), ends):
        share = tastes[:, [names.index(g) for g in genres]].sum(axis=1)
        rho, p = scipy.stats.spearmanr(axis, share)
        out[f"rho {label}"], out[f"p {label}"] = float(rho), float(p)
    out["holds"] = float(out["rho light"] * out["rho serious"] < 0 and max(out["p light"], out["p serious"]) < 0.05)
    return out


def component_stretch(coords: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per principal component, the share of its variance within the conditions (1 - the condition's share on that
    component alone): the paper's "the fourth principal component stretches the clusters" is PC4 having the
    largest within-condition share."""
    return np.array([1.0 - condition_share(coords[:, [j]], labels) for j in range(coords.shape[1])])


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) of two representations of the same rows: 1 when
    one is an orthogonal transform and isotropic scaling of the other, near 0 for unrelated ones."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or len(X) < 2:
        raise ConfigError(f"linear_cka needs two 2-D matrices with the same rows (>= 2), got {X.shape} and {Y.shape}")
    X, Y = X - X.mean(axis=0), Y - Y.mean(axis=0)
    cross = np.linalg.norm(Y.T @ X) ** 2
    return float(cross / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def procrustes_distance(X: np.ndarray, Y: np.ndarray) -> float:
    """Orthogonal Procrustes disparity of two representations of the same rows (both centred and scaled to unit
    Frobenius norm, the best rotation and scaling of one onto the other): 0 identical up to those, 1 unrelated."""
    from scipy.spatial import procrustes

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.shape != Y.shape or X.ndim != 2:
        raise ConfigError(f"procrustes_distance needs two matrices of the same shape, got {X.shape} and {Y.shape}")
    return float(procrustes(X, Y)[2])


def genre_order_agreement(a: np.ndarray, b: np.ndarray, components=(1, 2, 4)) -> float:
    """Do two repetitions' views order the genres alike? Mean over `components` (default PC2, PC3, PC5, the axes of
    the paper's views) of |Spearman rho| between the genre centroids' coordinates (the sign of a component is
    arbitrary)."""
    return float(np.mean([abs(scipy.stats.spearmanr(a[:, j], b[:, j])[0]) for j in components]))


# ---------------------------------------------------------------------------------------------------- the study


def latent_spaces(points: np.ndarray, seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The spaces a replicator could read the latent means in, each as (coordinates, where the latent origin lands):
    the full latent space, the first 5 and 10 principal components, and the paper's 2-D views PC2 x PC5 and
    PC3 x PC5. Also returns the variance shares of the first 10 components."""
    n_pc = min(10, *points.shape)
    c10, explained, o10 = pca_projection(points, n_pc, seed=seed)
    five = min(5, n_pc)
    spaces = {"full latent": (points, np.zeros(points.shape[1])), "5 PCs": (c10[:, :five], o10[:five]),
              "10 PCs": (c10, o10)}
    if n_pc >= 5:
        spaces |= {"PC2 x PC5": (c10[:, [1, 4]], o10[[1, 4]]), "PC3 x PC5": (c10[:, [2, 4]], o10[[2, 4]])}
    return spaces, explained


def study_latent_space(model: vae.MultVAE, X: sp.csr_array, G: np.ndarray, names: list[str], n_perm: int,
                       silhouette_sample: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The paper's readings of the latent means, measured in every space and from every centre: clusters
    (silhouette, the condition's share of the variance), related genres close (Mantel test against co-consumption
    and co-labelling), the unconditioned centroid's rank from the centre, popularity against distance from the
    centre, profiling, the paper's pairwise statements, and the shift vectors (is a condition a translation?)."""
    points, labels, users = latent_points(model, X)
    n_genres = G.shape[1]
    popularity = np.asarray((X @ G).sum(axis=0)).ravel()
    relations = {"co-consumption": co_consumption_dissimilarity(X, G),
                 "co-labelling": cooccurrence_dissimilarity(G)}
    tastes = genre_tastes(X, G)
    statements = [s for s in PAPER_STATEMENTS if {s.a, *s.others} <= set(names)]
    spaces, explained = latent_spaces(points, seed)
    out: list[dict[str, Any]] = []

    def record(space: str, metric: str, value: float, centre: str = "") -> None:
        out.append({"space": space, "centre": centre, "metric": metric, "value": float(value)})

    figures: dict[str, Any] = {"explained": explained, "popularity": popularity}
    for space, (coords, origin) in spaces.items():
        cents = centroids(coords, labels, np.arange(-1, n_genres))  # row 0: unconditioned
        D = centroid_distances(cents[1:])
        record(space, "silhouette", silhouette(coords, labels, sample_size=silhouette_sample, seed=seed))
        record(space, "condition share", condition_share(coords, labels))
        for relation, dissimilarity in relations.items():
            r, p = mantel(D, dissimilarity, n_perm=n_perm, seed=seed)
            record(space, f"mantel r ({relation})", r)
            record(space, f"mantel p ({relation})", p)
        centres = {"unconditioned centroid": cents[0], "mean of all points": coords.mean(axis=0),
                   "latent origin": origin}
        for centre, where in centres.items():
            dist = np.linalg.norm(cents - where, axis=1)
            rho, p = scipy.stats.spearmanr(popularity, dist[1:])
            record(space, "popularity rho", rho, centre)
            record(space, "popularity p", p, centre)
            if centre != "unconditioned centroid":
                record(space, "rank of unconditioned", 1 + (dist[1:] < dist[0]).sum(), centre)
            if space == "5 PCs":
                figures[f"distance from {centre}"] = dist
        profile = profile_correlations(coords[labels == NO_CONDITION], cents[1:], tastes)
        record(space, "profiling share", ((profile["rho"] > 0) & (profile["p"] < 0.05 / n_genres)).mean())
        scored = {s.id: score_statement(s, D, names) for s in statements}
        for s in statements:
            record(space, f"statement {s.id}", scored[s.id][0])
            record(space, f"chance {s.id}", chance_rate(s, D))
            if s.space == space:  # what each statement found where it is judged first
                figures.setdefault("details", {})[s.id] = scored[s.id][1]
        if space in ("full latent", "5 PCs"):
            geometry = shift_geometry(coords, labels, users)
            record(space, "mean cosine", geometry["cosine"].mean())
            record(space, "median deviation", geometry["deviation"].median())
            record(space, "mean spread ratio", geometry["spread_ratio"].mean())
            record(space, "mean shift", geometry["shift"].mean())
            if space == "full latent":
                figures["geometry"] = geometry.assign(genre=names)
                figures["profile"] = profile
        if space == "10 PCs":
            stretch = component_stretch(coords, labels)
            for j, share in enumerate(stretch):
                record(space, f"within-condition share PC{j + 1}", share)
            if len(stretch) >= 5:
                record(space, "PC4 stretch rank", 1 + (stretch[:5] > stretch[3]).sum())
                record(space, "PC4 stretch rank of 10", 1 + (stretch > stretch[3]).sum())
            uncond = labels == NO_CONDITION
            own_axis = fit_pca(points[uncond], 1, seed=seed)[0][:, 0]
            for axis_name, axis in (("PC5", coords[uncond, 4]), ("PC3", coords[uncond, 2]),
                                    ("unconditioned PC1", own_axis)):
                if axis_name != "unconditioned PC1" and coords.shape[1] < 5:
                    continue
                if set(PROFILE_AXIS[0] + PROFILE_AXIS[1]) <= set(names):
                    for metric, value in profiling_axis(axis, tastes, names).items():
                        record(f"{axis_name} axis", f"profiling axis {metric}", value)
        if space == "5 PCs":
            figures["stability"] = {"mu": points[labels == NO_CONDITION].astype(np.float32), "centroids": cents}
            sample = np.random.default_rng(seed).permutation(len(labels))[: 250 * (n_genres + 1)]
            figures |= {"coords": coords[sample].astype(np.float32), "labels": labels[sample],
                        "centroids": cents, "origin": origin,
                        "shifts": shift_vectors(coords, labels, users)}
    return out, figures


def worked_user(model: vae.MultVAE, split: Any, data: Any, k: int = 10) -> dict[str, Any]:
    """One test user's history and top-k lists: unconditioned, under their favourite genre and under a genre they
    rarely watch (among genres with >= 50 films); held-out hits marked. The user: the one whose fold-in history
    length is the median of the fold's test users with at least 20 fold-in items (deterministic)."""
    G = data.genre_matrix()
    sizes = np.diff(sp.csr_array(split.test_in).indptr)
    candidates = np.flatnonzero(sizes >= 20)
    if not len(candidates):
        candidates = np.arange(len(sizes))
    row = int(candidates[np.argsort(sizes[candidates], kind="stable")[len(candidates) // 2]])
    history = split.test_in[[row]].indices
    held_out = set(split.test_out[[row]].indices.tolist())
    taste = G[history].mean(axis=0)
    common = G.sum(axis=0) >= 50
    favourite = int(np.argmax(taste))
    rare = int(np.flatnonzero(common)[np.argmin(taste[common])]) if common.any() else int(np.argmin(taste))
    genres = list(data.genres)

    def top(condition: int | None) -> list[str]:
        scores = model.score(split.test_in[[row]], condition=condition)[0]
        scores[history] = -np.inf
        items = np.argsort(-scores, kind="stable")[:k]
        return [f"{data.title(i)}{' ✓' if i in held_out else ''}" for i in items]

    lists = pd.DataFrame({"no condition": top(None), f"condition: {genres[favourite]}": top(favourite),
                          f"condition: {genres[rare]}": top(rare)}, index=pd.RangeIndex(1, k + 1, name="rank"))
    shares = pd.Series(taste, index=genres).sort_values(ascending=False)
    return {"user": int(np.asarray(split.test_users)[row]), "n_history": int(len(history)),
            "n_held_out": len(held_out), "shares": shares, "lists": lists, "favourite": genres[favourite],
            "rare": genres[rare]}


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
