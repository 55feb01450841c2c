"""Neighbourhood explainability of E-AutoRec (Haghighi et al. 2019, Eq. 5-7; Abdollahi & Nasraoui 2017).

For user u with neighbourhood N_u (the |N_u| most cosine-similar other users, computed on the training ratings)
the explainability score of item i is the expected rating of i among the neighbours,

    Exp(u, i) = sum_x x * |N_u ∩ U_{i,x}| / |N_u|,

where U_{i,x} is the set of users who gave item i the rating x. A neighbour who did not rate i contributes 0, so
the sum collapses to a matrix product: ``Exp = (A @ R) / |N_u|`` with A the 0/1 neighbour matrix (A[u, v] = 1
when v is in N_u) and R the training rating matrix. The explainability matrix is the thresholded score,
E(u, i) = Exp(u, i) if Exp(u, i) > theta else 0 (Eq. 7), in stars (0..5).

Everything here is computed from the matrix passed in, which must be the TRAINING ratings: test ratings never
reach E (tested in tests/test_explain.py). MEP itself is :func:`replication.metrics.mep_at_k`.

SEMAUTO's explanations read the user's feature profile instead: :func:`feature_reasons` lists the features of a
recommended film that weigh most in the profile, :func:`explanation_text` turns them into a sentence,
:func:`recommendations_table` does both for users' top-n lists, :func:`top_profile_features` shows a profile;
:func:`explanation_quality` measures those explanations over every user's list and :func:`score_share_by_frequency`
shows which features make a feature-summation score.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import settings
from .checks import as_csr, check_int, check_number
from .errors import ConfigError
from .metrics import top_k
from .models.semauto import Graph, feature_idf
from .models.sparse import MixedRatings
from .neighbours import nearest_rows

__all__ = ["neighbours", "neighbour_mixing", "explanation_scores", "explainability_matrix", "explainability_input",
           "neighbour_evidence", "explainable_mask", "ExplainableRows", "explainable_pairs", "feature_reasons",
           "explanation_text", "recommendations_table", "top_profile_features", "QUALITY", "explanation_quality",
           "score_share_by_frequency", "profile_correlation"]


def _ratings(train) -> sp.csr_array:
    return as_csr(train, "train", dtype=np.float64, nonneg=True)


_FOUND: dict[tuple[str, int], np.ndarray] = {}  # (digest of the ratings, n_neighbors) -> neighbour lists
_KEEP = 4  # neighbour lists kept per process (one chapter job asks for the same ones several times)


def neighbours(train, n_neighbors: int = 50) -> np.ndarray:
    """Indices (n_users, n_neighbors) of each user's most cosine-similar OTHER users, most similar first; ties go
    to the lower user index, so the result is deterministic. Found once per process for the same ratings and
    size (the costliest step on large data: the model's input, MEP and the Exp ranking all need them); the
    returned array is read-only."""
    R = _ratings(train)
    n_others = R.shape[0] - 1
    check_int("n_neighbors", n_neighbors, 1)
    if n_neighbors > n_others:
        raise ConfigError(f"n_neighbors={n_neighbors} exceeds the {n_others} other users")
    digest = hashlib.blake2b(digest_size=16)
    for part in (np.asarray(R.shape), R.indptr, R.indices, R.data):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = (digest.hexdigest(), int(n_neighbors))
    if key not in _FOUND:
        while len(_FOUND) >= _KEEP:
            _FOUND.pop(next(iter(_FOUND)))
        found = nearest_rows(R, n_neighbors)[0]
        found.flags.writeable = False
        _FOUND[key] = found
    return _FOUND[key]


def neighbour_mixing(train, n_neighbors: int = 50) -> sp.csr_array:
    """M (users x users, sparse): M[u, v] = 1 / |N_u| for each of u's neighbours v, so that M @ R is the matrix of
    Exp(u, i) of Eq. 5-6 for the training ratings R: each user's neighbours' mean rating vector."""
    return _adjacency(_ratings(train), n_neighbors, 1.0 / n_neighbors)


def _adjacency(R: sp.csr_array, n_neighbors: int, weight: float = 1.0) -> sp.csr_array:
    """Users x users sparse matrix with `weight` at (u, v) for each of u's `n_neighbors` neighbours v."""
    nbrs = neighbours(R, n_neighbors)
    rows = np.repeat(np.arange(R.shape[0]), n_neighbors)
    return sp.csr_array((np.full(rows.size, weight), (rows, nbrs.ravel())), shape=(R.shape[0], R.shape[0]))


def explainability_input(train, n_neighbors: int = 50, theta: float = 0.0):
    """E as E-AutoRec's extra input, always as a product of two sparse matrices
    (:class:`replication.models.sparse.MixedRatings`: the encoder runs two sparse products instead of multiplying
    a dense users x items block, which also keeps E small on large data). With theta = 0 nothing is thresholded away
    (Exp >= 0), so E = M @ R exactly; with theta > 0, the thresholded sparse E of :func:`explainability_matrix`
    behind an identity mixing (I @ E)."""

    if check_number("theta", theta, 0.0) > 0:
        E = explainability_matrix(train, n_neighbors, theta)
        return MixedRatings(sp.identity(E.shape[0], format="csr"), E)
    return MixedRatings(neighbour_mixing(train, n_neighbors), _ratings(train))


def _neighbour_sums(train, n_neighbors: int, users=None) -> sp.csr_array:
    """Sparse A @ R for the rows `users` (default all): each user's neighbours' summed training ratings."""
    R = _ratings(train)
    A = _adjacency(R, n_neighbors)
    return sp.csr_array(A if users is None else A[np.asarray(users)]) @ R


def explanation_scores(train, n_neighbors: int = 50, users=None) -> np.ndarray:
    """Dense Exp(u, i) of Eq. 5-6 for the rows `users` (default all users): the mean training rating of item i
    over N_u, 0 for non-raters."""
    return np.asarray(_neighbour_sums(train, n_neighbors, users).toarray()) / n_neighbors


def explainability_matrix(train, n_neighbors: int = 50, theta: float = 0.0) -> sp.csr_array:
    """Sparse E of Eq. 7 (float32, in stars): Exp(u, i) where it exceeds theta, else 0 (not stored); built
    sparse (no dense users x items matrix)."""
    return ExplainableRows(train, n_neighbors, theta).rows()


def neighbour_evidence(train, user: int, items, n_neighbors: int = 50) -> pd.DataFrame:
    """Why E favours `items` for `user`, in words a reader can check: how many of the user's `n_neighbors` nearest
    neighbours rated each item ("neighbours who rated it"), their mean rating of it (NaN when none did), and
    Exp(u, i) of Eq. 5-6 (that mean times the share of neighbours who rated it)."""
    R = _ratings(train)
    user = check_int("user", user, 0, R.shape[0] - 1)
    items = np.asarray(items, dtype=np.int64)
    if items.ndim != 1 or (items.size and (items.min() < 0 or items.max() >= R.shape[1])):
        raise ConfigError(f"items must be item indices in [0, {R.shape[1] - 1}], got {items.tolist()}")
    rows = R[neighbours(R, n_neighbors)[user]][:, items].toarray()
    rated = (rows > 0).sum(axis=0)
    total = rows.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(rated > 0, total / np.maximum(rated, 1), np.nan)
    return pd.DataFrame({"item": items, "neighbours who rated it": rated, "their mean rating": mean,
                         "Exp": total / n_neighbors})


class ExplainableRows:
    """E of Eq. 7 by rows: the neighbour lists are found once, E's rows computed when asked for, so that neither
    MEP nor the Exp ranking ever holds E whole (ML-20M: billions of pairs). `rows(users)` gives E's sparse rows
    (float32, as :func:`explainability_matrix`); calling it gives the 0/1 rows of E > 0 (what MEP checks)."""

    def __init__(self, train, n_neighbors: int = 50, theta: float = 0.0) -> None:
        self.ratings = _ratings(train)
        self.theta = check_number("theta", theta, 0.0)
        self.n_neighbors = n_neighbors
        self.adjacency = _adjacency(self.ratings, n_neighbors)

    def rows(self, users=None) -> sp.csr_array:
        chosen = self.adjacency if users is None else sp.csr_array(self.adjacency[np.asarray(users)])
        E = chosen @ self.ratings
        E.data = E.data / self.n_neighbors
        E.data[E.data <= self.theta] = 0.0
        E = sp.csr_array(E, dtype=np.float32)
        E.eliminate_zeros()
        E.sort_indices()
        return E

    def __call__(self, users) -> sp.csr_array:
        return explainable_mask(self.rows(users))


def explainable_pairs(train, n_neighbors: int = 50, theta: float = 0.0):
    """What MEP checks a list against, E(u, i) > theta: the whole 0/1 matrix when users x items is small enough
    to score densely (`settings.dense_entries()`, ML-1M included), else :class:`ExplainableRows`."""

    R = _ratings(train)
    if R.shape[0] * R.shape[1] <= settings.dense_entries():
        return explainable_mask(explainability_matrix(R, n_neighbors, theta))
    return ExplainableRows(R, n_neighbors, theta)


def explainable_mask(E, theta: float = 0.0) -> sp.csr_array:
    """0/1 CSR of the explainable (u, i) pairs, E(u, i) > theta, for MEP (metrics.mep_at_k)."""
    E = as_csr(E, "E", nonneg=True)
    E.data = (E.data > theta).astype(np.float32)
    E.eliminate_zeros()
    return E


# ----------------------------------------------------------------------------------------------------------------
# SEMAUTO: explanations from the explicit feature profile
# ----------------------------------------------------------------------------------------------------------------


def feature_reasons(profiles: np.ndarray, item_features, feature_table: pd.DataFrame, train, user: int, item: int,
            n: int = 3, titles=None, liked: float = 4.0, max_items: int | None = None) -> pd.DataFrame:
    """The `n` features of `item` that add most to its feature-summation score for `user`, with readable labels and
    the films the user rated >= `liked` that share each feature. `max_items` leaves out features linked to more
    films than that (e.g. "language: English"), which carry weight but explain nothing; None keeps all (authors)."""
    M = sp.csr_array(item_features)
    feats = M.indices[M.indptr[item]:M.indptr[item + 1]]
    if max_items is not None:
        feats = feats[feature_table["n_items"].to_numpy()[feats] <= max_items]
    weights = profiles[user, feats]
    order = np.argsort(-weights, kind="stable")[:n]
    R = sp.csr_array(train)
    row = R[[user], :]
    rated, stars = row.indices, row.data
    rows = []
    for f in feats[order]:
        col = M[:, [f]].toarray().ravel()
        shared = rated[(col[rated] > 0) & (stars >= liked)]
        shared = shared[np.argsort(-row.toarray()[0, shared], kind="stable")]
        rows.append({"feature": int(f), "relation": feature_table["relation"].iloc[f],
                     "label": feature_table["label"].iloc[f], "weight": float(profiles[user, f]),
                     "your films": [titles(int(i)) if titles else int(i) for i in shared[:3]]})
    return pd.DataFrame(rows, columns=["feature", "relation", "label", "weight", "your films"])


def explanation_text(title: str, table: pd.DataFrame) -> str:
    """One sentence: 'Recommended <title> because you rated highly films sharing: <label> (your X, Y); ...'."""
    if table.empty:
        return f"Recommended {title}: it has no knowledge-graph features in your profile."
    parts = []
    for _, r in table.iterrows():
        films = r["your films"]
        parts.append(r["label"] + (f" (your {', '.join(map(str, films))})" if films else ""))
    return f"Recommended {title} because your profile weighs its features: " + "; ".join(parts) + "."


def recommendations_table(profiles: np.ndarray, scores: np.ndarray, item_features, feature_table: pd.DataFrame,
                          train, users, titles, n: int = 3, n_features: int = 2,
                          max_items: int | None = None) -> pd.DataFrame:
    """Top-`n` unrated items of each user by `scores`, each with the sentence explaining it from the profile."""
    R = sp.csr_array(train)
    users = [int(u) for u in users]
    top = top_k(scores[users], n, exclude=R[users])
    rows = []
    for user, items in zip(users, top):
        for rank, item in enumerate(items, 1):
            table = feature_reasons(profiles, item_features, feature_table, R, user, int(item), n=n_features,
                                    titles=titles, max_items=max_items)
            rows.append({"user": user, "rank": rank, "film": titles(int(item)),
                         "explanation": explanation_text(titles(int(item)), table)})
    return pd.DataFrame(rows)


def top_profile_features(profile_row: np.ndarray, feature_table: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """The `n` largest weights of one user's profile with their readable labels."""
    order = np.argsort(-profile_row, kind="stable")[:n]
    return pd.DataFrame({"label": feature_table["label"].to_numpy()[order],
                         "relation": feature_table["relation"].to_numpy()[order], "weight": profile_row[order]})


QUALITY = ("explained", "grounded", "ubiquitous", "tied", "distinct", "most_common")


def _top_feature(profiles: np.ndarray, top: np.ndarray, item_features, allowed: np.ndarray | None = None):
    """For every (user, listed item) pair, row-major over `top` (users x k): the item's feature with the largest
    profile weight (ties: the lower feature index), its weight and the runner-up's weight (-inf if none); pairs
    whose item has no (allowed) feature get feature -1."""
    M = sp.csr_array(item_features)
    users = np.repeat(np.arange(top.shape[0]), top.shape[1])
    items = top.ravel()
    ok = items >= 0
    rows = M[np.where(ok, items, 0)]
    pair = np.repeat(np.arange(items.size), np.diff(rows.indptr))
    feat = rows.indices.astype(np.int64)
    keep = ok[pair] & (allowed[feat] if allowed is not None else True)
    pair, feat = pair[keep], feat[keep]
    weight = profiles[users[pair], feat]
    order = np.lexsort((feat, -weight, pair))
    pair, feat, weight = pair[order], feat[order], weight[order]
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if pair.size else np.array([], dtype=np.int64)
    best = np.full(items.size, -1, dtype=np.int64)
    best_w = np.full(items.size, -np.inf)
    second_w = np.full(items.size, -np.inf)
    best[pair[first]] = feat[first]
    best_w[pair[first]] = weight[first]
    nxt = first + 1
    valid = nxt < pair.size
    valid[valid] = pair[nxt[valid]] == pair[first[valid]]
    second_w[pair[first[valid]]] = weight[nxt[valid]]
    return users, best, best_w, second_w


def explanation_quality(profiles: np.ndarray, top: np.ndarray, item_features, feature_items: np.ndarray, liked,
                        ubiquitous_above: int, limit: int | None = None) -> dict[str, float]:
    """How good the feature explanations of top-k lists are, over every listed (user, film) pair: each film is
    explained by its feature with the largest weight in the user's profile (the authors' rule; `limit` leaves out
    features linked to more than `limit` films first).

    explained   share of pairs whose top feature has a positive weight (the profile says something about the film)
    grounded    share of pairs whose top feature links to a film the user liked (`liked`: users x items, > 0 =
                rated 4+ in training)
    ubiquitous  share of pairs whose top feature links to more than `ubiquitous_above` films
    tied        share of pairs whose top feature weighs exactly as much as another feature of the same film (often a
                duplicate hidden unit: features that link the same rated films share one weight), so the choice
                between them is arbitrary
    distinct    distinct top features / explained pairs (1 = every explanation different, small = the same few)
    most_common share of explanations citing the single most cited feature
    """
    feature_items = np.asarray(feature_items)
    allowed = feature_items <= limit if limit is not None else None
    users, best, best_w, second_w = _top_feature(np.asarray(profiles), np.asarray(top), item_features, allowed)
    listed = np.asarray(top).ravel() >= 0
    has = best >= 0
    likes = sp.csr_array(liked, dtype=np.float64) @ sp.csr_array(item_features, dtype=np.float64)  # users x feats
    grounded = np.zeros(best.size, dtype=bool)
    grounded[has] = np.asarray(likes[users[has], best[has]]).ravel() > 0
    cited = best[has & (best_w > 0)]
    n = max(int(listed.sum()), 1)
    counts = np.bincount(cited) if cited.size else np.zeros(1)
    return {"explained": float((has & (best_w > 0)).sum() / n), "grounded": float(grounded.sum() / n),
            "ubiquitous": float((has & (feature_items[np.maximum(best, 0)] > ubiquitous_above)).sum() / n),
            "tied": float((has & (best_w == second_w)).sum() / n),
            "distinct": float(np.count_nonzero(counts) / max(cited.size, 1)),
            "most_common": float(counts.max() / max(cited.size, 1))}


FREQUENCY_EDGES = (10, 50, 200)


def score_share_by_frequency(profiles: np.ndarray, top: np.ndarray, item_features, feature_items: np.ndarray,
                             idf: bool = False, edges=FREQUENCY_EDGES) -> pd.Series:
    """Share of the summed feature-summation score of the listed films (`top`: users x k) that comes from features
    linked to 1-10, 11-50, 51-200 and more films (`edges`); with `idf` each feature's weight is multiplied by its
    IDF, as the IDF-weighted summation does."""

    M = sp.csr_array(item_features, dtype=np.float64)
    users = np.repeat(np.arange(top.shape[0]), top.shape[1])
    items = np.asarray(top).ravel()
    users, items = users[items >= 0], items[items >= 0]
    rows = M[items]
    pair = np.repeat(np.arange(items.size), np.diff(rows.indptr))
    feat = rows.indices
    contribution = np.asarray(profiles)[users[pair], feat] * (feature_idf(M)[feat] if idf else 1.0)
    edges = list(edges)
    labels = [f"1-{edges[0]}"] + [f"{a + 1}-{b}" for a, b in zip(edges, edges[1:])] + [f"> {edges[-1]}"]
    group = np.searchsorted(edges, np.asarray(feature_items)[feat], side="left")
    total = np.bincount(group, weights=contribution, minlength=len(labels))
    return pd.Series(total / max(total.sum(), 1e-300), index=labels, name="share")


def profile_correlation(graph: Graph, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-user Pearson correlation between two sets of hidden-unit values (e.g. epoch 0 and the end of training),
    over that user's hidden units; NaN for users with fewer than two units or a constant set."""
    u = graph.uf_user
    n = np.bincount(u, minlength=graph.n_users).astype(float)
    safe = np.where(n > 0, n, 1.0)
    mb = np.bincount(u, before, graph.n_users) / safe
    ma = np.bincount(u, after, graph.n_users) / safe
    db, da = before - mb[u], after - ma[u]
    cov = np.bincount(u, db * da, graph.n_users)
    var = np.sqrt(np.bincount(u, db * db, graph.n_users) * np.bincount(u, da * da, graph.n_users))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 1) & (var > 0), cov / np.where(var > 0, var, 1.0), np.nan)
