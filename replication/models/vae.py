"""Mult-DAE, Mult-VAE (Liang et al. 2018) and the conditioned C-VAE (Carraro, Polato & Aiolli 2020), one module.

All three share one network, ``MultVAE``::

    encoder  [n_items (+ n_conditions)] -> hidden (tanh) -> latent      (Mult-DAE: the code z)
                                                         -> 2 x latent  (Mult-VAE / C-VAE: mu and log sigma^2)
    decoder  latent -> hidden (tanh) -> n_items   (logits; the multinomial log-likelihood is a log-softmax over items)

The input is the user's binary interaction vector, L2-normalised, then dropout (the "denoising" noise, also used by
Mult-VAE). C-VAE appends a one-hot condition to the encoder input *after* normalisation and dropout, so the
condition is never dropped; with the all-zero condition C-VAE is a Mult-VAE.

Quick use::

    from replication.models import vae
    model, history = vae.fit_vae(split.train, split.valid_in, split.valid_out, seed=0)   # Mult-VAE
    scores = vae.score(model, split.test_in)                          # dense (users x items) logits
    dae, _ = vae.fit_vae(split.train, split.valid_in, split.valid_out, variational=False, dropout=0.5)
    cvae, _ = vae.fit_vae(split.train, split.valid_in, split.valid_out, conditions=data.genre_matrix())
    comedy = vae.score(cvae, split.test_in, condition=4)              # every user conditioned on genre 4
    mu = vae.encode(cvae, split.test_in, condition=None)              # latent means (users x latent)

``history`` is a DataFrame with one row per epoch: ``epoch, loss, nll, kl, beta, ndcg@100 (validation), rows,
seconds``; ``history.attrs["best_epoch"]`` is the epoch whose weights the returned model holds.

C-VAE training data. Every training user appears once unconditioned (target = the whole history) and once for every
condition found in their history (target = only the history items that satisfy the condition). The expansion is
vectorised (:func:`expand_conditions`). On MovieLens-100K it multiplies the rows by ~14.5, so by default each epoch
uses all unconditioned rows plus a sample of ``cond_per_epoch`` (3) x n_users conditioned rows, redrawn every epoch
and balanced so that every condition is drawn about equally often (:func:`sample_conditioned`; the authors'
"balanced subsample"); ``cond_per_epoch=None`` uses every conditioned row. Training several networks at once:
:func:`fit_many` (one process per core).

beta annealing. beta = min(beta_cap, step / anneal_steps), growing by one step per parameter update (Liang et al.).
Liang anneal over 200,000 updates; ML-100K gives ~12 updates per epoch (batch 64), so that schedule would keep
beta ~ 0.
``anneal_steps=None`` therefore reaches the cap after ``anneal_fraction`` (default 0.5) of all updates.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from .. import metrics
from ..errors import ConfigError

__all__ = ["MultVAE", "fit_vae", "score", "encode", "expand_conditions", "condition_targets", "loss_terms",
           "ndcg100", "conditioned_eval", "strong_metrics", "fit_many", "sample_conditioned", "TrainConfig"]

NO_CONDITION = -1


def _check_csr(matrix, name: str, n_items: int | None = None) -> sp.csr_array:
    if not sp.issparse(matrix):
        raise ConfigError(f"{name} must be a scipy sparse users x items matrix, got {type(matrix).__name__}")
    out = sp.csr_array(matrix, dtype=np.float32, copy=True)
    if n_items is not None and out.shape[1] != n_items:
        raise ConfigError(f"{name} has {out.shape[1]} item columns but the model expects {n_items}")
    return out


class MultVAE(nn.Module):
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
        return {"n_items": self.n_items, "hidden": self.hidden, "latent": self.latent,
                "n_conditions": self.n_conditions, "variational": self.variational, "dropout": self.dropout_rate}

    def _check_condition(self, condition: torch.Tensor | None, n_rows: int) -> torch.Tensor | None:
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

    def hidden_input(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-activation of the first encoder layer: W^T [dropout(x / ||x||), onehot(c)] + b, computed sparsely."""
        if x.ndim != 2 or x.shape[1] != self.n_items:
            raise ConfigError(f"input must be rows x {self.n_items} items, got shape {tuple(x.shape)}")
        condition = self._check_condition(condition, x.shape[0])
        rows, cols = torch.nonzero(x, as_tuple=True)  # row-major, so each row's entries are contiguous
        norms = x.pow(2).sum(dim=1).sqrt().clamp_min(1e-12)
        values = x[rows, cols] / norms[rows]
        if self.training and self.dropout_rate > 0:
            keep = torch.rand(values.shape) >= self.dropout_rate
            values = values * keep / (1.0 - self.dropout_rate)
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64),
                             torch.bincount(rows, minlength=x.shape[0]).cumsum(0)[:-1]])
        h = F.embedding_bag(cols, self.enc_weight, offsets, mode="sum", per_sample_weights=values) + self.enc_bias
        if condition is not None:
            given = condition >= 0
            h = h + given[:, None] * self.enc_weight[self.n_items + condition.clamp_min(0)]
        return h

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu, logvar) for a batch of dense binary rows; logvar is None for Mult-DAE. ``condition`` holds one index
        per row (-1 = no condition) or is None."""
        out = self.enc_out(torch.tanh(self.hidden_input(x, condition)))
        if not self.variational:
            return out, None
        return out[:, :self.latent], out[:, self.latent:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec_out(torch.tanh(self.dec_hidden(z)))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None):
        """Logits, mu, logvar. In training mode a VAE samples z = mu + eps * sigma; in eval mode z = mu."""
        mu, logvar = self.encode(x, condition)
        z = mu
        if self.variational and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def loss_terms(logits: torch.Tensor, target: torch.Tensor, mu: torch.Tensor,
               logvar: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-batch means of the multinomial negative log-likelihood -sum_i t_i log softmax(logits)_i and of the
    KL(q(z|x) || N(0, I)) (zero for Mult-DAE)."""
    nll = -(F.log_softmax(logits, dim=1) * target).sum(dim=1).mean()
    if logvar is None:
        return nll, torch.zeros((), dtype=nll.dtype)
    kl = (0.5 * (-logvar + logvar.exp() + mu.pow(2) - 1.0).sum(dim=1)).mean()
    return nll, kl


