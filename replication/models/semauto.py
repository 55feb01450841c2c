"""SEMAUTO (Bellini et al. 2017/2018): one semantics-aware autoencoder per user, trained for all users at once.

For user u the network has one input and one output unit per item the user rated (ratings scaled to [0, 1] by
dividing by 5) and one hidden unit per knowledge-graph feature of those items. A 0/1 item -> feature mask keeps only
item-feature connections in both layers:

    a = x (W1 * M),  h = sigmoid(a),  x_hat = sigmoid(h (W2 * M^T)),  L_u = 1/2 sum_i (x_hat_i - x_i)^2

trained with plain full-batch gradient descent (lr 0.3, 1,000 epochs, every weight initialised to 0.01).

Two implementations of exactly the same arithmetic:

* `reference_user` / `reference_fit`: the literal dense network of one user, with W * M in the forward pass and
  the mask applied again to the weight gradients, one user after the other (what the authors' code does);
* `SemAuto`: every existing connection of every user is one (user, item, feature) edge; one epoch for all users is
  two sparse matrix-vector products, a scatter-add and two fused weight updates over the edge arrays. A masked
  connection has no edge, so its gradient is zero by construction and users never share a parameter.

The user profile is the pre-activation a (one value per feature of the user's items), min-max scaled per user.
Recommenders: feature summation (2017) and user-kNN with cosine similarity between profiles (2018).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from replication.errors import ConfigError, DataError

__all__ = [
    "RATING_SCALE", "Graph", "build_graph", "SemAuto", "UnmaskedAE", "reference_user", "reference_fit",
    "user_mask", "minmax_profiles", "sum_scores", "cosine_neighbours", "knn_scores", "explain", "explanation_text",
]

RATING_SCALE = 5.0  # ratings 1..5 become 0.2..1.0 (dividing by the maximum keeps a 1-star rating non-zero)
LOSSES = ("sum", "mean")


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _check_settings(epochs, lr, init, loss) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not np.isfinite(lr) or lr <= 0:
        raise ConfigError(f"learning rate must be a positive number, got {lr!r}")
    if not np.isfinite(init):
        raise ConfigError(f"init must be a finite number, got {init!r}")
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES} ('sum' as in the Java code, 'mean' as in TF), got {loss!r}")


def _check_inputs(train, item_features) -> tuple[sp.csr_array, sp.csr_array]:
    if not sp.issparse(train) or train.ndim != 2:
        raise DataError(f"train must be a 2-D scipy.sparse users x items rating matrix, got {type(train).__name__}")
    if not sp.issparse(item_features) or item_features.ndim != 2:
        raise DataError(f"item_features must be a 2-D scipy.sparse items x features 0/1 matrix, "
                        f"got {type(item_features).__name__}")
    train = sp.csr_array(train, dtype=np.float64)
    train.sum_duplicates()
    train.eliminate_zeros()
    if train.shape[1] != item_features.shape[0]:
        raise DataError(f"train has {train.shape[1]} items but item_features has {item_features.shape[0]} rows")
    if train.nnz and (train.data.min() < 0 or train.data.max() > RATING_SCALE):
        raise DataError(f"ratings must lie in (0, {RATING_SCALE}], got range "
                        f"[{train.data.min()}, {train.data.max()}]")
    mask = sp.csr_array(item_features, dtype=np.float64)
    mask.sum_duplicates()
    mask.eliminate_zeros()
    if mask.nnz and not np.all(mask.data == 1):
        raise DataError("item_features must be a 0/1 matrix")
    mask.sort_indices()
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


def build_graph(train, item_features, scale: float = RATING_SCALE, collapse: bool = True) -> Graph:
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
    x = train.data / scale
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
class SemAuto:
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
    graph: Graph | None = field(default=None, repr=False)
    losses: np.ndarray | None = field(default=None, repr=False)

    def fit(self, train, item_features, graph: Graph | None = None, snapshots: tuple[int, ...] = ()) -> "SemAuto":
        """Train every user's network; `snapshots` = epochs after which to keep a copy of the pre-activations."""
        _check_settings(self.epochs, self.lr, self.init, self.loss)
        g = graph if graph is not None else build_graph(train, item_features)
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
    user's hidden units hold the same value (the unmasked network), every one of them gets 1."""
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
class UnmaskedAE:
    """SEMAUTO's network fully connected: every rated item of u to every hidden unit of u (same hidden size |F_u|).

    With the authors' constant initialisation every hidden unit receives the same input and the same gradient, so
    the hidden units stay identical for ever and the network is exactly a one-unit network whose output weights are
    multiplied by |F_u|. This class trains that exact equivalent (test: equal to the dense fully connected network).
    """

    epochs: int = 1000
    lr: float = 0.3
    init: float = 0.01
    loss: str = "sum"
    graph: Graph | None = field(default=None, repr=False)

    def fit(self, train, item_features, graph: Graph | None = None) -> "UnmaskedAE":
        _check_settings(self.epochs, self.lr, self.init, self.loss)
        g = graph if graph is not None else build_graph(train, item_features)
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
# the literal reference: one dense masked network per user
# ----------------------------------------------------------------------------------------------------------------


