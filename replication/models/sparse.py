"""The sparse autograd kernels the autoencoders train with: what lets a training step touch only the observed
entries of the rating matrix.

* AutoRec / E-AutoRec: :class:`Pattern` (a batch's observed (row, item) pairs in CSR and CSC order),
  :class:`Encode` (the encoder over the sparse input, and E-AutoRec's extra block, dense or as the product M @ R of
  :class:`MixedRatings`) and :class:`SampledDot` (the decoder evaluated only at the observed pairs);
* Mult-DAE / Mult-VAE / C-VAE: :class:`SparseRows` (a batch of rows in CSR form) and ``first_layer`` (the encoder's
  first layer over them, condition rows folded in).

Each is an embedding-bag product forward and backward; the tests compare every kernel with its dense product.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from ..errors import ConfigError

__all__ = ["Pattern", "MixedRatings", "Encode", "SampledDot", "SparseRows", "first_layer"]


class Pattern:
    """The observed (row, item) pairs of a batch in CSR order, with the permutation to item-major (CSC) order: what
    the sparse encoder and decoder need to run their products in both directions.

    Both products are embedding-bag sums (each output row sums the dense rows its pattern row points at, weighted by
    the values): on one CPU thread twice as fast here as torch's sparse CSR x dense product, and no sparse tensor is
    ever built."""

    def __init__(self, rows: torch.Tensor, items: torch.Tensor, n_rows: int, n_items: int) -> None:
        self.rows, self.items, self.shape = rows, items, (n_rows, n_items)
        device = items.device
        self.crow = torch.zeros(n_rows + 1, dtype=torch.int64, device=device)
        self.crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_rows), 0)
        self.to_csc = torch.argsort(items * n_rows + rows)  # CSR position of each entry in item-major order
        self.ccol = torch.zeros(n_items + 1, dtype=torch.int64, device=device)
        self.ccol[1:] = torch.cumsum(torch.bincount(items, minlength=n_items), 0)
        self.csc_rows = rows[self.to_csc]

    def csr(self, values: torch.Tensor) -> torch.Tensor:
        """The (n_rows, n_items) sparse matrix with `values` (one per pair, CSR order). torch warns that sparse CSR
        tensors are in beta; the pattern is valid by construction (sorted CSR from scipy), so that one warning is
        silenced here, not for the whole process."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.items, values, self.shape, check_invariants=False)

    def times(self, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """X @ dense, X = the (n_rows, n_items) matrix holding `values` (CSR order) at the pattern's pairs."""
        return F.embedding_bag(self.items, dense, self.crow, mode="sum", per_sample_weights=values,
                               include_last_offset=True)

    def t_times(self, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """X^T @ dense (n_items rows), X as in :meth:`times`."""
        return F.embedding_bag(self.csc_rows, dense, self.ccol, mode="sum", per_sample_weights=values[self.to_csc],
                               include_last_offset=True)


@dataclass(frozen=True)
class MixedRatings:
    """An extra input block given as a product M @ R, never formed: each user's extra input is an M-weighted mix of
    the users' rating vectors (M: users x users, sparse; R: users x items ratings, in stars like the training
    matrix). E-AutoRec's E without a threshold is one: M holds 1/|N_u| at u's neighbours, R the training ratings
    (:func:`replication.explain.explainability_input`). The encoder then computes M (R W_e) with two sparse
    products instead of a dense (users x items) block times W_e: four times less work on ML-100K, and no dense
    users x items matrix on large data."""

    mixing: Any
    ratings: Any


class _Mix:
    """MixedRatings as torch tensors: M's rows (of `users`, None = all) as a pattern with weights, and R / scale."""

    def __init__(self, mixing: "_Rows", source: "_Rows", users: torch.Tensor | None = None) -> None:
        self.mixing, self.source = mixing, source
        positions, self.pattern = mixing.select(users)
        self.weights = mixing.values if users is None else mixing.values[positions]
        self.shape = (self.pattern.shape[0], source.n_items)

    def rows(self, users: torch.Tensor) -> "_Mix":
        """The block's rows of `users` (their mixing weights over every user's ratings)."""
        return _Mix(self.mixing, self.source, users)

    def times(self, weight: torch.Tensor) -> torch.Tensor:
        """block @ weight = M ((R / scale) @ weight), two sparse products, differentiable in `weight`."""
        return self.pattern.times(self.weights, self.source.pattern.times(self.source.values, weight))

    def t_times(self, grad: torch.Tensor) -> torch.Tensor:
        """block^T @ grad = (R / scale)^T (M^T grad)."""
        return self.source.pattern.t_times(self.source.values, self.pattern.t_times(self.weights, grad))


def _block_times(extra: "torch.Tensor | _Mix", weight: torch.Tensor) -> torch.Tensor:
    """E @ weight for a dense or a mixed extra block E."""
    return extra.times(weight) if isinstance(extra, _Mix) else extra @ weight


def _block_t_times(extra: "torch.Tensor | _Mix", grad: torch.Tensor) -> torch.Tensor:
    """E^T @ grad for a dense or a mixed extra block E."""
    return extra.t_times(grad) if isinstance(extra, _Mix) else extra.T @ grad


class Encode(torch.autograd.Function):
    """The encoder's pre-activation z = X W_r + E W_e + b for the sparse rows X of a pattern (values = the scaled
    ratings, no gradient) and an optional extra block E (E-AutoRec), dense or :class:`MixedRatings`: embedding-bag
    sums (plus the block's product) forward; backward grad_W_r = X^T G (a sparse x dense product), grad_W_e = E^T G,
    grad_b = the column sums of G. ``weight`` is the whole item-major input weight [W_r; W_e], or W_r alone when E
    shares it (the sum reading, z = (X + E) W_r + b: grad_W_r = X^T G + E^T G). A ``memo`` holding z
    already computed for these very weights and inputs (the previous epoch's validation pass) makes the forward
    free."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, bias: torch.Tensor, values: torch.Tensor, pattern: Pattern,
                extra: "torch.Tensor | _Mix | None", memo: torch.Tensor | None) -> torch.Tensor:
        n_items = pattern.shape[1]
        ctx.pattern, ctx.extra, ctx.concat = pattern, extra, weight.shape[0] > n_items
        ctx.save_for_backward(values)
        if memo is not None:
            return memo.clone()
        z = pattern.times(values, weight[:n_items])
        if extra is not None:  # a weight with no rows beyond the items' = the shared block of the sum reading
            z.add_(_block_times(extra, weight[n_items:] if weight.shape[0] > n_items else weight))
        return z.add_(bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (values,) = ctx.saved_tensors
        grad, extra = grad.contiguous(), ctx.extra
        grad_weight = ctx.pattern.t_times(values, grad)
        if extra is not None:
            block = _block_t_times(extra, grad)
            grad_weight = torch.cat([grad_weight, block]) if ctx.concat else grad_weight.add_(block)
        return grad_weight, grad.sum(0), None, None, None, None


class SampledDot(torch.autograd.Function):
    """values[j] = h[rows[j]] . W[items[j]]: the decoder evaluated only at the pairs of a pattern (a sampled
    dense-dense product), never forming a dense users x items matrix; backward: grad_h = G W and grad_W = G^T h,
    two sparse x dense products (embedding-bag sums) with the output gradients G."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, W: torch.Tensor, pattern: Pattern) -> torch.Tensor:
        ctx.pattern = pattern
        ctx.save_for_backward(h, W)
        zeros = torch.zeros(pattern.items.shape[0], dtype=h.dtype, device=h.device)
        return torch.sparse.sampled_addmm(pattern.csr(zeros), h, W.T).values()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, W = ctx.saved_tensors
        grad_h = ctx.pattern.times(grad, W) if ctx.needs_input_grad[0] else None
        grad_W = ctx.pattern.t_times(grad, h) if ctx.needs_input_grad[1] else None
        return grad_h, grad_W, None


def _rows_of(extra: "torch.Tensor | _Mix", users: torch.Tensor) -> "torch.Tensor | _Mix":
    return extra.rows(users) if isinstance(extra, _Mix) else extra[users]


class _Rows:
    """A CSR rating matrix as torch tensors, sliceable by users without a Python loop."""

    def __init__(self, R: sp.csr_array, scale: float, device: torch.device) -> None:
        self.n_users, self.n_items = R.shape
        self.indptr = torch.from_numpy(R.indptr.astype(np.int64)).to(device)
        self.items = torch.from_numpy(R.indices.astype(np.int64)).to(device)
        self.values = torch.from_numpy((R.data / scale).astype(np.float32)).to(device)
        self.rows = torch.repeat_interleave(torch.arange(self.n_users, device=device), self.indptr.diff())
        self.pattern = Pattern(self.rows, self.items, self.n_users, self.n_items)

    def select(self, users: torch.Tensor | None) -> tuple[torch.Tensor, Pattern]:
        """(positions of the users' entries, their pattern with rows renumbered 0..len(users)-1)."""
        if users is None:
            return torch.arange(self.items.shape[0], device=self.items.device), self.pattern
        starts, degree = self.indptr[users], self.indptr[users + 1] - self.indptr[users]
        offsets = torch.cumsum(degree, 0) - degree
        local = torch.repeat_interleave(torch.arange(len(users), device=users.device), degree)
        positions = torch.repeat_interleave(starts - offsets, degree) + torch.arange(int(degree.sum()),
                                                                                     device=users.device)
        return positions, Pattern(local, self.items[positions], len(users), self.n_items)


class SparseRows(NamedTuple):
    """A batch of rows in CSR form on one device: row r's non-zeros are ``cols[indptr[r]:indptr[r + 1]]`` (ascending)
    with ``values`` alongside, and ``rows`` holds every non-zero's row (the COO row index, kept so that no step
    recomputes it); ``width`` is the number of columns. What the network reads instead of dense rows."""

    indptr: torch.Tensor  # (n_rows + 1,) int64
    rows: torch.Tensor  # (nnz,) int64
    cols: torch.Tensor  # (nnz,) int64
    values: torch.Tensor  # (nnz,) float32
    width: int

    @property
    def n_rows(self) -> int:
        """Number of rows in the batch."""
        return self.indptr.numel() - 1

    @classmethod
    def from_scipy(cls, matrix: sp.csr_array, device: Any = "cpu", binary: bool = False) -> "SparseRows":
        """The rows of a canonical scipy CSR matrix (sorted, no duplicates or explicit zeros); ``binary``: every
        stored value read as 1 (the implicit-feedback input)."""
        values = np.ones(matrix.nnz, dtype=np.float32) if binary else matrix.data.astype(np.float32, copy=False)
        indptr = matrix.indptr.astype(np.int64)
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(indptr))
        return cls(*(torch.from_numpy(a).to(device) for a in (indptr, rows, matrix.indices.astype(np.int64), values)),
                   int(matrix.shape[1]))

    @classmethod
    def of(cls, x: "torch.Tensor | SparseRows") -> "SparseRows":
        """`x` itself, or the non-zeros of a dense 2-D tensor in row-major order (what torch.nonzero gives)."""
        if isinstance(x, SparseRows):
            return x
        if x.ndim != 2:
            raise ConfigError(f"rows must be a 2-D tensor or SparseRows, got shape {tuple(x.shape)}")
        rows, cols = torch.nonzero(x, as_tuple=True)
        return cls(_pointers(rows, x.shape[0]), rows, cols, x[rows, cols], int(x.shape[1]))

    def subset(self, keep: torch.Tensor) -> "SparseRows":
        """The batch with only the non-zeros where the boolean `keep` holds (rows and their order unchanged)."""
        rows = self.rows[keep]
        return SparseRows(_pointers(rows, self.n_rows), rows, self.cols[keep], self.values[keep], self.width)


def _pointers(rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """CSR row pointers (n_rows + 1) of non-zeros sorted by row, from their row indices."""
    counts = torch.bincount(rows, minlength=n_rows)
    return torch.cat([torch.zeros(1, dtype=torch.int64, device=rows.device), counts.cumsum(0)])


class _SparseFirstLayer(torch.autograd.Function):
    """h = [s, onehot(c)] W + b for sparse rows s: forward, a lookup-and-sum of W's rows at each row's non-zeros
    (embedding_bag) plus the condition's row; backward, dW = [s, onehot(c)]^T dh as the same lookup-and-sum over
    the transposed batch (each input column's rows): one dense weights-sized gradient, ~0.3 ms per C-VAE batch of 64
    on ML-100K (one thread), where embedding_bag's own backward plus the condition rows' indexing took ~0.9 ms and
    built a second dense gradient to add."""

    @staticmethod
    def forward(ctx: Any, x: SparseRows, values: torch.Tensor, cond_rows: torch.Tensor, cond_cols: torch.Tensor,
                weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """The pre-activation (rows x hidden) of the rows `x` with their non-zeros' (normalised, dropped) `values`;
        ``cond_rows`` / ``cond_cols``: the conditioned rows and their condition's row of ``weight``."""
        h = F.embedding_bag(x.cols, weight, x.indptr[:-1], mode="sum", per_sample_weights=values) + bias
        if cond_rows.numel():
            h[cond_rows] += weight[cond_cols]
        ctx.save_for_backward(x.rows, x.cols, values, cond_rows, cond_cols)
        ctx.n_inputs = weight.shape[0]
        return h

    @staticmethod
    def backward(ctx: Any, grad_h: torch.Tensor):
        """Gradients of forward's inputs: the weight's and the bias's (None for the batch and its values)."""
        rows, cols, values, cond_rows, cond_cols = ctx.saved_tensors
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[4]:
            entry_rows, entry_cols = torch.cat([rows, cond_rows]), torch.cat([cols, cond_cols])
            entry_values = torch.cat([values, torch.ones(cond_rows.numel(), dtype=values.dtype, device=values.device)])
            order = torch.argsort(entry_cols, stable=True)  # the transpose: entries grouped by input column
            counts = torch.bincount(entry_cols, minlength=ctx.n_inputs)
            grad_weight = F.embedding_bag(entry_rows[order], grad_h.contiguous(), counts.cumsum(0) - counts,
                                          mode="sum", per_sample_weights=entry_values[order])
        if ctx.needs_input_grad[5]:
            grad_bias = grad_h.sum(dim=0)
        return None, None, None, None, grad_weight, grad_bias


def first_layer(x: SparseRows, values: torch.Tensor, cond_rows: torch.Tensor, cond_cols: torch.Tensor,
                weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """h = [s, onehot(c)] W + b over the sparse rows `x` (see :class:`_SparseFirstLayer`)."""
    return _SparseFirstLayer.apply(x, values, cond_rows, cond_cols, weight, bias)