def expand_conditions(train, item_conditions) -> tuple[np.ndarray, np.ndarray]:
    """C-VAE training rows as (user, condition) pairs, vectorised.

    Returns ``users`` and ``conditions`` (int64): first every user with condition -1 (no condition), then every
    (user, c) such that the user's history holds at least one item with condition c, ordered by user then c.
    """
    train = _check_csr(train, "train")
    cond = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions)
    if cond.ndim != 2 or cond.shape[0] != train.shape[1]:
        raise ConfigError(f"item_conditions must be items x conditions with {train.shape[1]} rows, got {cond.shape}")
    has = (train @ (cond > 0).astype(np.float32)) > 0
    users_c, conds_c = np.nonzero(has)
    n = train.shape[0]
    return (np.concatenate([np.arange(n), users_c]).astype(np.int64),
            np.concatenate([np.full(n, NO_CONDITION), conds_c]).astype(np.int64))


def condition_targets(x: torch.Tensor, condition: torch.Tensor, item_mask: torch.Tensor) -> torch.Tensor:
    """Targets for C-VAE: rows with condition c keep only items with item_mask[c]; condition -1 keeps all items.
    ``item_mask`` is conditions x items (0/1)."""
    full = torch.cat([item_mask, torch.ones(1, item_mask.shape[1], dtype=item_mask.dtype)], dim=0)
    return x * full[condition]  # index -1 picks the last (all-ones) row


