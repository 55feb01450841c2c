"""Mult-DAE, Mult-VAE (Liang et al. 2018) and the conditioned C-VAE (Carraro, Polato & Aiolli 2020), one module.

All three share one network, ``VAENet``::

    encoder  [n_items (+ n_conditions)] -> hidden (tanh) -> latent      (Mult-DAE: the code z)
                                                         -> 2 x latent  (Mult-VAE / C-VAE: mu and log sigma^2)
    decoder  latent -> hidden (tanh) -> n_items   (logits; the multinomial log-likelihood is a log-softmax over items)

The input is the user's binary interaction vector, L2-normalised, then dropout (the "denoising" noise, also used by
Mult-VAE). C-VAE appends a one-hot condition to the encoder input *after* normalisation and dropout, so the
condition is never dropped; with the all-zero condition C-VAE is a Mult-VAE.

``MultVAE`` is the recommender of the book's protocol::

    vae = MultVAE(seed=0).fit(train, valid=Validation(valid_out, fold_in=valid_in))     # Mult-VAE
    dae = MultVAE(variational=False).fit(train, valid=...)                              # Mult-DAE
    cvae = MultVAE().fit(train, valid=..., side=genre_matrix)                           # C-VAE
    scores = cvae.score(test_in, condition=4)     # fold-in rows of new users, every row conditioned on genre 4
    mu = cvae.encode(test_in)                     # latent means

C-VAE training data. Every training user appears once unconditioned (target = the whole history) and once for every
condition found in their history (target = only the history items that satisfy the condition). The expansion is
vectorised (:func:`expand_conditions`). On MovieLens-100K it multiplies the rows by ~14.5, so by default each epoch
uses all unconditioned rows plus a sample of ``cond_per_epoch`` (3) x n_users conditioned rows, redrawn every epoch
and balanced so that every condition is drawn about equally often (:func:`sample_conditioned`; the authors'
"balanced subsample"); ``cond_per_epoch=None`` uses every conditioned row.

Sparse computation. A batch travels as :class:`SparseRows` (CSR: each row's non-zero columns and values), never
as a dense users x items matrix: the first layer is a lookup-and-sum over the non-zeros (forward), and its weight
gradient the same over the transposed batch (backward, :func:`replication.models.sparse.first_layer`); the multinomial NLL reads the
log-softmax at the target's non-zeros only (-sum_i t_i log softmax_i needs no dense t). Only the decoder output
(latent -> hidden -> n_items logits and their log-softmax) is dense, as it must be. Dense input rows are accepted
everywhere and converted first (the same numbers: the tests check every output and gradient against the dense
Linear reference, and the random streams -- dropout masks, then the reparameterisation noise -- are drawn in the
same order and shapes as by a dense implementation).

beta annealing. beta = min(beta_cap, step / anneal_steps): beta grows by 1 / anneal_steps per parameter update
(Liang et al.), so it reaches the cap after beta_cap x anneal_steps updates. Liang anneal over 200,000 updates;
ML-100K gives ~12 updates per epoch (batch 64), so that schedule would keep beta ~ 0. ``anneal_steps=None`` sets
anneal_steps = anneal_fraction x (the most updates the epoch budget allows); with the defaults (fraction 0.5, cap
0.2) beta reaches its cap after 10% of that budget.
"""

from __future__ import annotations

import copy
from functools import partial

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from ..checks import as_csr, check_int, check_number
from ..errors import ConfigError, DataError
from .base import Entry, Recommender
from .sparse import SparseRows, first_layer
from .training import fit_loop, resolve_device

if TYPE_CHECKING:  # the type only: models never import the metrics module
    from ..metrics import Validation

__all__ = ["VAENet", "MultVAE", "SparseRows", "expand_conditions", "condition_targets", "loss_terms",
           "sample_conditioned"]

NO_CONDITION = -1