def user_mask(train, item_features, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, mask, items, features) of one user's network: rated items, their features (sorted), dense 0/1 mask."""
    train, mask = _check_inputs(train, item_features)
    row = train[[user], :]
    items = row.indices[np.argsort(row.indices)]
    x = row.toarray()[0, items] / RATING_SCALE
    sub = mask[items, :]
    feats = np.unique(sub.indices)
    return x, sub[:, feats].toarray(), items, feats


def reference_user(x: np.ndarray, mask: np.ndarray, epochs: int = 1000, lr: float = 0.3, init: float = 0.01,
                   loss: str = "sum", dtype=np.float64) -> dict:
    """Train one user's dense network literally: W1 (items x features) and W2 (features x items) are full matrices,
    the mask multiplies them in the forward pass and the gradients in the backward pass."""
    _check_settings(epochs, lr, init, loss)
    x = np.asarray(x, dtype=dtype)
    mask = np.asarray(mask, dtype=dtype)
    if mask.ndim != 2 or mask.shape[0] != len(x):
        raise DataError(f"mask must be (n_items={len(x)}, n_features), got {mask.shape}")
    W1 = np.full(mask.shape, init, dtype=dtype)
    W2 = np.full(mask.T.shape, init, dtype=dtype)
    step = lr / (len(x) if loss == "mean" else 1)
    losses = np.empty(epochs)
    for epoch in range(epochs):
        a = x @ (W1 * mask)
        h = _sigmoid(a)
        out = _sigmoid(h @ (W2 * mask.T))
        losses[epoch] = 0.5 * float(np.sum((out - x) ** 2))
        d_out = (out - x) * out * (1 - out)
        d_hid = (d_out @ (W2 * mask.T).T) * h * (1 - h)
        W2 -= step * np.outer(h, d_out) * mask.T
        W1 -= step * np.outer(x, d_hid) * mask
    a = x @ (W1 * mask)
    out = _sigmoid(_sigmoid(a) @ (W2 * mask.T))
    return {"pre": a, "pred": out, "W1": W1, "W2": W2, "losses": losses}


def reference_fit(train, item_features, users, epochs: int = 1000, lr: float = 0.3, init: float = 0.01,
                  loss: str = "sum", dtype=np.float64) -> dict:
    """Loop over `users`, training each user's dense masked network; returns raw and min-max profiles
    (users x all features) and predictions (users x items, rated items only)."""
    train, mask = _check_inputs(train, item_features)
    n_items, n_features = mask.shape
    users = np.asarray(users)
    raw = np.zeros((len(users), n_features))
    scaled = np.zeros((len(users), n_features))
    pred = np.zeros((len(users), n_items))
    for row, user in enumerate(users):
        x, m, items, feats = user_mask(train, mask, int(user))
        out = reference_user(x, m, epochs, lr, init, loss, dtype)
        raw[row, feats] = out["pre"]
        span = out["pre"].max() - out["pre"].min() if len(feats) else 0.0
        if span > 0:
            scaled[row, feats] = (out["pre"] - out["pre"].min()) / span
        pred[row, items] = out["pred"]
    return {"raw": raw, "profiles": scaled, "pred": pred}


# ----------------------------------------------------------------------------------------------------------------
# recommenders and explanations
# ----------------------------------------------------------------------------------------------------------------


def sum_scores(profiles: np.ndarray, item_features) -> np.ndarray:
    """Feature summation (2017): score(u, j) = sum of u's profile weights over j's features."""
    M = sp.csr_array(item_features, dtype=np.float64)
    if profiles.shape[1] != M.shape[1]:
        raise DataError(f"profiles have {profiles.shape[1]} features but item_features has {M.shape[1]}")
    return np.asarray((M @ profiles.T).T)


