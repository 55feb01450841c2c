"""U-AutoRec (Sedhain et al. 2015) and E-AutoRec (Haghighi et al. 2019) in one implementation.

The model maps a user's rating vector r (length n_items, ratings divided by ``scale`` = 5 so a 1-star rating is
0.2 and a missing one 0) and, for E-AutoRec, an extra input block e (the explainability vector of
:mod:`replication.explain`, also divided by ``scale``) to a reconstruction of r:

    h = sigmoid(W1 [r; e] + b),        r_hat = W2 h + b'          (identity output)

U-AutoRec is the same module with no extra inputs (``n_extra_inputs=0``). Training minimizes the paper's Eq. 3,

    sum_u || m_u * (r_u - r_hat_u) ||^2 + (l2 / 2) (||W1||_F^2 + ||W2||_F^2),

where m_u masks the observed ratings (``loss="masked"``), or the plain squared error over every entry, missing
ones counted as 0 (``loss="full"``, the mistake the masked loss avoids). Biases are not regularized.

Speed: the rating input is ~6% dense, so the encoder uses ``torch.sparse.mm`` for the rating block, and with the
masked loss the decoder is evaluated only at the observed (user, item) pairs by gathering rows of W2 and summing
over the hidden units (never forming the dense users x items output). Predictions are always computed from the
TRAINING rating vector: test ratings are never fed as input.

Public API
----------
``AutoRec(n_items, hidden=300, n_extra_inputs=0)``  torch.nn.Module; ``forward(x, extra=None)`` -> dense outputs
(in scaled units), ``encode`` / ``decode_at`` for the sparse path.

``fit_autorec(train, extra=None, hidden=300, epochs=60, lr=0.01, l2=1.0, loss="masked", input_dropout=0.0,
seed=0, eval_truth=None, batch_size=None, scale=5.0, progress=False) -> (model, history)`` with ``history`` a
DataFrame with one row per epoch: epoch, loss, train_rmse and test_rmse (NaN without ``eval_truth``); RMSEs are in
stars, on predictions clipped to [1, scale], computed after the epoch's update from the clean training vector.

``predict(model, train, extra=None, clip=True) -> np.ndarray`` dense (n_users, n_items) predicted ratings in
stars (clipped to [1, model.scale] by default).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from replication.errors import ConfigError, DataError

__all__ = ["AutoRec", "fit_autorec", "predict", "LOSSES"]

LOSSES = ("masked", "full")


class AutoRec(nn.Module):
    """One-hidden-layer autoencoder: sigmoid encoder over [ratings; extra], identity decoder back to the ratings.

    Parameters are stored item-major so that the sparse paths gather rows: ``enc_weight`` (n_items +
    n_extra_inputs, hidden) is W1 transposed and ``dec_weight`` (n_items, hidden) is W2.
    """

    def __init__(self, n_items: int, hidden: int = 300, n_extra_inputs: int = 0, scale: float = 5.0) -> None:
        super().__init__()
        for name, value, low in (("n_items", n_items, 1), ("hidden", hidden, 1), ("n_extra_inputs", n_extra_inputs, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        self.n_items, self.hidden, self.n_extra_inputs = int(n_items), int(hidden), int(n_extra_inputs)
        self.scale = float(scale)
        n_in = self.n_items + self.n_extra_inputs
        bound_in, bound_out = 1.0 / math.sqrt(n_in), 1.0 / math.sqrt(self.hidden)
        self.enc_weight = nn.Parameter(torch.empty(n_in, self.hidden).uniform_(-bound_in, bound_in))
        self.enc_bias = nn.Parameter(torch.zeros(self.hidden))
        self.dec_weight = nn.Parameter(torch.empty(self.n_items, self.hidden).uniform_(-bound_out, bound_out))
        self.dec_bias = nn.Parameter(torch.zeros(self.n_items))

    def encode(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden codes h = sigmoid(W1 [x; extra] + b); x may be a sparse COO/CSR or dense (users, n_items) tensor."""
        w_r = self.enc_weight[: self.n_items]
        z = torch.sparse.mm(x, w_r) if x.is_sparse or x.layout == torch.sparse_csr else x @ w_r
        if self.n_extra_inputs:
            if extra is None or extra.shape[1] != self.n_extra_inputs:
                got = None if extra is None else tuple(extra.shape)
                raise DataError(f"this model expects an extra input block of width {self.n_extra_inputs}, got {got}")
            z = z + extra @ self.enc_weight[self.n_items:]
        elif extra is not None:
            raise DataError("this model has no extra inputs (n_extra_inputs=0) but `extra` was given")
        return torch.sigmoid(z + self.enc_bias)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Dense reconstruction W2 h + b' for every item (users, n_items)."""
        return h @ self.dec_weight.T + self.dec_bias

    def decode_at(self, h: torch.Tensor, rows: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Reconstruction only at the (rows[j], items[j]) pairs: sum over hidden units of h[row] * W2[item]."""
        return (h[rows] * self.dec_weight[items]).sum(dim=1) + self.dec_bias[items]

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Dense reconstruction (scaled units) of the input rating vectors."""
        return self.decode(self.encode(x, extra))

    def penalty(self) -> torch.Tensor:
        """(||W1||_F^2 + ||W2||_F^2) / 2, the weight-decay term of Eq. 3 (without lambda)."""
        return 0.5 * (self.enc_weight.pow(2).sum() + self.dec_weight.pow(2).sum())


# ---------------------------------------------------------------------------------------------------- helpers


def _check_csr(matrix: Any, name: str, n_items: int | None = None) -> sp.csr_array:
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise DataError(f"{name} must be a 2-D scipy.sparse users x items matrix, got {type(matrix).__name__}")
    out = sp.csr_array(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    if n_items is not None and out.shape[1] != n_items:
        raise DataError(f"{name} has {out.shape[1]} items, expected {n_items}")
    if out.nnz and not np.isfinite(out.data).all():
        raise DataError(f"{name} holds non-finite values")
    return out


def _torch_sparse(R: sp.csr_array, scale: float) -> torch.Tensor:
    """Scaled CSR -> torch sparse COO (coalesced) tensor."""
    coo = R.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    val = torch.from_numpy((coo.data / scale).astype(np.float32))
    return torch.sparse_coo_tensor(idx, val, R.shape).coalesce()


def _extra_tensor(extra: Any, n_users: int, scale: float) -> torch.Tensor | None:
    if extra is None:
        return None
    dense = extra.toarray() if sp.issparse(extra) else np.asarray(extra)
    if dense.ndim != 2 or dense.shape[0] != n_users:
        raise DataError(f"extra must be a (n_users={n_users}, n_extra) matrix, got shape {dense.shape}")
    if not np.isfinite(dense).all():
        raise DataError("extra holds non-finite values")
    return torch.from_numpy((dense / scale).astype(np.float32))


def _pairs(R: sp.csr_array) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    return (torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(R.indices.astype(np.int64)),
            torch.from_numpy(R.data.astype(np.float32)))


def _rmse_at(model: AutoRec, h: torch.Tensor, pairs, lo: float, hi: float) -> float:
    rows, items, truth = pairs
    if rows.numel() == 0:
        return float("nan")
    pred = (model.decode_at(h, rows, items) * model.scale).clamp(lo, hi)
    return float(torch.sqrt(torch.mean((pred - truth) ** 2)))


# ---------------------------------------------------------------------------------------------------- training


def fit_autorec(train: Any, extra: Any = None, hidden: int = 300, epochs: int = 60, lr: float = 0.01,
                l2: float = 1.0, loss: str = "masked", input_dropout: float = 0.0, seed: int = 0,
                eval_truth: Any = None, batch_size: int | None = None, scale: float = 5.0,
                progress: bool = False) -> tuple[AutoRec, pd.DataFrame]:
    """Train U-AutoRec (extra=None) or E-AutoRec (extra = explainability matrix, in stars) with Adam.

    train: users x items sparse training ratings (1..scale, 0 = missing). extra: optional (n_users, n_extra) dense
    or sparse side input, divided by `scale` like the ratings. l2: lambda of Eq. 3 (loss is a SUM of squared
    errors in scaled units). loss: "masked" (observed ratings only, the paper) or "full" (every entry, missing = 0).
    input_dropout: probability of zeroing each observed input rating (inverted dropout; denoising AutoRec), the
    target stays uncorrupted; the extra block is never corrupted. batch_size: users per Adam step (None = full batch;
    with mini-batches the penalty is scaled by the batch's share of users so an epoch sums to Eq. 3).
    eval_truth: sparse ratings (e.g. the test split) whose RMSE is tracked each epoch; it is never an input.
    Deterministic for a given seed. Returns (model, history DataFrame: epoch, loss, train_rmse, test_rmse).
    """
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not 0.0 <= input_dropout < 1.0:
        raise ConfigError(f"input_dropout must lie in [0, 1), got {input_dropout!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    if not (lr > 0 and l2 >= 0 and scale > 0):
        raise ConfigError(f"need lr > 0, l2 >= 0 and scale > 0, got lr={lr!r}, l2={l2!r}, scale={scale!r}")
    R = _check_csr(train, "train")
    n_users, n_items = R.shape
    if R.nnz == 0:
        raise DataError("train has no ratings")
    if R.data.min() < 0 or R.data.max() > scale:
        raise DataError(f"train ratings must lie in (0, {scale}] (0 = missing), got [{R.data.min()}, {R.data.max()}]")
    truth = _check_csr(eval_truth, "eval_truth", n_items) if eval_truth is not None else None
    if truth is not None and truth.shape[0] != n_users:
        raise DataError(f"eval_truth has {truth.shape[0]} users, train has {n_users}")
    batch = n_users if batch_size is None else int(batch_size)
    if batch < 1:
        raise ConfigError(f"batch_size must be >= 1 or None, got {batch_size!r}")

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    X_extra = _extra_tensor(extra, n_users, scale)
    model = AutoRec(n_items, hidden, 0 if X_extra is None else X_extra.shape[1], scale=scale)
    with torch.no_grad():  # start every item at the mean training rating (items unseen in training stay there)
        model.dec_bias.fill_(float(R.data.mean()) / scale)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    X_all = _torch_sparse(R, scale).to_sparse_csr()
    train_pairs = _pairs(R)
    eval_pairs = _pairs(truth) if truth is not None else None
    target_scaled = train_pairs[2] / scale
    lo, hi = 1.0, scale
    indptr = torch.from_numpy(R.indptr.astype(np.int64))

    from tqdm.auto import tqdm

    records = []
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="AutoRec", leave=False):
        model.train()
        order = torch.randperm(n_users, generator=gen) if batch < n_users else torch.arange(n_users)
        total = 0.0
        for start in range(0, n_users, batch):
            users = order[start:start + batch]
            if batch < n_users:
                sub = R[np.sort(users.numpy())]
                users = torch.from_numpy(np.sort(users.numpy()))
                x = _torch_sparse(sub, scale)
                rows, items, _ = _pairs(sub)
                target = x.values() if x.is_coalesced() else torch.from_numpy(sub.data / scale)
                target = torch.from_numpy((sub.data / scale).astype(np.float32))
            else:
                x, rows, items, target = X_all, train_pairs[0], train_pairs[1], target_scaled
            if input_dropout > 0:
                xc = x.to_sparse_coo().coalesce() if x.layout == torch.sparse_csr else x
                keep = (torch.rand(xc.values().shape, generator=gen) >= input_dropout).float() / (1 - input_dropout)
                x_in = torch.sparse_coo_tensor(xc.indices(), xc.values() * keep, xc.shape)
            else:
                x_in = x
            ex = X_extra[users] if X_extra is not None else None
            h = model.encode(x_in, ex)
            if loss == "masked":
                err = model.decode_at(h, rows, items) - target
                data_term = err.pow(2).sum()
            else:
                dense_target = torch.zeros(h.shape[0], n_items)
                dense_target[rows, items] = target
                data_term = (model.decode(h) - dense_target).pow(2).sum()
            objective = data_term + l2 * model.penalty() * (h.shape[0] / n_users)
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()
            total += float(objective.detach())
        model.eval()
        with torch.no_grad():
            h = model.encode(X_all, X_extra)
            records.append({"epoch": epoch, "loss": total, "train_rmse": _rmse_at(model, h, train_pairs, lo, hi),
                            "test_rmse": _rmse_at(model, h, eval_pairs, lo, hi) if eval_pairs else float("nan")})
    del indptr
    return model, pd.DataFrame.from_records(records)


def predict(model: AutoRec, train: Any, extra: Any = None, clip: bool = True) -> np.ndarray:
    """Dense (n_users, n_items) predicted ratings in stars from the TRAINING vectors (and extra), clipped to
    [1, model.scale] unless clip=False."""
    R = _check_csr(train, "train", model.n_items)
    X_extra = _extra_tensor(extra, R.shape[0], model.scale)
    model.eval()
    with torch.no_grad():
        out = model(_torch_sparse(R, model.scale), X_extra).numpy() * model.scale
    return np.clip(out, 1.0, model.scale) if clip else out
