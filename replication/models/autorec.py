"""U-AutoRec (Sedhain et al. 2015) and E-AutoRec (Haghighi et al. 2019) in one implementation.

The network maps a user's rating vector r (length n_items, ratings divided by ``scale`` = 5 so a 1-star rating is
0.2 and a missing one 0) and, for E-AutoRec, an extra input block e (the explainability vector of
:mod:`replication.explain`, also divided by ``scale``) to a reconstruction of r:

    h = sigmoid(W1 [r; e] + b),        r_hat = W2 h + b'          (identity output)

The paper's Eq. 4 writes W1 (r + e) with W1 of size 2 x n x k: read as a concatenation (``combine="concat"``, the
default, two weight blocks as above) or as a sum through one shared block, h = sigmoid(W1 (r + e) + b)
(``combine="sum"``, as one public implementation does).

U-AutoRec is the same network without the extra block. Training minimizes the paper's Eq. 3,

    sum_u || m_u * (r_u - r_hat_u) ||^2 + (l2 / 2) (||W1||_F^2 + ||W2||_F^2),

where m_u masks the observed ratings (``loss="masked"``), or the plain squared error over every entry, missing
ones counted as 0 (``loss="full"``, the mistake the masked loss avoids). Biases are not regularized.

Speed (``sparse=True``, the default): the masked loss needs the reconstruction only at the observed ratings, so the
encoder reads the sparse input (:class:`~replication.models.sparse.Encode`: embedding-bag sums forward and backward) and the decoder is
evaluated only at the observed (user, item) pairs (:class:`~replication.models.sparse.SampledDot`: a sampled dense-dense product forward, two
embedding-bag sums backward); the full score matrix is computed only for ranking. E-AutoRec's E, when nothing is
thresholded away, is fed as the product M @ R it is (:class:`~replication.models.sparse.MixedRatings`) and never formed. Each full-batch
epoch's validation pass is reused as the next epoch's encoder forward, the penalty's gradient is added in place,
and Rprop updates without temporaries: ``bench/bench_speed.py`` puts an epoch within about 5x of its arithmetic
floor (it was 10x). ``sparse=False`` is the dense reference: full (users x items) products with the loss masked by
multiplying with the 0/1 observation matrix. Both give the same training to float tolerance (tested). Predictions
are always computed from the TRAINING rating vector: test ratings are never fed as input.

``AutoRec`` is the recommender of the book's protocol: ``fit(train, valid=Validation(..., metric="rmse"),
side=E)`` (``side`` given = E-AutoRec), ``score(users)`` = raw predicted ratings in stars (for ranking),
``predict(users)`` = the same clipped to [1, scale] (for RMSE).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..checks import as_csr, check_choice, check_int, check_number
from ..errors import ConfigError, DataError
from .base import Entry, Recommender
from .sparse import Encode, MixedRatings, Pattern, SampledDot, _block_times, _Mix, _Rows, _rows_of
from .training import Rprop, fit_loop, resolve_device

if TYPE_CHECKING:  # the type only: models never import the metrics module
    from ..metrics import Validation

__all__ = ["AutoRecNet", "AutoRec", "MixedRatings", "LOSSES", "OPTIMIZERS", "COMBINES"]

LOSSES = ("masked", "full")
COMBINES = ("concat", "sum")  # Eq. 4's W1 (r + e): two blocks side by side, or one block over the sum
OPTIMIZERS = ("rprop", "adam")
class AutoRecNet(nn.Module):
    """One-hidden-layer autoencoder: sigmoid encoder over [ratings; extra] (or ratings + extra, ``combine="sum"``),
    identity decoder back to the ratings.

    Parameters are stored item-major so that the sparse paths gather rows: ``enc_weight`` (n_items +
    n_extra_inputs, hidden; n_items rows when the extra block is summed in) is W1 transposed and ``dec_weight``
    (n_items, hidden) is W2.
    """

    def __init__(self, n_items: int, hidden: int = 300, n_extra_inputs: int = 0, combine: str = "concat") -> None:
        super().__init__()
        self.n_items = check_int("n_items", n_items, 1)
        self.hidden = check_int("hidden", hidden, 1)
        self.n_extra_inputs = check_int("n_extra_inputs", n_extra_inputs, 0)
        self.combine = check_choice("combine", combine, COMBINES)
        if self.combine == "sum" and self.n_extra_inputs not in (0, self.n_items):
            raise ConfigError(f"combine='sum' adds the extra block to the ratings: it needs n_extra_inputs = n_items "
                              f"({self.n_items}), got {self.n_extra_inputs}")
        n_in = self.n_items + (self.n_extra_inputs if self.combine == "concat" else 0)
        # small decoder weights (1/hidden, not 1/sqrt(hidden)): the initial output is the item bias plus ~0.1 star noise
        bound_in, bound_out = 1.0 / math.sqrt(n_in), 1.0 / self.hidden
        self.enc_weight = nn.Parameter(torch.empty(n_in, self.hidden).uniform_(-bound_in, bound_in))
        self.enc_bias = nn.Parameter(torch.zeros(self.hidden))
        self.dec_weight = nn.Parameter(torch.empty(self.n_items, self.hidden).uniform_(-bound_out, bound_out))
        self.dec_bias = nn.Parameter(torch.zeros(self.n_items))
        self._memo: tuple | None = None  # (inputs, weight versions, z) of the last encoder pass without gradients

    def _check_extra(self, extra: torch.Tensor | None) -> None:
        if self.n_extra_inputs:
            if extra is None or extra.shape[1] != self.n_extra_inputs:
                got = None if extra is None else tuple(extra.shape)
                raise DataError(f"this model expects an extra input block of width {self.n_extra_inputs}, got {got}")
        elif extra is not None:
            raise DataError("this model has no extra inputs (n_extra_inputs=0) but `extra` was given")

    def _extra_term(self, extra: "torch.Tensor | _Mix | None") -> torch.Tensor | float:
        self._check_extra(extra)
        if extra is None:
            return 0.0
        return _block_times(extra, self.enc_weight[self.n_items:] if self.combine == "concat" else self.enc_weight)

    def encode(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden codes h = sigmoid(W1 [x; extra] + b) (or W1 (x + extra) + b) of dense (users, n_items) inputs."""
        return torch.sigmoid(x @ self.enc_weight[: self.n_items] + self._extra_term(extra) + self.enc_bias)

    def encode_rows(self, pattern: Pattern, values: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """The same codes from sparse rows: the pattern's rated items with their scaled ratings `values`.

        A pass without gradients (validation, scoring) is remembered; a training pass over the same inputs with
        unchanged weights (the next full-batch epoch) reuses its pre-activation instead of recomputing it. Same
        inputs = the same tensor objects; unchanged weights = the same in-place version counters."""
        self._check_extra(extra)
        inputs, versions = (pattern, values, extra), (self.enc_weight._version, self.enc_bias._version)
        if not torch.is_grad_enabled():
            z = Encode.apply(self.enc_weight, self.enc_bias, values, pattern, extra, None)
            self._memo = (inputs, versions, z)
            return torch.sigmoid(z)
        memo = None
        if self._memo is not None and self._memo[1] == versions and all(
                a is b for a, b in zip(self._memo[0], inputs)):
            memo = self._memo[2]
        self._memo = None
        return torch.sigmoid(Encode.apply(self.enc_weight, self.enc_bias, values, pattern, extra, memo))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Dense reconstruction W2 h + b' for every item (users, n_items)."""
        return h @ self.dec_weight.T + self.dec_bias

    def decode_at(self, h: torch.Tensor, pattern: Pattern) -> torch.Tensor:
        """Reconstruction only at the pattern's (row, item) pairs, in CSR order."""
        return SampledDot.apply(h, self.dec_weight, pattern) + self.dec_bias[pattern.items]

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Dense reconstruction (scaled units) of the input rating vectors."""
        return self.decode(self.encode(x, extra))

    def penalty(self) -> torch.Tensor:
        """(||W1||_F^2 + ||W2||_F^2) / 2, the weight-decay term of Eq. 3 (without lambda)."""
        w1, w2 = self.enc_weight.reshape(-1), self.dec_weight.reshape(-1)
        return 0.5 * (torch.dot(w1, w1) + torch.dot(w2, w2))  # dot products: no weight-sized temporary


class AutoRec(Recommender):
    """U-AutoRec, or E-AutoRec when fitted with ``side`` = the explainability matrix E (in stars).

    hidden: k; l2: lambda of Eq. 3 (the data term is a SUM of squared errors in scaled units); optimizer "rprop"
    (full batch, the default) or "adam"; batch_size: users per step (None = full batch; each step's penalty is
    scaled by its share of users so that one epoch sums to Eq. 3); loss "masked" (the paper) or "full" (every
    entry, missing = 0; always the dense path); input_dropout: probability of zeroing each observed input rating
    (inverted dropout: a denoising AutoRec; the target stays complete, the extra block is never corrupted).
    With ``valid`` (metric "rmse" on held-out ratings of the same users) the best epoch's weights are kept and
    ``patience`` stops early. History columns: epoch, loss, train_rmse (stars, clipped, from the epoch's training
    passes), valid, seconds. combine: how E enters the encoder, "concat" (W1 [r; e], the default) or "sum"
    (W1 (r + e), one shared block; E must then have one column per item). Deterministic for a given seed.
    """

    name = "AutoRec"
    fold_in = True

    def __init__(self, hidden: int = 300, l2: float = 3.0, epochs: int = 40, patience: int | None = None,
                 lr: float = 0.01, optimizer: str = "rprop", loss: str = "masked", input_dropout: float = 0.0,
                 batch_size: int | None = None, scale: float = 5.0, sparse: bool = True, combine: str = "concat",
                 seed: int = 0, device: str = "auto", progress: bool = False) -> None:
        self.hidden = check_int("hidden", hidden, 1)
        self.l2 = check_number("l2", l2, 0.0)
        self.epochs = check_int("epochs", epochs, 1)
        self.patience = None if patience is None else check_int("patience", patience, 1)
        self.lr = check_number("lr", lr, 0.0, low_open=True)
        self.optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
        self.loss = check_choice("loss", loss, LOSSES)
        self.input_dropout = check_number("input_dropout", input_dropout, 0.0, 1.0, high_open=True)
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)
        self.scale = check_number("scale", scale, 0.0, low_open=True)
        self.combine = check_choice("combine", combine, COMBINES)
        self.sparse, self.seed = bool(sparse), check_int("seed", seed, 0)
        self.device, self.progress = device, bool(progress)

    # ---------------------------------------------------------------------------------------------------- fitting
    def _extra(self, side: Any, n_users: int, device: torch.device) -> "torch.Tensor | _Mix | None":
        if side is None:
            return None
        if isinstance(side, MixedRatings):
            mixing = as_csr(side.mixing, "side.mixing", nonneg=True, n_rows=n_users)
            if mixing.shape[1] != n_users:
                raise DataError(f"side.mixing must be users x users ({n_users} x {n_users}), got {mixing.shape}")
            ratings = as_csr(side.ratings, "side.ratings", nonneg=True, n_rows=n_users, max_value=self.scale)
            return _Mix(_Rows(mixing, 1.0, device), _Rows(ratings, self.scale, device))
        dense = side.toarray() if sp.issparse(side) else np.asarray(side)
        if dense.ndim != 2 or dense.shape[0] != n_users:
            raise DataError(f"side (extra input) must be a (n_users={n_users}, n_extra) matrix, got {dense.shape}")
        if not np.isfinite(dense).all():
            raise DataError("side (extra input) holds non-finite values")
        return torch.from_numpy((dense / self.scale).astype(np.float32)).to(device)

    def fit(self, train: Any, *, valid: "Validation | None" = None, side: Any = None) -> "AutoRec":
        """Train on `train` (ratings in (0, scale]); `side` = E makes it E-AutoRec."""
        R = self._set_train(train, nonneg=True, max_value=self.scale)
        n_users, n_items = R.shape
        device = self.device_ = resolve_device(self.device)
        torch.manual_seed(self.seed)
        generator = torch.Generator(device=device).manual_seed(self.seed)
        self.extra_ = self._extra(side, n_users, device)
        self.name = "AutoRec" if self.extra_ is None else "E-AutoRec"
        net = self.network_ = AutoRecNet(n_items, self.hidden, 0 if self.extra_ is None else self.extra_.shape[1],
                                         self.combine)
        net.to(device)
        with torch.no_grad():  # start every item at the mean training rating (items unseen in training stay there)
            net.dec_bias.fill_(float(R.data.mean()) / self.scale)
        if self.optimizer == "rprop":
            opt = Rprop(net.parameters(), lr=self.lr)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, fused=True)
        data = self.rows_ = _Rows(R, self.scale, device)
        dense = not self.sparse or self.loss == "full"
        full_batch = self.batch_size is None or self.batch_size >= n_users

        # The gradient of the batch's share of the penalty, l2 * share * W, is added to W's gradient in place once the
        # data term's gradient has accumulated: the same gradient as differentiating the penalty, without the
        # weight-sized temporaries autograd would allocate and add (a tenth of a sparse epoch).
        share = {"users": 1.0}

        def decay(weight: torch.Tensor) -> None:
            weight.grad.add_(weight, alpha=self.l2 * share["users"])

        def batches(epoch: int):
            if full_batch:
                return [None]
            order = torch.randperm(n_users, generator=generator, device=device)
            return [order[b:b + self.batch_size] for b in range(0, n_users, self.batch_size)]

        def loss(users: torch.Tensor | None, step: int):
            positions, pattern = data.select(users)
            # the full batch passes the stored values themselves: the encoder then reuses its validation pass
            target = data.values if users is None else data.values[positions]
            local, items = pattern.rows, pattern.items
            inputs = target
            if self.input_dropout > 0:
                keep = torch.rand(target.shape, generator=generator, device=device) >= self.input_dropout
                inputs = target * keep / (1.0 - self.input_dropout)
            n_rows = n_users if users is None else len(users)
            extra = None if self.extra_ is None else (self.extra_ if users is None else _rows_of(self.extra_, users))
            if dense:
                x_in = torch.zeros(n_rows, n_items, device=device).index_put_((local, items), inputs)
                out = net(x_in, extra)
                predicted = out[local, items]
                if self.loss == "masked":
                    data_term = ((predicted - target) ** 2).sum()
                else:
                    x = torch.zeros(n_rows, n_items, device=device).index_put_((local, items), target)
                    data_term = ((out - x) ** 2).sum()
            else:
                h = net.encode_rows(pattern, inputs, extra)
                predicted = net.decode_at(h, pattern)
                data_term = ((predicted - target) ** 2).sum()
            share["users"] = n_rows / n_users
            with torch.no_grad():  # the penalty's value only: its gradient is added in place by `decay`
                penalty = self.l2 * net.penalty() * share["users"]
            objective = data_term + penalty
            with torch.no_grad():
                clipped = predicted.clamp(1.0 / self.scale, 1.0)
                sq = float(((clipped - target) ** 2).sum()) * self.scale ** 2
            return objective, {"train_mse": sq / max(len(target), 1)}, float(len(target))

        validate = None
        if valid is not None:
            if valid.fold_in is not None:
                raise ConfigError("AutoRec validates on held-out ratings of its training users (no fold-in rows)")
            if valid.target.shape != R.shape:
                raise DataError(f"valid.target has shape {valid.target.shape}, train has {R.shape}")
            if valid.metric == "rmse":  # predictions at the validation pairs only
                v_rows, v_items = (torch.from_numpy(a.astype(np.int64)).to(device) for a in valid.pairs())
                v_pattern = Pattern(v_rows, v_items, n_users, n_items)
                validate = lambda: valid.evaluate(  # noqa: E731
                    (net.decode_at(self._codes(None), v_pattern) * self.scale).cpu().numpy())
            else:  # a ranking metric ranks every item: scores of the users asked for (None: all)
                validate = lambda: valid.evaluate(  # noqa: E731
                    lambda rows: (net.decode(self._codes(rows)) * self.scale).cpu().numpy())
        hooks = [w.register_post_accumulate_grad_hook(decay) for w in (net.enc_weight, net.dec_weight)]
        try:
            history = fit_loop(net, opt, batches=batches, loss=loss, validate=validate, epochs=self.epochs,
                               patience=self.patience, higher_is_better=valid is not None and valid.higher_is_better,
                               seed=self.seed, progress=self.progress, desc=self.name)
        finally:
            for hook in hooks:
                hook.remove()
        history.insert(2, "train_rmse", np.sqrt(history.pop("train_mse")))
        self.history_ = history
        return self

    # ---------------------------------------------------------------------------------------------------- scoring
    def _codes(self, users: Any) -> torch.Tensor:
        """Hidden codes of fitted users (None = all, or row indices) or of fold-in rows (U-AutoRec only)."""
        if users is None:
            return self.network_.encode_rows(self.rows_.pattern, self.rows_.values, self.extra_)
        rows, idx = self._rows(users)
        if idx is None and self.extra_ is not None:
            raise ConfigError("E-AutoRec scores only its fitted users (their E rows): pass row indices")
        extra = None if self.extra_ is None else _rows_of(self.extra_, torch.from_numpy(idx).to(self.device_))
        sub = _Rows(as_csr(rows, "rows"), self.scale, self.device_)
        return self.network_.encode_rows(sub.pattern, sub.values, extra)

    @torch.no_grad()
    def score(self, users: Any = None) -> np.ndarray:
        """Dense predicted ratings in stars (not clipped: no ties at the scale's ends), from the training vectors."""
        self._fitted()
        self.network_.eval()
        return (self.network_.decode(self._codes(users)) * self.scale).cpu().numpy()

    def predict(self, users: Any = None) -> np.ndarray:
        """Predicted ratings clipped to [1, scale] (what RMSE is computed on)."""
        return np.clip(self.score(users), 1.0, self.scale)


REGISTERED = {
    "AutoRec": Entry(AutoRec, trained=True, seeded=True, cost=3.0),
    "E-AutoRec": Entry(AutoRec, side="explainability", trained=True, seeded=True, cost=5.0),
}