def cosine_neighbours(profiles: np.ndarray, max_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's `max_k` most similar other users by cosine of profiles: (indices, similarities), best first."""
    n = profiles.shape[0]
    if isinstance(max_k, bool) or not isinstance(max_k, (int, np.integer)) or not 1 <= max_k < n:
        raise ConfigError(f"k must be an integer in [1, {n - 1}], got {max_k!r}")
    norms = np.linalg.norm(profiles, axis=1)
    norms[norms == 0] = 1.0
    unit = profiles / norms[:, None]
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    idx = np.argpartition(-sim, max_k - 1, axis=1)[:, :max_k]
    order = np.argsort(-np.take_along_axis(sim, idx, axis=1), axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    return idx, np.take_along_axis(sim, idx, axis=1)


def knn_scores(neighbours: tuple[np.ndarray, np.ndarray], train, k: int) -> np.ndarray:
    """User-kNN (2018): score(u, j) = sum_{v in N_k(u)} sim(u, v) r(v, j) / sum_{v in N_k(u)} |sim(u, v)|."""
    idx, sim = neighbours
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= idx.shape[1]:
        raise ConfigError(f"k must be an integer in [1, {idx.shape[1]}], got {k!r}")
    n = idx.shape[0]
    rows = np.repeat(np.arange(n), k)
    weights = sp.csr_array((sim[:, :k].ravel(), (rows, idx[:, :k].ravel())), shape=(n, n))
    R = sp.csr_array(train, dtype=np.float64)
    denom = np.abs(sim[:, :k]).sum(axis=1)
    denom[denom == 0] = 1.0
    return (weights @ R).toarray() / denom[:, None]


def explain(profiles: np.ndarray, item_features, feature_table: pd.DataFrame, train, user: int, item: int,
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


# ----------------------------------------------------------------------------------------------------------------
# experiment runner (one seed / one configuration; the notebook maps it over seeds, possibly in two processes)
# ----------------------------------------------------------------------------------------------------------------

_CACHE: dict = {}


def _data_and_features(min_items: int, relations):
    from replication import datasets, features

    if "data" not in _CACHE:
        _CACHE["data"] = datasets.load()
    key = ("features", min_items, relations if isinstance(relations, str) else tuple(relations))
    if key not in _CACHE:
        _CACHE[key] = features.build_item_features(_CACHE["data"], min_items=min_items, relations=relations)
    return _CACHE["data"], _CACHE[key]


def run_config(seed: int = 0, epochs: int = 1000, lr: float = 0.3, init: float = 0.01, loss: str = "sum",
               min_items: int = 2, relations="all", ks=(5, 10, 20, 30, 50),
               baselines=("pop", "itemknn", "ease"), unmasked: bool = True, test_fraction: float = 0.2,
               validation: bool = False, threshold: float = 4.0, top: int = 10, keep_models: bool = False) -> dict:
    """Split (per-user holdout, `seed`), train SEMAUTO (and the unmasked network), score every recommender and
    return {"metrics": {method: metrics}, "seconds": {...}, ...}. With `validation`, the split is carved from the
    training part of seed's holdout (for choosing k), so the test ratings are never seen."""
    import time

    from replication import metrics as M
    from replication import splits
    from replication.models import baselines as B

    data, feats = _data_and_features(min_items, relations)
    shape = (data.n_users, data.n_items)
    split = splits.holdout_split(data.ratings, test_fraction, seed=seed, shape=shape)
    if validation:
        split = splits.holdout_split(split.train_frame, test_fraction, seed=seed, shape=shape)
    train, test = split.train, split.test
    seconds, out = {}, {}

    def evaluate(name, scores):
        out[name] = M.evaluate_topn(scores, train, test.copy(), ks=(top,), relevant_threshold=threshold)

    cpu_start = time.process_time()
    start = time.perf_counter()
    graph = build_graph(train, feats.matrix)
    model = SemAuto(epochs=epochs, lr=lr, init=init, loss=loss).fit(train, feats.matrix, graph=graph,
                                                                    snapshots=(0,) if keep_models else ())
    seconds["semauto"] = time.perf_counter() - start
    profiles = model.profiles()
    evaluate("SEMAUTO-sum", sum_scores(profiles, feats.matrix))
    neighbours = cosine_neighbours(profiles, max(ks))
    for k in ks:
        evaluate(f"SEMAUTO-kNN k={k}", knn_scores(neighbours, train, k))
    plain = None
    if unmasked:
        start = time.perf_counter()
        plain = UnmaskedAE(epochs=epochs, lr=lr, init=init, loss=loss).fit(train, feats.matrix, graph=graph)
        seconds["unmasked"] = time.perf_counter() - start
        flat = plain.profiles()
        evaluate("unmasked-sum", sum_scores(flat, feats.matrix))
        flat_neighbours = cosine_neighbours(flat, max(ks))
        for k in ks:
            evaluate(f"unmasked-kNN k={k}", knn_scores(flat_neighbours, train, k))
    for name in baselines:
        start = time.perf_counter()
        evaluate(name, B.fit_score(name, train))
        seconds[name] = time.perf_counter() - start
    seconds["cpu"] = time.process_time() - cpu_start  # CPU seconds of this run (its wall time depends on load)
    result = {"seed": seed, "metrics": out, "seconds": seconds, "n_edges": graph.n_edges,
              "n_hidden": len(graph.uf_user), "n_classes": graph.n_classes, "n_features": feats.n_features,
              "final_loss": float(model.losses[-1]) if epochs else float("nan")}
    if keep_models:
        result.update(model=model, unmasked=plain, train=train, test=test)
    return result


def run_many(configs: list[dict], n_jobs: int = 2) -> list[dict]:
    """`run_config(**c)` for every config, in `n_jobs` processes (each single-threaded) when n_jobs > 1."""
    if n_jobs <= 1 or len(configs) <= 1:
        return [run_config(**c) for c in configs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("fork")) as pool:
        return list(pool.map(_run_kwargs, configs))


def _run_kwargs(config: dict) -> dict:
    try:  # one BLAS thread per worker process: n_jobs processes share the cores without oversubscription
        from threadpoolctl import threadpool_limits
    except ImportError:
        return run_config(**config)
    with threadpool_limits(1):
        return run_config(**config)


def pick(runs: list[dict], renames: dict[str, str]) -> list[dict]:
    """Runs restricted to (and renamed to) the methods in `renames` {new name: method in the runs}."""
    return [{**r, "metrics": {new: r["metrics"][old] for new, old in renames.items()}} for r in runs]


def summarise(runs: list[dict], metric_names=("precision@10", "recall@10", "ndcg@10", "f1@10", "coverage@10",
                                               "gini@10", "novelty@10")) -> pd.DataFrame:
    """Mean and 95% CI half-width over runs for every method and metric: columns '<metric>' and '<metric> ci'."""
    from replication.metrics import mean_ci

    methods = list(runs[0]["metrics"])
    rows = []
    for method in methods:
        row = {"method": method, "runs": len(runs)}
        for name in metric_names:
            mean, half = mean_ci([r["metrics"][method][name] for r in runs])
            row[name], row[f"{name} ci"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def recommendations_table(profiles: np.ndarray, scores: np.ndarray, item_features, feature_table: pd.DataFrame,
                          train, users, titles, n: int = 3, n_features: int = 2,
                          max_items: int | None = None) -> pd.DataFrame:
    """Top-`n` unrated items of each user by `scores`, each with the sentence explaining it from the profile."""
    from replication.metrics import top_k

    R = sp.csr_array(train)
    users = [int(u) for u in users]
    top = top_k(scores[users], n, exclude=R[users])
    rows = []
    for user, items in zip(users, top):
        for rank, item in enumerate(items, 1):
            table = explain(profiles, item_features, feature_table, R, user, int(item), n=n_features, titles=titles,
                            max_items=max_items)
            rows.append({"user": user, "rank": rank, "film": titles(int(item)),
                         "explanation": explanation_text(titles(int(item)), table)})
    return pd.DataFrame(rows)


def top_profile_features(profile_row: np.ndarray, feature_table: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """The `n` largest weights of one user's profile with their readable labels."""
    order = np.argsort(-profile_row, kind="stable")[:n]
    return pd.DataFrame({"label": feature_table["label"].to_numpy()[order],
                         "relation": feature_table["relation"].to_numpy()[order], "weight": profile_row[order]})


def mean_rank_correlation(scores: np.ndarray, values: np.ndarray) -> float:
    """Mean over users (rows) of the Spearman correlation between a row of `scores` and the per-item `values`."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)
    target = rankdata(values)
    ranks = ranks - ranks.mean(axis=1, keepdims=True)
    target = target - target.mean()
    denom = np.linalg.norm(ranks, axis=1) * np.linalg.norm(target)
    denom[denom == 0] = np.nan
    return float(np.nanmean(ranks @ target / denom))


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
