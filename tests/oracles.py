"""Test oracles: slow, literal reference implementations the package's fast code is checked against (and that
bench/ times it against). Not part of the package: nothing in the book runs them.

* :func:`reference_user` / :func:`reference_fit`: SEMAUTO's literal dense network of one user (W1 items x features
  and W2 features x items as full matrices, the mask multiplying them in the forward pass and the gradients in the
  backward pass), one user after the other, as the authors' code does.
"""

from __future__ import annotations

import numpy as np

from replication.errors import DataError
from replication.models.semauto import _check_inputs, _check_settings, _sigmoid, user_mask


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
                  loss: str = "sum", dtype=np.float64, rating_scale: str = "minmax") -> dict:
    """Loop over `users`, training each user's dense masked network; returns raw and min-max profiles
    (users x all features) and predictions (users x items, rated items only)."""
    train, mask = _check_inputs(train, item_features)
    n_items, n_features = mask.shape
    users = np.asarray(users)
    raw = np.zeros((len(users), n_features))
    scaled = np.zeros((len(users), n_features))
    pred = np.zeros((len(users), n_items))
    for row, user in enumerate(users):
        x, m, items, feats = user_mask(train, mask, int(user), rating_scale)
        out = reference_user(x, m, epochs, lr, init, loss, dtype)
        raw[row, feats] = out["pre"]
        span = out["pre"].max() - out["pre"].min() if len(feats) else 0.0
        if span > 0:
            scaled[row, feats] = (out["pre"] - out["pre"].min()) / span
        elif len(feats):  # one value on every hidden unit: the feature set (as minmax_profiles)
            scaled[row, feats] = 1.0
        pred[row, items] = out["pred"]
    return {"raw": raw, "profiles": scaled, "pred": pred}