class VAENet(nn.Module):
    """Mult-VAE / Mult-DAE / C-VAE network.

    Parameters: ``n_items`` (input and output width), ``hidden`` (600), ``latent`` (200), ``n_conditions`` (0 = no
    condition input; C for C-VAE), ``variational`` (True: Gaussian encoder + reparameterisation; False: Mult-DAE,
    deterministic code), ``dropout`` (input dropout rate, 0.5 as Liang).
    Weights are Xavier-uniform, biases N(0, 0.001) as in the C-VAE paper.
    """

    def __init__(self, n_items: int, hidden: int = 600, latent: int = 200, n_conditions: int = 0,
                 variational: bool = True, dropout: float = 0.5):
        super().__init__()
        if n_items < 1 or hidden < 1 or latent < 1 or n_conditions < 0:
            raise ConfigError(f"need n_items, hidden, latent >= 1 and n_conditions >= 0; got {n_items}, {hidden}, "
                              f"{latent}, {n_conditions}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout}")
        self.n_items, self.hidden, self.latent = n_items, hidden, latent
        self.n_conditions, self.variational, self.dropout_rate = n_conditions, variational, dropout
        # First layer as a lookup table: row i < n_items is item i's input weight, row n_items + c is condition c's.
        # Applying it to the sparse, normalised input with embedding_bag equals Linear(n_items + C, hidden) on the
        # dense [x, onehot] vector, at a fraction of the cost (ML-100K rows are ~3% full).
        self.enc_weight = nn.Parameter(torch.empty(n_items + n_conditions, hidden))
        self.enc_bias = nn.Parameter(torch.empty(hidden))
        self.enc_out = nn.Linear(hidden, 2 * latent if variational else latent)
        self.dec_hidden = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, n_items)
        nn.init.xavier_uniform_(self.enc_weight)
        nn.init.normal_(self.enc_bias, std=1e-3)
        for layer in (self.enc_out, self.dec_hidden, self.dec_out):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=1e-3)

    def config(self) -> dict:
        """The constructor arguments (to rebuild the same network)."""
        return {"n_items": self.n_items, "hidden": self.hidden, "latent": self.latent,
                "n_conditions": self.n_conditions, "variational": self.variational, "dropout": self.dropout_rate}

    def _check_condition(self, condition: torch.Tensor | None, n_rows: int) -> torch.Tensor | None:
        """`condition` as int64 indices, checked (one per row, within [-1, C - 1]); None where there is none."""
        if condition is None:
            return None
        condition = torch.as_tensor(condition, dtype=torch.int64)
        if condition.shape != (n_rows,):
            raise ConfigError(f"condition must hold one index per row ({n_rows}), got shape {tuple(condition.shape)}")
        if self.n_conditions == 0:
            if bool((condition != NO_CONDITION).any()):
                raise ConfigError("this model has no condition input (n_conditions=0) but a condition was given")
            return None
        if bool((condition >= self.n_conditions).any()) or bool((condition < NO_CONDITION).any()):
            raise ConfigError(f"condition indices must lie in [-1, {self.n_conditions - 1}]")
        return condition

    def hidden_input(self, x: "torch.Tensor | SparseRows", condition: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-activation of the first encoder layer: W^T [dropout(x / ||x||), onehot(c)] + b, computed sparsely;
        `x` is rows x n_items, dense or :class:`SparseRows`."""
        x = SparseRows.of(x)
        if x.width != self.n_items:
            raise ConfigError(f"input must be rows x {self.n_items} items, got {x.width} columns")
        condition = self._check_condition(condition, x.n_rows)
        norms = torch.zeros(x.n_rows, dtype=x.values.dtype, device=x.values.device).index_add_(
            0, x.rows, x.values * x.values).sqrt().clamp_min(1e-12)
        values = x.values / norms[x.rows]
        if self.training and self.dropout_rate > 0:
            keep = torch.rand(values.shape, device=values.device) >= self.dropout_rate
            values = values * keep / (1.0 - self.dropout_rate)
        cond_rows = torch.zeros(0, dtype=torch.int64, device=values.device)
        cond_cols = cond_rows
        if condition is not None:
            condition = condition.to(values.device)
            cond_rows = torch.nonzero(condition >= 0, as_tuple=True)[0]
            cond_cols = self.n_items + condition[cond_rows]
        return first_layer(x, values, cond_rows, cond_cols, self.enc_weight, self.enc_bias)

    def encode(self, x: "torch.Tensor | SparseRows",
               condition: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu, logvar) for a batch of binary rows (dense or :class:`SparseRows`); logvar is None for Mult-DAE.
        ``condition`` holds one index per row (-1 = no condition) or is None."""
        out = self.enc_out(torch.tanh(self.hidden_input(x, condition)))
        if not self.variational:
            return out, None
        return out[:, :self.latent], out[:, self.latent:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits (rows x n_items) for latent codes `z`."""
        return self.dec_out(torch.tanh(self.dec_hidden(z)))

    def forward(self, x: "torch.Tensor | SparseRows", condition: torch.Tensor | None = None):
        """Logits, mu, logvar. In training mode a VAE samples z = mu + eps * sigma; in eval mode z = mu."""
        mu, logvar = self.encode(x, condition)
        z = mu
        if self.variational and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def loss_terms(logits: torch.Tensor, target: "torch.Tensor | SparseRows", mu: torch.Tensor,
               logvar: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-batch means of the multinomial negative log-likelihood -sum_i t_i log softmax(logits)_i and of the
    KL(q(z|x) || N(0, I)) (zero for Mult-DAE); the target (dense or :class:`SparseRows`) is read at its non-zeros."""
    t = SparseRows.of(target)
    picked = F.log_softmax(logits, dim=1).reshape(-1).gather(0, t.rows * logits.shape[1] + t.cols)
    nll = -(picked * t.values).sum() / logits.shape[0]
    if logvar is None:
        return nll, torch.zeros((), dtype=nll.dtype)
    kl = (0.5 * (-logvar + logvar.exp() + mu.pow(2) - 1.0).sum(dim=1)).mean()
    return nll, kl


def expand_conditions(train, item_conditions) -> tuple[np.ndarray, np.ndarray]:
    """C-VAE training rows as (user, condition) pairs, vectorised.

    Returns ``users`` and ``conditions`` (int64): first every user with condition -1 (no condition), then every
    (user, c) such that the user's history holds at least one item with condition c, ordered by user then c.
    """
    train = as_csr(train, "train", nonneg=True)
    cond = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions)
    if cond.ndim != 2 or cond.shape[0] != train.shape[1]:
        raise DataError(f"item_conditions must be items x conditions with {train.shape[1]} rows, got {cond.shape}")
    has = (train @ (cond > 0).astype(np.float32)) > 0
    users_c, conds_c = np.nonzero(has)
    n = train.shape[0]
    return (np.concatenate([np.arange(n), users_c]).astype(np.int64),
            np.concatenate([np.full(n, NO_CONDITION), conds_c]).astype(np.int64))


def condition_targets(x: "torch.Tensor | SparseRows", condition: torch.Tensor,
                      item_mask: torch.Tensor) -> SparseRows:
    """Targets for C-VAE, as :class:`SparseRows`: rows with condition c keep only items with item_mask[c]; condition
    -1 keeps all items. ``item_mask`` is conditions x items (0/1)."""
    x = SparseRows.of(x)
    full = torch.cat([item_mask, torch.ones(1, item_mask.shape[1], dtype=item_mask.dtype, device=item_mask.device)])
    return x.subset(full[condition[x.rows], x.cols] > 0)  # condition -1 picks the last (all-ones) row


def sample_conditioned(conditions: np.ndarray, n_sample: int, rng: np.random.Generator,
                       balance: bool = True) -> np.ndarray:
    """Positions of `n_sample` distinct conditioned rows (``conditions`` holds each row's condition). Uniform
    without ``balance``; with it, a row of condition c is drawn with weight 1 / #rows(c), so every condition is
    drawn about equally often (as long as it has rows left)."""
    conditions = np.asarray(conditions)
    if not 0 <= n_sample <= len(conditions):
        raise ConfigError(f"cannot draw {n_sample} of {len(conditions)} conditioned rows")
    if n_sample == 0:
        return np.zeros(0, dtype=np.int64)
    if n_sample == len(conditions):
        return np.arange(len(conditions))
    weights = None
    if balance:
        _, inverse, counts = np.unique(conditions, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[inverse]
        weights /= weights.sum()
    return rng.choice(len(conditions), n_sample, replace=False, p=weights)


def _conditions(side: Any, n_items: int) -> np.ndarray:
    """The items x conditions 0/1 matrix a C-VAE is fitted with, checked."""
    cond = np.asarray(side.toarray() if sp.issparse(side) else side, dtype=np.float32)
    if cond.ndim != 2 or cond.shape[0] != n_items:
        raise DataError(f"side (conditions) must be items x conditions with {n_items} rows, got {cond.shape}")
    return cond


class MultVAE(Recommender):
    """Mult-VAE (default), Mult-DAE (``variational=False``) or, fitted with ``side`` = an items x conditions 0/1
    matrix, C-VAE, under the one protocol.

    Adam(lr), mini-batches of ``batch_size`` rows; loss = multinomial NLL + beta * KL (beta annealed, see the module
    docstring; the KL is 0 for the DAE). With ``valid`` (a :class:`replication.metrics.Validation`, typically
    nDCG@100 on held-out users) the weights of the best epoch are kept and ``patience`` epochs without improvement
    stop training (``epochs`` is then a budget). C-VAE only: ``cond_per_epoch`` x n_users conditioned rows are drawn
    afresh each epoch (None = all of them); with ``balance`` every condition is drawn equally often in expectation.
    ``score``/``encode`` accept fold-in rows of new users (strong generalization) and a ``condition``: None
    (unconditioned), one index for every row, or one index per row (-1 = none). Deterministic for a given seed.
    """

    name = "Mult-VAE"
    fold_in = True

    def __init__(self, variational: bool = True, hidden: int = 600, latent: int = 200, dropout: float = 0.5,
                 epochs: int = 100, patience: int | None = 10, batch_size: int = 64, lr: float = 1e-3,
                 beta_cap: float = 0.2, anneal_steps: int | None = None, anneal_fraction: float = 0.5,
                 weight_decay: float = 0.0, cond_per_epoch: float | None = 3.0, balance: bool = True,
                 seed: int = 0, device: str = "auto", progress: bool = False) -> None:
        self.variational = bool(variational)
        self.hidden, self.latent = check_int("hidden", hidden, 1), check_int("latent", latent, 1)
        self.dropout = check_number("dropout", dropout, 0.0, 1.0, high_open=True)
        self.epochs = check_int("epochs", epochs, 1)
        self.patience = None if patience is None else check_int("patience", patience, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.lr = check_number("lr", lr, 0.0, low_open=True)
        self.beta_cap = check_number("beta_cap", beta_cap, 0.0)
        self.anneal_steps = None if anneal_steps is None else check_int("anneal_steps", anneal_steps, 1)
        self.anneal_fraction = check_number("anneal_fraction", anneal_fraction, 0.0, low_open=True)
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0)
        self.cond_per_epoch = None if cond_per_epoch is None else check_number("cond_per_epoch", cond_per_epoch, 0.0,
                                                                               low_open=True)
        self.balance = bool(balance)
        self.seed = check_int("seed", seed, 0)
        self.device, self.progress = device, bool(progress)
        self.name = "Mult-VAE" if self.variational else "Mult-DAE"

    # ---------------------------------------------------------------------------------------------------- fitting
    def fit(self, train: Any, *, valid: "Validation | None" = None, side: Any = None,
            valid_conditions: Any = None, monitor: "Validation | None" = None) -> "MultVAE":
        """Train on the binarized `train`; `side` = items x conditions 0/1 matrix makes it a C-VAE.
        `valid_conditions` (C-VAE only) holds the condition of every validation row (-1 = none), so that early
        stopping can also judge conditioned rows, as rectorch validates C-VAE (see
        :func:`replication.experiments.protocols.conditioned_validation`). `monitor`: a second (unconditioned)
        validation judged on the same training, the run that would have stopped on it alone (:meth:`monitored`)."""
        X = self._set_train(train, nonneg=True)
        X.data[:] = 1.0  # binary implicit feedback
        n_users, n_items = X.shape
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        n_conditions, item_mask = 0, None
        if side is not None:
            cond = _conditions(side, n_items)
            users, conds = expand_conditions(X, cond)
            n_conditions = cond.shape[1]
            item_mask = torch.from_numpy((cond.T > 0).astype(np.float32)).to(device)
            self.name = "C-VAE"
        else:
            users, conds = np.arange(n_users), np.full(n_users, NO_CONDITION)
        uncond = np.flatnonzero(conds == NO_CONDITION)
        cond_rows = np.flatnonzero(conds != NO_CONDITION)
        n_sample = len(cond_rows) if self.cond_per_epoch is None else \
            min(len(cond_rows), int(round(self.cond_per_epoch * n_users)))
        updates_per_epoch = int(np.ceil((len(uncond) + n_sample) / self.batch_size))
        anneal = self.anneal_steps or max(1, int(round(self.anneal_fraction * self.epochs * updates_per_epoch)))
        self.anneal_steps_ = anneal

        self.network_ = self._new_network(n_items, n_conditions, device)
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.lr, weight_decay=self.weight_decay,
                                     fused=True)  # one kernel for all weights: several times faster on the CPU
        X = sp.csr_array(X, dtype=np.float32)  # a batch's rows are read from it sparsely (SparseRows), never densified

        def batches(epoch: int):
            picked = np.concatenate([uncond, cond_rows[sample_conditioned(conds[cond_rows], n_sample, rng,
                                                                          self.balance)]])
            order = rng.permutation(picked)
            return (order[b:b + self.batch_size] for b in range(0, len(order), self.batch_size))

        def loss(idx: np.ndarray, step: int):
            x = SparseRows.from_scipy(X[users[idx]], device)
            c = torch.from_numpy(conds[idx]).to(device) if n_conditions else None
            target = condition_targets(x, c, item_mask) if n_conditions else x
            logits, mu, logvar = self.network_(x, c)
            nll, kl = loss_terms(logits, target, mu, logvar)
            beta = min(self.beta_cap, step / anneal) if self.variational else 0.0
            logs = {"nll": float(nll.detach()), "kl": float(kl.detach()), "beta": beta}
            return nll + beta * kl, logs, float(len(idx))

        if valid_conditions is not None:
            if valid is None or not n_conditions:
                raise ConfigError("valid_conditions needs a validation set and a conditioned model (side=...)")
            valid_conditions = np.asarray(valid_conditions, dtype=np.int64)
            if valid_conditions.shape != (valid.target.shape[0],):
                raise ConfigError(f"valid_conditions must hold one condition per validation row "
                                  f"({valid.target.shape[0]}), got shape {valid_conditions.shape}")

        def judged(validation: "Validation", conditions: np.ndarray | None) -> Callable[[], float]:
            """A validation's value for the current weights (its rows' scores under `conditions`)."""
            source = validation.fold_in  # None: the training users' own rows

            def scores(rows: np.ndarray | None) -> np.ndarray:  # the validation rows' scores (None: all of them)
                cond = None if conditions is None else conditions if rows is None else conditions[rows]
                return self._forward(source if rows is None else rows if source is None else source[rows],
                                     cond, "scores")

            return lambda: validation.evaluate(scores)

        validate = judged(valid, valid_conditions) if valid is not None else None
        watch = None
        if monitor is not None:
            if valid is None or monitor.higher_is_better != valid.higher_is_better:
                raise ConfigError("a monitor needs the main validation, with the same direction")
            watch = judged(monitor, None)
        self.history_ = fit_loop(self.network_, optimizer, batches=batches, loss=loss, validate=validate,
                                 epochs=self.epochs, patience=self.patience,
                                 higher_is_better=valid.higher_is_better if valid is not None else True,
                                 seed=self.seed, progress=self.progress, desc=self.name, monitor=watch)
        return self

    def monitored(self) -> "MultVAE":
        """The model as the run validated on `fit`'s monitor alone would have ended: its best epoch's weights, with
        the monitor's validation values as its history."""
        info = self.history_.attrs.get("monitor") if self.history_ is not None else None
        if info is None:
            raise ConfigError("fit() was not given a monitor")
        twin = copy.copy(self)
        twin.network_ = copy.deepcopy(self.network_)
        if info["state"] is not None:
            twin.network_.load_state_dict(info["state"])
        twin.network_.eval()
        history = pd.DataFrame({"epoch": np.arange(1, len(info["values"]) + 1), "valid": info["values"],
                                "seconds": info["seconds"]})
        history.attrs |= {"best_epoch": info["best_epoch"], "stopped_early": info["epochs"] < self.epochs}
        twin.history_ = history
        return twin

    def untrained(self, train: Any, side: Any = None) -> "MultVAE":
        """The network exactly as :meth:`fit` would start it (same seed, same initial weights) and never trained:
        the control that shows what the architecture alone puts into the latent space."""
        X = self._set_train(train, nonneg=True)
        n_conditions = 0 if side is None else _conditions(side, X.shape[1]).shape[1]
        torch.manual_seed(self.seed)
        self.network_ = self._new_network(X.shape[1], n_conditions, resolve_device(self.device))
        self.name = "C-VAE" if n_conditions else self.name
        return self

    def _new_network(self, n_items: int, n_conditions: int, device: Any) -> "VAENet":
        """The network of this model's shape, initialised from the current torch seed (fit and untrained share it)."""
        return VAENet(n_items, self.hidden, self.latent, n_conditions, self.variational, self.dropout).to(device)

    # ---------------------------------------------------------------------------------------------------- scoring
    def score(self, users: Any = None, condition: Any = None) -> np.ndarray:
        """Dense scores (decoder logits from z = mu, no dropout) for `users`, under `condition`."""
        return self._forward(users, condition, "scores")

    def encode(self, users: Any = None, condition: Any = None) -> np.ndarray:
        """Latent means mu (rows x latent) for `users` under `condition`."""
        return self._forward(users, condition, "latent")

    @torch.no_grad()
    def _forward(self, users: Any, condition: Any, what: str, batch_size: int = 1024) -> np.ndarray:
        """Scores or latent means of `users` under `condition`, in eval mode, by blocks of `batch_size` rows."""
        rows, _ = self._rows(users)
        net = self.network_
        n = rows.shape[0]
        if condition is None:
            cond = np.full(n, NO_CONDITION, dtype=np.int64)
        elif np.ndim(condition) == 0:
            cond = np.full(n, int(condition), dtype=np.int64)
        else:
            cond = np.asarray(condition, dtype=np.int64)
            if cond.shape != (n,):
                raise ConfigError(f"condition must be None, an int or one index per row ({n}), got shape {cond.shape}")
        if not net.n_conditions and (cond != NO_CONDITION).any():
            raise ConfigError("this model has no condition input (fit without side) but a condition was given")
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = []
        for start in range(0, n, batch_size):
            x = SparseRows.from_scipy(rows[start:start + batch_size], device, binary=True)
            c = torch.from_numpy(cond[start:start + batch_size]).to(device) if net.n_conditions else None
            value = net(x, c)[0] if what == "scores" else net.encode(x, c)[0]
            out.append(value.cpu().numpy())
        net.train(was_training)
        width = net.n_items if what == "scores" else net.latent
        return np.concatenate(out) if out else np.zeros((0, width), dtype=np.float32)


REGISTERED = {
    "Mult-DAE": Entry(partial(MultVAE, variational=False), trained=True, implicit=True, seeded=True, cost=3.0),
    "Mult-VAE": Entry(MultVAE, trained=True, implicit=True, seeded=True, cost=3.0),
    "C-VAE": Entry(MultVAE, side="genres", trained=True, implicit=True, seeded=True, cost=6.0),
}
