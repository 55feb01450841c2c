"""SEMAUTO (Bellini et al. 2017/2018): one semantics-aware autoencoder per user, trained for all users at once.

For user u the network has one input and one output unit per item the user rated (ratings scaled to [0, 1]:
(r - 1) / 4 as the authors' code does, or r / 5) and one hidden unit per knowledge-graph feature of those items. A 0/1 item -> feature mask keeps only
item-feature connections in both layers:

    a = x (W1 * M),  h = sigmoid(a),  x_hat = sigmoid(h (W2 * M^T)),  L_u = 1/2 sum_i (x_hat_i - x_i)^2

trained with plain full-batch gradient descent (lr 0.3, 1,000 epochs, every weight initialised to 0.01).

Two implementations of exactly the same arithmetic:

* the literal dense network of one user, with W * M in the forward pass and the mask applied again to the weight
  gradients, one user after the other (what the authors' code does): the test oracle `tests/oracles.py`;
* `MaskedNetworks`: every existing connection of every user is one (user, item, feature) edge; one epoch for all users is
  two sparse matrix-vector products, a scatter-add and two fused weight updates over the edge arrays. A masked
  connection has no edge, so its gradient is zero by construction and users never share a parameter.

The user profile is the pre-activation a (one value per feature of the user's items), min-max scaled per user.
`SemAuto` is the recommender of the book's protocol: it trains the networks and ranks by feature summation (2017,
optionally with ubiquitous features down-weighted by IDF) or by user-kNN with cosine similarity between profiles
(2018), optionally on profiles enriched with word2vec feature embeddings as in the authors' 2018 pipeline
(`enrich_profiles`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..checks import as_csr, check_choice, check_int, check_number
from ..errors import ConfigError, DataError
from ..neighbours import cosine_similarity, knn_scores, top_neighbours
from .base import Entry, Recommender

__all__ = ["RATING_SCALE", "RATING_SCALES", "scale_ratings", "enrich_profiles", "feature_idf", "Graph",
           "build_graph", "MaskedNetworks", "UnmaskedNetworks", "user_mask", "minmax_profiles", "SemAuto"]

RATING_SCALE = 5.0  # the largest rating
MIN_RATING = 1.0
# "minmax": (r - 1) / 4, the authors' choice (TF: MinMaxScaler over all ratings; Java: normalizeRateMin=1, Max=5),
# so a 1-star film adds nothing to its features; "max": r / 5, so 1 star = 0.2 still adds positive weight
RATING_SCALES = ("minmax", "max")
LOSSES = ("sum", "mean")


def scale_ratings(ratings: np.ndarray, rating_scale: str = "minmax") -> np.ndarray:
    """Ratings 1..5 as network inputs in [0, 1]: (r - 1) / 4 ("minmax", authors) or r / 5 ("max")."""
    check_choice("rating_scale", rating_scale, RATING_SCALES)
    r = np.asarray(ratings, dtype=np.float64)
    return (r - MIN_RATING) / (RATING_SCALE - MIN_RATING) if rating_scale == "minmax" else r / RATING_SCALE


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _check_settings(epochs, lr, init, loss) -> None:
    check_int("epochs", epochs, 0)
    check_number("lr (learning rate)", lr, 0.0, low_open=True)
    check_number("init", init)
    check_choice("loss ('sum' as in the Java code, 'mean' as in TF)", loss, LOSSES)


def _check_inputs(train, item_features) -> tuple[sp.csr_array, sp.csr_array]:
    train = as_csr(train, "train", dtype=np.float64, nonneg=True, max_value=RATING_SCALE)
    mask = as_csr(item_features, "item_features", dtype=np.float64, binary=True)
    if train.shape[1] != mask.shape[0]:
        raise DataError(f"train has {train.shape[1]} items but item_features has {mask.shape[0]} rows")
    return train, mask


# ----------------------------------------------------------------------------------------------------------------
# the edge structure shared by every user's network
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Graph:
    """All users' networks as edges. 'ui' = a (user, rated item) pair = an input/output unit of that user's network;
    'uf' = a (user, feature) pair = a hidden unit; an edge = an existing item-feature connection inside one network.

    Edges are stored in 'A order' (sorted by ui, then feature); `perm` lists them in 'B order' (sorted by uf, then ui).
    """

    n_users: int
    n_items: int
    n_features: int
    ui_user: np.ndarray
    ui_item: np.ndarray
    x: np.ndarray  # scaled rating of each ui pair
    uf_user: np.ndarray
    uf_feat: np.ndarray
    edge_ui: np.ndarray  # A order
    edge_uf: np.ndarray  # A order
    perm: np.ndarray  # B order -> A order position
    uf_class: np.ndarray  # hidden unit -> class of identical hidden units (same user, same connected items)
    class_indptr: np.ndarray  # CSR over classes: the items (ui pairs) each class connects
    class_ui: np.ndarray
    class_size: np.ndarray  # number of hidden units in each class

    @property
    def n_classes(self) -> int:
        return len(self.class_size)

    @property
    def n_edges(self) -> int:
        return len(self.edge_ui)

    def users_of_ui(self) -> np.ndarray:
        return self.ui_user


def build_graph(train, item_features, rating_scale: str = "minmax", collapse: bool = True) -> Graph:
    """Build the (user, item, feature) edges of every user's masked network from ratings and the item x feature M.

    With `collapse`, hidden units of one user that connect exactly the same rated items are grouped: under the
    authors' constant initialisation they receive identical inputs and gradients at every epoch, so they stay equal
    and can be trained as one unit whose output contribution counts `class_size` times (an exact identity, checked
    against the uncollapsed network and the dense reference in the tests).
    """
    train, mask = _check_inputs(train, item_features)
    n_users, n_items = train.shape
    n_features = mask.shape[1]
    train.sort_indices()
    ui_user = np.repeat(np.arange(n_users), np.diff(train.indptr))
    ui_item = train.indices.astype(np.int64)
    x = scale_ratings(train.data, rating_scale)
    per_item = np.diff(mask.indptr)
    counts = per_item[ui_item]
    n_edges = int(counts.sum())
    edge_ui = np.repeat(np.arange(len(ui_item)), counts)
    offsets = np.arange(n_edges) - np.repeat(np.cumsum(counts) - counts, counts)
    edge_feat = mask.indices[np.repeat(mask.indptr[ui_item], counts) + offsets].astype(np.int64)
    key = ui_user[edge_ui] * n_features + edge_feat
    uf_key, edge_uf = np.unique(key, return_inverse=True)
    edge_uf = edge_uf.ravel()
    perm = np.argsort(edge_uf, kind="stable")  # ties keep ui order
    n_uf = len(uf_key)
    degree = np.bincount(edge_uf, minlength=n_uf)
    indptr = np.zeros(n_uf + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    cols_b = edge_ui[perm]
    uf_class = np.arange(n_uf)
    if collapse and n_uf:
        # a hidden unit's item set, hashed: sums of random 64-bit codes of its items (wrapping), two independent codes
        codes = np.random.default_rng(20170827).integers(0, 2**63, size=(2, len(ui_item)), dtype=np.uint64)
        sig = np.add.reduceat(codes[0][cols_b], indptr[:-1])
        check = np.add.reduceat(codes[1][cols_b], indptr[:-1])
        _, first, uf_class = np.unique(sig, return_index=True, return_inverse=True)
        uf_class = uf_class.ravel()
        if not np.array_equal(check, check[first][uf_class]):  # a hash collision (never seen): do not collapse
            uf_class = np.arange(n_uf)
    first = np.zeros(uf_class.max() + 1 if n_uf else 0, dtype=np.int64)
    first[uf_class[::-1]] = np.arange(n_uf)[::-1]  # the first hidden unit of every class represents it
    sizes = np.bincount(uf_class, minlength=len(first))
    class_deg = degree[first]
    class_indptr = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(class_deg, out=class_indptr[1:])
    starts = np.repeat(indptr[first], class_deg)
    class_ui = cols_b[starts + np.arange(class_indptr[-1]) - np.repeat(class_indptr[:-1], class_deg)]
    return Graph(n_users, n_items, n_features, ui_user, ui_item, x, uf_key // n_features, uf_key % n_features,
                 edge_ui, edge_uf, perm, uf_class, class_indptr, class_ui, sizes)


def _scale_rows(n_rows, n_cols, indptr, indices, data, factors) -> None:
    """data[e] *= factors[row of e] for a CSR layout, in place (scipy's C routine, else numpy's repeat)."""
    try:
        from scipy.sparse import _sparsetools

        _sparsetools.csr_scale_rows(n_rows, n_cols, indptr, indices, data, factors)
    except (ImportError, AttributeError, TypeError, ValueError):
        data *= np.repeat(factors, np.diff(indptr))


def _segment_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)


# ----------------------------------------------------------------------------------------------------------------
# the fast, batched model
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class MaskedNetworks:
    """All users' SEMAUTO networks trained at once over the edge arrays (mathematically one network per user).

    `loss="sum"`: L_u = 1/2 sum_i (x_hat - x)^2 as in the authors' Java code; `"mean"` divides by the user's number
    of rated items (TensorFlow version), so the same learning rate takes a smaller step for active users.

    One epoch, for all users at once (h, a, C per hidden unit; x, out, d per input/output unit; w2 per edge):

    * encoder: the update of W1[i, f] is always lr * x_i * delta_f, so W1 = W1(0) - x (outer) C on the mask, with
      C_f = lr * (sum over past epochs of delta_f). Hence a_f = a_f(0) - C_f * sum_{i -> f} x_i^2: the encoder costs
      one multiply-add per hidden unit and W1 never has to be stored (it is rebuilt exactly by `weights()`);
    * decoder: z = W2^T h and the back-propagated s = W2 d are two sparse matrix-vector products over the edges
      (gather / segment-sum), and W2 -= (h gathered by edge) * (d gathered by edge) is one pass over the edges.
    """

    epochs: int = 1000
    lr: float = 0.3
    init: float = 0.01
    loss: str = "sum"
    dtype: type = np.float32
    progress: bool = False
    rating_scale: str = "minmax"
    graph: Graph | None = field(default=None, repr=False)
    losses: np.ndarray | None = field(default=None, repr=False)

    def fit(self, train, item_features, graph: Graph | None = None, snapshots: tuple[int, ...] = ()) -> "MaskedNetworks":
        """Train every user's network; `snapshots` = epochs after which to keep a copy of the pre-activations."""
        _check_settings(self.epochs, self.lr, self.init, self.loss)
        g = graph if graph is not None else build_graph(train, item_features, self.rating_scale)
        self.graph = g
        dt = np.dtype(self.dtype)
        n_ui, n_c = len(g.x), g.n_classes
        cols = g.class_ui.astype(np.int32)
        rows = np.repeat(np.arange(n_c), np.diff(g.class_indptr))
        W2 = sp.csr_array((np.full(len(cols), self.init, dtype=dt), cols, g.class_indptr), shape=(n_c, n_ui))
        w2 = W2.data
        x64 = g.x.astype(np.float64)
        a0 = _segment_sum(self.init * x64[cols], rows, n_c).astype(dt)  # x W1(0)
        sq = _segment_sum(x64[cols] ** 2, rows, n_c).astype(dt)  # sum_{i -> f} x_i^2
        size = g.class_size.astype(dt)
        C = np.zeros(n_c, dtype=dt)
        n_rated = np.bincount(g.ui_user, minlength=g.n_users)
        step = (self.lr / n_rated[g.ui_user] if self.loss == "mean" else np.full(n_ui, self.lr)).astype(dt)
        x = g.x.astype(dt)
        buf = np.empty(len(cols), dtype=dt)
        keep = {int(e) for e in snapshots}
        self.snapshots = {0: a0.astype(np.float64)[g.uf_class]} if 0 in keep else {}
        losses = np.empty(self.epochs)
        epoch_range = range(self.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epoch_range = tqdm(epoch_range, desc="SEMAUTO epochs")
        for epoch in epoch_range:
            h = _sigmoid(a0 - C * sq)
            out = _sigmoid(W2.T @ (size * h))
            err = out - x
            losses[epoch] = 0.5 * float(np.square(err).sum())
            d = err * out * (1 - out) * step  # lr * dL/dz per output unit
            s = W2 @ d  # lr * W2 d with the weights before this update
            np.take(d, cols, out=buf)
            _scale_rows(n_c, n_ui, g.class_indptr, cols, buf, h)  # buf[e] *= h[row of e], in place
            w2 -= buf
            C += s * h * (1 - h)
            if epoch + 1 in keep:
                self.snapshots[epoch + 1] = (a0 - C * sq).astype(np.float64)[g.uf_class]
        self.losses = losses
        a = a0 - C * sq
        self.pre_ = a.astype(np.float64)[g.uf_class]
        self.pred_ = _sigmoid(W2.T @ (size * _sigmoid(a))).astype(np.float64)
        return self

    def _require(self) -> Graph:
        if self.graph is None:
            raise ConfigError("call fit() first")
        return self.graph

    def profiles(self, scaled: bool = True, pre: np.ndarray | None = None) -> np.ndarray:
        """Dense users x features profile: the pre-activation of every hidden unit (0 where the user has none),
        min-max scaled per user when `scaled`."""
        g = self._require()
        values = self.pre_ if pre is None else pre
        return minmax_profiles(g, values) if scaled else _dense_uf(g, values)

    def predictions(self) -> sp.csr_array:
        """Reconstructed ratings in [0, 1] of every rated (user, item) pair as a users x items CSR."""
        g = self._require()
        return sp.csr_array((self.pred_, (g.ui_user, g.ui_item)), shape=(g.n_users, g.n_items))


def _dense_uf(g: Graph, values: np.ndarray) -> np.ndarray:
    out = np.zeros((g.n_users, g.n_features))
    out[g.uf_user, g.uf_feat] = values
    return out


def minmax_profiles(g: Graph, values: np.ndarray) -> np.ndarray:
    """Scale each user's hidden-unit values to [0, 1] (min -> 0, max -> 1); absent features are 0. If all of a
    user's hidden units hold the same value (the unmasked network, or a user whose every training rating is one star
    under (r - 1) / 4), every one of them gets 1: the profile is the user's feature set."""
    lo = np.full(g.n_users, np.inf)
    hi = np.full(g.n_users, -np.inf)
    np.minimum.at(lo, g.uf_user, values)
    np.maximum.at(hi, g.uf_user, values)
    span = (hi - lo)[g.uf_user]
    flat = ~(span > 0)
    scaled = np.where(flat, 1.0, (values - lo[g.uf_user]) / np.where(flat, 1.0, span))
    return _dense_uf(g, scaled)


# ----------------------------------------------------------------------------------------------------------------
# the same network without the mask
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class UnmaskedNetworks:
    """SEMAUTO's network fully connected: every rated item of u to every hidden unit of u (same hidden size |F_u|).

    With the authors' constant initialisation every hidden unit receives the same input and the same gradient, so
    the hidden units stay identical for ever and the network is exactly a one-unit network whose output weights are
    multiplied by |F_u|. This class trains that exact equivalent (test: equal to the dense fully connected network).
    """

    epochs: int = 1000
    lr: float = 0.3
    init: float = 0.01
    loss: str = "sum"
    rating_scale: str = "minmax"
    graph: Graph | None = field(default=None, repr=False)

    def fit(self, train, item_features, graph: Graph | None = None) -> "UnmaskedNetworks":
        _check_settings(self.epochs, self.lr, self.init, self.loss)
        g = graph if graph is not None else build_graph(train, item_features, self.rating_scale)
        self.graph = g
        n_hidden = np.bincount(g.uf_user, minlength=g.n_users).astype(np.float64)
        n_rated = np.bincount(g.ui_user, minlength=g.n_users).astype(np.float64)
        u, x = g.ui_user, g.x
        starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.zeros(0, np.int64)
        users = u[starts]

        def _segment_sum(values, _groups, n):  # ui pairs are sorted by user: contiguous reduction
            out = np.zeros(n)
            out[users] = np.add.reduceat(values, starts)
            return out

        v1 = np.full(len(x), self.init)  # weight from item i to every hidden unit
        v2 = np.full(len(x), self.init)  # weight from every hidden unit to item i
        step = self.lr / (n_rated[u] if self.loss == "mean" else 1.0)
        self.losses = np.empty(self.epochs)
        for epoch in range(self.epochs):
            a = _segment_sum(x * v1, u, g.n_users)
            h = _sigmoid(a)
            out = _sigmoid(n_hidden[u] * h[u] * v2)
            err = out - x
            self.losses[epoch] = 0.5 * float(np.square(err).sum())
            d_out = err * out * (1 - out) * step
            d_hid = _segment_sum(v2 * d_out, u, g.n_users) * h * (1 - h)
            v2 -= d_out * h[u]
            v1 -= x * d_hid[u]
        self.pre_user_ = _segment_sum(x * v1, u, g.n_users)
        self.pred_ = _sigmoid(n_hidden[u] * _sigmoid(self.pre_user_)[u] * v2)
        self.n_hidden = n_hidden
        return self

    def profiles(self, scaled: bool = True) -> np.ndarray:
        """Every hidden unit of u holds the same pre-activation, so the min-max scaled profile is 1 on every feature
        of u's rated items and 0 elsewhere: the set of features, with no learned weighting."""
        g = self.graph
        values = self.pre_user_[g.uf_user]
        return minmax_profiles(g, values) if scaled else _dense_uf(g, values)


# ----------------------------------------------------------------------------------------------------------------
# one user's network as dense arrays (the chapter's mask figure; the literal reference of tests/oracles.py)
# ----------------------------------------------------------------------------------------------------------------


def user_mask(train, item_features, user: int, rating_scale: str = "minmax"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, mask, items, features) of one user's network: scaled ratings of the rated items, the items, their
    features (sorted) and the dense 0/1 mask."""
    train, mask = _check_inputs(train, item_features)
    row = train[[user], :]
    items = row.indices[np.argsort(row.indices)]
    x = scale_ratings(row.toarray()[0, items], rating_scale)
    sub = mask[items, :]
    feats = np.unique(sub.indices)
    return x, sub[:, feats].toarray(), items, feats


# ----------------------------------------------------------------------------------------------------------------
# the recommender of the book's protocol
# ----------------------------------------------------------------------------------------------------------------

RECOMMENDERS = ("sum", "sum-idf", "sum-mean", "knn")
W2V_SETTINGS = dict(bins=10, dim=100, window=500, epochs=50)  # the authors' config.ini (SEMAUTO-2.0)


def feature_idf(item_features) -> np.ndarray:
    """Inverse document frequency of each feature over the catalogue, log(n_items / items with the feature): a
    feature every film has ("language: English") weighs ~0, a rare one weighs most."""
    M = sp.csr_array(item_features)
    df = np.bincount(M.indices, minlength=M.shape[1]).astype(np.float64)
    return np.log(M.shape[0] / np.maximum(df, 1.0))


def enrich_profiles(profiles: np.ndarray, present, seed: int = 0, bins: int = 10, dim: int = 100,
                    window: int = 500, epochs: int = 50, block: int = 256) -> np.ndarray:
    """The authors' 2018 enrichment of min-max scaled profiles with word2vec (SEMAUTO-2.0's getSentencesWeighted +
    word2vecWeighted): each user is a sentence of tokens "feature_bin" (bin = the weight scaled to 1..`bins`,
    truncated), in decreasing weight; gensim's CBOW Word2Vec learns token embeddings; for every feature the user
    lacks, the most probable of its tokens given the user's sentence (the softmax of the mean context vector, i.e.
    gensim's predict_output_word) gives it the value of its bin; those values, min-max scaled per user to [0, 1],
    are added to the profile. `present` (users x features, truthy) marks each user's own features, which keep
    their weights. Deterministic for a seed (one worker thread)."""
    from gensim.models import Word2Vec

    P = np.asarray(profiles, dtype=np.float64)
    own = sp.csr_array(present, dtype=bool).toarray() if sp.issparse(present) else np.asarray(present, dtype=bool)
    if own.shape != P.shape:
        raise DataError(f"present has shape {own.shape} but profiles {P.shape}")
    users, feats = np.nonzero(own)
    weight = P[users, feats]
    level = np.minimum(np.floor(1 + (bins - 1) * weight), bins).astype(np.int64)
    order = np.lexsort((feats, -weight, users))
    tokens = np.array([f"{f}_{b}" for f, b in zip(feats[order], level[order])], dtype=object)
    sentences = [list(s) for s in np.split(tokens, np.cumsum(np.bincount(users, minlength=P.shape[0]))[:-1])]
    w2v = Word2Vec([s for s in sentences if s], vector_size=dim, window=window, min_count=1, epochs=epochs,
                   workers=1, seed=seed, sg=0, hs=0, negative=5)
    index = w2v.wv.key_to_index
    token_of = np.full((P.shape[1], bins), -1, dtype=np.int64)  # vocabulary index of (feature, bin), -1 if unseen
    for key, i in index.items():
        f, b = key.split("_")
        token_of[int(f), int(b) - 1] = i
    context = sp.csr_array((np.ones(len(tokens)), (users[order], [index[t] for t in tokens])),
                           shape=(P.shape[0], len(index)))  # user x token counts of each sentence
    counts = np.maximum(np.diff(context.indptr), 1)
    out = P.copy()
    known = token_of >= 0
    for start in range(0, P.shape[0], block):
        rows = slice(start, min(start + block, P.shape[0]))
        mean = (context[rows] @ w2v.wv.vectors) / counts[rows, None]  # gensim: l1 = mean of the context vectors
        logits = mean @ w2v.syn1neg.T
        per_feature = np.where(known, logits[:, np.maximum(token_of, 0)], -np.inf)  # (users, features, bins)
        best = per_feature.argmax(axis=2) + 1.0  # the most probable bin of each feature
        new = known.any(axis=1)[None, :] & ~own[rows]
        values = np.where(new, best, np.nan)
        lo, hi = np.nanmin(np.where(new, values, np.inf), axis=1), np.nanmax(np.where(new, values, -np.inf), axis=1)
        span = np.where(hi > lo, hi - lo, 1.0)  # sklearn's MinMaxScaler: a constant column becomes 0
        scaled = (values - lo[:, None]) / span[:, None]
        out[rows] = np.where(new, scaled, out[rows])
    return out


class SemAuto(Recommender):
    """SEMAUTO under the one protocol: `fit(train, side=item_features)` trains every user's network (masked, or
    fully connected with `masked=False`) and keeps the min-max scaled profiles; `score(users)` ranks by feature
    summation (`recommender="sum"`; `"sum-idf"` weighs each feature by its IDF, `"sum-mean"` averages over the film's
    features instead of summing) or by user-kNN over profile cosine
    similarity (`"knn"`, `k` neighbours, scores = similarity-weighted average of the neighbours' training ratings),
    on the profiles or, with `enriched`, on the word2vec-enriched profiles (`enrich_profiles`, seeded by `seed`).
    `variant(...)` re-targets a fitted model to another recommender, k or profile without retraining."""

    name = "SEMAUTO"

    def __init__(self, recommender: str = "knn", k: int = 20, epochs: int = 1000, lr: float = 0.3,
                 init: float = 0.01, loss: str = "sum", masked: bool = True, rating_scale: str = "minmax",
                 enriched: bool = False, seed: int = 0, w2v: dict | None = None, progress: bool = False) -> None:
        self.recommender = check_choice("recommender", recommender, RECOMMENDERS)
        self.k = check_int("k", k, 1)
        _check_settings(epochs, lr, init, loss)
        self.epochs, self.lr, self.init, self.loss = epochs, lr, init, loss
        self.rating_scale = check_choice("rating_scale", rating_scale, RATING_SCALES)
        self.masked, self.enriched, self.progress = bool(masked), bool(enriched), bool(progress)
        self.seed = check_int("seed", seed, 0)
        wrong = sorted(set(w2v or {}) - set(W2V_SETTINGS))
        if wrong:
            raise ConfigError(f"unknown word2vec settings {wrong}; allowed: {sorted(W2V_SETTINGS)}")
        self.w2v = {**W2V_SETTINGS, **(w2v or {})}

    def fit(self, train, *, valid=None, side=None, snapshots: tuple[int, ...] = ()) -> "SemAuto":
        """Train on `train` (ratings 1..5) with `side` = the items x features 0/1 mask. `valid` is not used: the
        authors train a fixed 1,000 epochs."""
        if side is None:
            raise ConfigError("SEMAUTO needs side = the items x features 0/1 matrix")
        self._set_train(train, dtype=np.float64, nonneg=True, max_value=RATING_SCALE)
        self.item_features_ = as_csr(side, "side (item features)", dtype=np.float64, binary=True)
        self.graph_ = build_graph(self.train_, self.item_features_, self.rating_scale)
        if self.masked:
            self.network_ = MaskedNetworks(self.epochs, self.lr, self.init, self.loss, progress=self.progress,
                                           rating_scale=self.rating_scale).fit(
                self.train_, self.item_features_, graph=self.graph_, snapshots=snapshots)
        else:
            self.network_ = UnmaskedNetworks(self.epochs, self.lr, self.init, self.loss, self.rating_scale).fit(
                self.train_, self.item_features_, graph=self.graph_)
        self.profiles_ = self.network_.profiles()
        self.shared_ = {}  # computed once per fitted model, shared by its variants (similarities, enrichment)
        losses = self.network_.losses
        self.history_ = pd.DataFrame({"epoch": np.arange(1, len(losses) + 1), "loss": losses})
        return self

    def variant(self, recommender: str | None = None, k: int | None = None,
                enriched: bool | None = None) -> "SemAuto":
        """A copy sharing the fitted networks, scoring with another recommender, number of neighbours or profile."""
        other = copy.copy(self)
        other.recommender = check_choice("recommender", recommender or self.recommender, RECOMMENDERS)
        other.k = check_int("k", k if k is not None else self.k, 1)
        other.enriched = self.enriched if enriched is None else bool(enriched)
        return other

    def _shared(self) -> dict:
        """What the fitted model computes once for all its variants (profile similarities, the enrichment)."""
        if getattr(self, "shared_", None) is None:
            self.shared_ = {}
        return self.shared_

    def profiles(self) -> np.ndarray:
        """The profiles this variant ranks with: the min-max scaled hidden layer, or its word2vec enrichment."""
        if not self.enriched:
            return self.profiles_
        shared = self._shared()
        if "enriched" not in shared:
            g = self.graph_
            present = sp.csr_array((np.ones(len(g.uf_user)), (g.uf_user, g.uf_feat)), shape=self.profiles_.shape)
            shared["enriched"] = enrich_profiles(self.profiles_, present, seed=self.seed, **self.w2v)
        return shared["enriched"]

    def score(self, users=None) -> np.ndarray:
        _, idx = self._rows(users)
        P = self.profiles()
        if self.recommender.startswith("sum"):  # score(u, j) = sum of u's profile weights over j's features
            M = self.item_features_
            if self.recommender == "sum-idf":  # each feature weighed by its IDF
                M = M @ sp.diags_array(feature_idf(M))
            elif self.recommender == "sum-mean":  # the mean over j's features instead of the sum
                M = sp.diags_array(1.0 / np.maximum(np.diff(M.indptr), 1)) @ M
            return np.asarray((M @ P[idx].T).T, dtype=np.float32)
        shared = self._shared()
        key = ("similarity", self.enriched)
        if key not in shared:
            shared[key] = cosine_similarity(P)
        S = shared[key][idx].copy()
        S[np.arange(len(idx)), idx] = -np.inf  # a user is never their own neighbour
        nbr, sim = top_neighbours(S, self.k)
        return knn_scores(nbr, sim, self.train_).astype(np.float32)


REGISTERED = {
    "SEMAUTO-sum": Entry(partial(SemAuto, recommender="sum"), side="item_features", cost=8.0),
    "SEMAUTO-kNN": Entry(partial(SemAuto, recommender="knn"), side="item_features", cost=8.0),
}