@torch.no_grad()
def _forward_rows(model: MultVAE, matrix: sp.csr_array, condition, batch_size: int, what: str) -> np.ndarray:
    matrix = _check_csr(matrix, "input", model.n_items)
    n = matrix.shape[0]
    if condition is None:
        cond = np.full(n, NO_CONDITION, dtype=np.int64)
    elif np.ndim(condition) == 0:
        cond = np.full(n, int(condition), dtype=np.int64)
    else:
        cond = np.asarray(condition, dtype=np.int64)
        if cond.shape != (n,):
            raise ConfigError(f"condition must be None, an int or one index per row ({n}), got shape {cond.shape}")
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, n, batch_size):
        x = torch.from_numpy(matrix[start:start + batch_size].toarray())
        c = torch.from_numpy(cond[start:start + batch_size]) if model.n_conditions else None
        if c is None and (cond[start:start + batch_size] != NO_CONDITION).any():
            raise ConfigError("this model has no condition input (n_conditions=0) but a condition was given")
        if what == "scores":
            outputs.append(model(x, c)[0].numpy())
        else:
            outputs.append(model.encode(x, c)[0].numpy())
    model.train(was_training)
    if not outputs:
        return np.zeros((0, model.n_items if what == "scores" else model.latent), dtype=np.float32)
    return np.concatenate(outputs)


def score(model: MultVAE, input_csr, condition=None, batch_size: int = 1024) -> np.ndarray:
    """Dense users x items scores (decoder logits from z = mu, no dropout) for fold-in rows ``input_csr``.
    ``condition``: None (unconditioned), one condition index for every row, or an array of indices (-1 = none)."""
    return _forward_rows(model, input_csr, condition, batch_size, "scores")


def encode(model: MultVAE, input_csr, condition=None, batch_size: int = 1024) -> np.ndarray:
    """Latent means mu (users x latent) for ``input_csr`` under ``condition`` (as in :func:`score`)."""
    return _forward_rows(model, input_csr, condition, batch_size, "latent")


def ndcg100(model: MultVAE, fold_in, held_out, k: int = 100) -> float:
    """Mean nDCG@k of unconditioned scores on held-out items, fold-in items excluded (Liang's validation metric)."""
    scores = score(model, fold_in)
    k = min(k, scores.shape[1] - int(np.diff(sp.csr_array(fold_in).indptr).max(initial=0)))
    top = metrics.top_k(scores, k, exclude=fold_in)
    return float(np.nanmean(metrics.ndcg_at_k(top, held_out)))


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


@dataclass
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    beta_cap: float
    anneal_steps: int
    cond_per_epoch: float | None
    seed: int


