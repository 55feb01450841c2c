"""U-AutoRec (Sedhain et al. 2015) and E-AutoRec (Haghighi et al. 2019) in one implementation.

The model maps a user's rating vector r (length n_items, ratings divided by ``scale`` = 5 so a 1-star rating is
0.2 and a missing one 0) and, for E-AutoRec, an extra input block e (the explainability vector of
:mod:`replication.explain`, also divided by ``scale``) to a reconstruction of r:

    h = sigmoid(W1 [r; e] + b),        r_hat = W2 h + b'          (identity output)

U-AutoRec is the same module with no extra inputs (``n_extra_inputs=0``). Training minimizes the paper's Eq. 3,

    sum_u || m_u * (r_u - r_hat_u) ||^2 + (l2 / 2) (||W1||_F^2 + ||W2||_F^2),

where m_u masks the observed ratings (``loss="masked"``), or the plain squared error over every entry, missing
ones counted as 0 (``loss="full"``, the mistake the masked loss avoids). Biases are not regularized.

Speed: the loss needs outputs only at observed ratings, and the model exposes that sparse path (``encode`` accepts a
torch sparse input, ``decode_at`` evaluates W2 h + b' only at given (user, item) pairs by gathering rows of W2).
Measured on the 2-core CPU of this project (torch 2.13), however, torch's sparse mm and the row gathers were
slower than dense BLAS at MovieLens-100K size (943 x 1682, 6% dense; E-AutoRec's second block is ~50% dense), so
``fit_autorec`` trains on dense full-batch tensors and masks the loss by multiplying with the 0/1 observation
matrix (the gradient at unobserved outputs is exactly zero). One full-batch epoch is ~7 matrix products.
Predictions are always computed from the TRAINING rating vector: test ratings are never fed as input.

Public API
----------
``AutoRec(n_items, hidden=300, n_extra_inputs=0, scale=5.0)``: torch.nn.Module; ``forward(x, extra=None)`` -> dense
outputs in scaled units (x = ratings / scale); ``encode(x, extra)`` -> h; ``decode(h)``; ``decode_at(h, rows,
items)``; ``penalty()`` = (||W1||^2 + ||W2||^2) / 2.

``fit_autorec(train, extra=None, hidden=300, epochs=40, lr=0.01, l2=3.0, loss="masked", input_dropout=0.0, seed=0,
eval_truth=None, batch_size=None, scale=5.0, optimizer="rprop", progress=False) -> (model, history)``: ``history``
is a DataFrame with one row per epoch: epoch, loss, train_rmse, test_rmse (NaN without ``eval_truth``); RMSEs in
stars on predictions clipped to [1, scale]. optimizer "rprop" (full batch, the default) or "adam".

``predict(model, train, extra=None, clip=True) -> np.ndarray``: dense (n_users, n_items) predicted ratings in
stars (clipped to [1, model.scale] by default), from the training vectors.
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
OPTIMIZERS = ("adam", "rprop")


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
        # small decoder weights (1/hidden, not 1/sqrt(hidden)): the initial output is the item bias plus ~0.1 star noise
        bound_in, bound_out = 1.0 / math.sqrt(n_in), 1.0 / self.hidden
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


def _extra_tensor(extra: Any, n_users: int, scale: float) -> torch.Tensor | None:
    if extra is None:
        return None
    dense = extra.toarray() if sp.issparse(extra) else np.asarray(extra)
    if dense.ndim != 2 or dense.shape[0] != n_users:
        raise DataError(f"extra must be a (n_users={n_users}, n_extra) matrix, got shape {dense.shape}")
    if not np.isfinite(dense).all():
        raise DataError("extra holds non-finite values")
    return torch.from_numpy((dense / scale).astype(np.float32))


# ---------------------------------------------------------------------------------------------------- training


def fit_autorec(train: Any, extra: Any = None, hidden: int = 300, epochs: int = 40, lr: float = 0.01,
                l2: float = 3.0, loss: str = "masked", input_dropout: float = 0.0, seed: int = 0,
                eval_truth: Any = None, batch_size: int | None = None, scale: float = 5.0,
                optimizer: str = "rprop", progress: bool = False) -> tuple[AutoRec, pd.DataFrame]:
    """Train U-AutoRec (extra=None) or E-AutoRec (extra = explainability matrix, in stars) with Adam.

    train: users x items sparse training ratings (1..scale, 0 = missing). extra: optional (n_users, n_extra) dense
    or sparse side input, divided by `scale` like the ratings. l2: lambda of Eq. 3 (the data term is a SUM of
    squared errors in scaled units). loss: "masked" (observed ratings only, the paper) or "full" (every entry,
    missing = 0). input_dropout: probability of zeroing each observed input rating (inverted dropout, i.e. the kept
    ones are divided by 1 - p: a denoising AutoRec); the target stays uncorrupted and the extra block is never
    corrupted. batch_size: users per Adam step (None = full batch); each step's penalty is scaled by its share of
    users so that one epoch sums to Eq. 3. eval_truth: sparse ratings (e.g. the test split) whose RMSE is tracked
    each epoch; it is never an input. Deterministic for a given seed.

    Returns (model, history) where history has one row per epoch: epoch, loss (Eq. 3 summed over the epoch's
    steps), train_rmse, test_rmse (NaN without eval_truth). Both RMSEs are in stars on predictions clipped to
    [1, scale]; they are computed from the outputs of the epoch's own forward passes (each user at its mini-batch's
    step, before that step's update), or, when input_dropout > 0, from a clean pass after the epoch.
    """
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
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
    if optimizer == "rprop":
        opt = torch.optim.Rprop(model.parameters(), lr=lr)
    else:
        try:  # the fused CPU kernel is several times faster than the per-tensor loop; same update rule
            opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError):
            opt = torch.optim.Adam(model.parameters(), lr=lr)

    X = torch.from_numpy((R.toarray() / scale).astype(np.float32))  # 0 = missing, r/5 otherwise
    M = (X > 0).float()  # 1 at observed ratings: multiplying by it zeroes the gradient everywhere else
    train_idx = torch.from_numpy(np.flatnonzero(R.toarray()))
    train_val = X.reshape(-1)[train_idx]
    if truth is not None:
        test_idx = torch.from_numpy(np.flatnonzero(truth.toarray()))
        test_val = torch.from_numpy((truth.toarray().ravel()[test_idx.numpy()] / scale).astype(np.float32))
    full_batch = batch >= n_users

    def rmse_at(out: torch.Tensor, idx: torch.Tensor, val: torch.Tensor) -> float:
        """RMSE in stars at flat indices of a dense (n_users, n_items) output, predictions clipped to [1, scale]."""
        pred = out.reshape(-1)[idx].clamp(1.0 / scale, 1.0)
        return scale * float(torch.sqrt(torch.mean((pred - val) ** 2)))

    from tqdm.auto import tqdm

    records = []
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="AutoRec", leave=False):
        model.train()
        order = torch.arange(n_users) if full_batch else torch.randperm(n_users, generator=gen)
        total = 0.0
        epoch_out = torch.empty(n_users, n_items) if not full_batch else None
        for start in range(0, n_users, batch):
            users = order[start:start + batch]
            x, m = (X, M) if full_batch else (X[users], M[users])
            if input_dropout > 0:
                keep = torch.rand(x.shape, generator=gen) >= input_dropout
                x_in = x * keep / (1.0 - input_dropout)
            else:
                x_in = x
            ex = None if X_extra is None else (X_extra if full_batch else X_extra[users])
            out = model(x_in, ex)
            diff = out - x
            data_term = ((diff * m) ** 2).sum() if loss == "masked" else (diff ** 2).sum()
            objective = data_term + l2 * model.penalty() * (len(users) / n_users)
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()
            total += float(objective.detach())
            if full_batch:
                epoch_out = out.detach()
            else:
                epoch_out[users] = out.detach()
        if input_dropout > 0:  # the training passes saw corrupted inputs: evaluate a clean pass instead
            model.eval()
            with torch.no_grad():
                epoch_out = model(X, X_extra)
        records.append({"epoch": epoch, "loss": total, "train_rmse": rmse_at(epoch_out, train_idx, train_val),
                        "test_rmse": rmse_at(epoch_out, test_idx, test_val) if truth is not None else float("nan")})
    model.eval()
    return model, pd.DataFrame.from_records(records)


def predict(model: AutoRec, train: Any, extra: Any = None, clip: bool = True) -> np.ndarray:
    """Dense (n_users, n_items) predicted ratings in stars from the TRAINING vectors (and extra), clipped to
    [1, model.scale] unless clip=False."""
    R = _check_csr(train, "train", model.n_items)
    X_extra = _extra_tensor(extra, R.shape[0], model.scale)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy((R.toarray() / model.scale).astype(np.float32)), X_extra).numpy() * model.scale
    return np.clip(out, 1.0, model.scale) if clip else out