def fit_vae(train_csr, valid_in=None, valid_out=None, conditions=None, *, epochs: int = 20, batch_size: int = 64,
            beta_cap: float = 0.2, anneal_steps: int | None = None, anneal_fraction: float = 0.5, lr: float = 1e-3,
            seed: int = 0, progress: bool = False, hidden: int = 600, latent: int = 200, variational: bool = True,
            dropout: float = 0.5, cond_per_epoch: float | None = 3.0, balance: bool = True, weight_decay: float = 0.0,
            patience: int | None = None) -> tuple[MultVAE, pd.DataFrame]:
    """Train Mult-VAE (default), Mult-DAE (``variational=False``) or C-VAE (``conditions`` = items x C 0/1 matrix).

    Adam(lr); loss = multinomial NLL + beta * KL with beta = min(beta_cap, update / anneal_steps) (KL is 0 for the
    DAE). With ``valid_in``/``valid_out`` the validation nDCG@100 (unconditioned) is computed after every epoch and
    the weights of the best epoch are reloaded at the end (``patience`` epochs without improvement stop early).
    C-VAE only: ``cond_per_epoch`` x n_users conditioned rows are drawn afresh each epoch (None = all of them);
    with ``balance`` every condition is drawn equally often in expectation (rows of rare genres are weighted up),
    otherwise rows are drawn uniformly.
    Returns ``(model, history)``; the model is in eval mode. Deterministic for a given seed.
    """
    train = _check_csr(train_csr, "train_csr")
    n_users, n_items = train.shape
    if epochs < 1 or batch_size < 1 or lr <= 0 or beta_cap < 0:
        raise ConfigError(f"need epochs >= 1, batch_size >= 1, lr > 0, beta_cap >= 0; got {epochs}, {batch_size}, "
                          f"{lr}, {beta_cap}")
    if (valid_in is None) != (valid_out is None):
        raise ConfigError("give both valid_in and valid_out, or neither")
    if valid_in is not None:
        valid_in = _check_csr(valid_in, "valid_in", n_items)
        valid_out = _check_csr(valid_out, "valid_out", n_items)
        if valid_in.shape != valid_out.shape:
            raise ConfigError(f"valid_in {valid_in.shape} and valid_out {valid_out.shape} differ in shape")
    if cond_per_epoch is not None and cond_per_epoch <= 0:
        raise ConfigError(f"cond_per_epoch must be > 0 or None (all conditioned rows), got {cond_per_epoch}")
    train.data[:] = 1.0  # binary implicit feedback

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_conditions = 0
    if conditions is not None:
        cond_matrix = np.asarray(conditions.toarray() if sp.issparse(conditions) else conditions, dtype=np.float32)
        users, conds = expand_conditions(train, cond_matrix)
        n_conditions = cond_matrix.shape[1]
        item_mask = torch.from_numpy((cond_matrix.T > 0).astype(np.float32))
    else:
        users, conds = np.arange(n_users), np.full(n_users, NO_CONDITION)
    uncond = np.flatnonzero(conds == NO_CONDITION)
    cond_rows = np.flatnonzero(conds != NO_CONDITION)
    n_sample = len(cond_rows) if cond_per_epoch is None else min(len(cond_rows), int(round(cond_per_epoch * n_users)))

    rows_per_epoch = len(uncond) + n_sample
    updates_per_epoch = int(np.ceil(rows_per_epoch / batch_size))
    if anneal_steps is None:
        anneal_steps = max(1, int(round(anneal_fraction * epochs * updates_per_epoch)))
    if anneal_steps < 1:
        raise ConfigError(f"anneal_steps must be >= 1, got {anneal_steps}")

    model = MultVAE(n_items, hidden, latent, n_conditions, variational, dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    dense = torch.from_numpy(train.toarray())
    users_t, conds_t = torch.from_numpy(users), torch.from_numpy(conds)

    try:
        from tqdm.auto import tqdm
        bar = tqdm(range(1, epochs + 1), disable=not progress, desc="epochs", leave=False)
    except ImportError:  # pragma: no cover
        bar = range(1, epochs + 1)
    step, best, best_state, best_epoch, since_best, log = 0, -np.inf, None, 0, 0, []
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        picked = np.concatenate([uncond, cond_rows[sample_conditioned(conds[cond_rows], n_sample, rng, balance)]])
        order = torch.from_numpy(rng.permutation(picked))
        sums = np.zeros(3)
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            x = dense[users_t[idx]]
            c = conds_t[idx] if n_conditions else None
            target = condition_targets(x, c, item_mask) if n_conditions else x
            logits, mu, logvar = model(x, c)
            nll, kl = loss_terms(logits, target, mu, logvar)
            beta = min(beta_cap, step / anneal_steps) if variational else 0.0
            loss = nll + beta * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            sums += np.array([loss.item(), nll.item(), kl.item()]) * len(idx)
        sums /= len(order)
        row = {"epoch": epoch, "loss": sums[0], "nll": sums[1], "kl": sums[2], "beta": beta,
               "rows": len(order), "ndcg@100": np.nan}
        if valid_in is not None:
            row["ndcg@100"] = ndcg100(model, valid_in, valid_out)
            if row["ndcg@100"] > best:
                best, best_epoch, since_best = row["ndcg@100"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
        row["seconds"] = time.perf_counter() - start
        log.append(row)
        if patience is not None and since_best >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(log)
    model.eval()
    history = pd.DataFrame(log)
    history.attrs["best_epoch"] = best_epoch
    history.attrs["config"] = TrainConfig(epochs, batch_size, lr, beta_cap, anneal_steps, cond_per_epoch, seed).__dict__
    return model, history


def conditioned_eval(scores_by_condition, fold_in, held_out, item_conditions, k: int = 10,
                     post_filter: bool = False) -> pd.DataFrame:
    """Conditioned top-k evaluation, one row per condition.

    ``scores_by_condition(c)`` returns users x items scores for condition c (e.g. ``lambda c: score(cvae, X, c)``,
    or ``lambda c: base`` for an unconditioned model). With ``post_filter`` items without condition c are pushed
    below every other item (Mult-VAE + genre filter). Per condition: ``share`` = mean share of the top-k that has the
    condition, ``ndcg`` = mean nDCG@k on the held-out items that have the condition (users with none skipped),
    ``users`` = number of users with such held-out items.
    """
    cond = np.asarray(item_conditions.toarray() if sp.issparse(item_conditions) else item_conditions) > 0
    fold_in, held_out = sp.csr_array(fold_in), sp.csr_array(held_out)
    rows = []
    for c in range(cond.shape[1]):
        s = np.array(scores_by_condition(c), dtype=np.float64, copy=True)
        if post_filter:
            s[:, ~cond[:, c]] -= 1e12
        top = metrics.top_k(s, k, exclude=fold_in)
        relevant = held_out @ sp.diags_array(cond[:, c].astype(np.float32))
        ndcg = metrics.ndcg_at_k(top, relevant)
        rows.append({"condition": c, "share": float(cond[top, c].mean()),
                     "ndcg": float(np.nanmean(ndcg)) if np.isfinite(ndcg).any() else np.nan,
                     "users": int(np.isfinite(ndcg).sum())})
    return pd.DataFrame(rows)


def strong_metrics(scores: np.ndarray, fold_in, held_out) -> dict[str, float]:
    """Liang et al.'s strong-generalization metrics for one model: mean nDCG@100, Recall@20 and Recall@50
    (recall normalised by min(k, #held-out items)), fold-in items excluded from the ranking."""
    top = metrics.top_k(np.asarray(scores), 100, exclude=fold_in)
    return {"ndcg@100": float(np.nanmean(metrics.ndcg_at_k(top, held_out))),
            "recall@20": float(np.nanmean(metrics.recall_at_k(top[:, :20], held_out, normalized=True))),
            "recall@50": float(np.nanmean(metrics.recall_at_k(top[:, :50], held_out, normalized=True)))}


def _fit_job(job: dict, threads: int):
    torch.set_num_threads(threads)
    return fit_vae(**job)


def fit_many(jobs: list[dict], n_jobs: int = 1, threads: int = 1) -> list[tuple[MultVAE, pd.DataFrame]]:
    """Run several :func:`fit_vae` calls, each given as a dict of its keyword arguments, and return their
    ``(model, history)`` pairs in the order of `jobs`. With ``n_jobs > 1`` they run in that many worker processes
    (joblib/loky), each with ``threads`` torch threads; results are identical to running them one after another,
    since every run is seeded."""
    if n_jobs < 1 or threads < 1:
        raise ConfigError(f"n_jobs and threads must be >= 1, got {n_jobs} and {threads}")
    if n_jobs == 1 or len(jobs) <= 1:
        previous = torch.get_num_threads()
        try:
            return [_fit_job(job, threads) for job in jobs]
        finally:
            torch.set_num_threads(previous)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, backend="loky")(delayed(_fit_job)(job, threads) for job in jobs)
