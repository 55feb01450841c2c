"""The one model protocol of the book: every recommender, from popularity to C-VAE, is used the same way.

    model = SomeModel(**hyper_parameters).fit(train, valid=Validation(...), side=...)
    scores = model.score(users)            # (len(users), n_items), higher = better
    model.history_                         # per-epoch frame for trained models, None otherwise

* ``train`` is the users x items CSR of training interactions (ratings or 0/1);
* ``valid`` (optional) is a :class:`replication.metrics.Validation`, what a trained model may use to stop early:
  the interactions to predict, for users not in ``train`` (strong generalization) their fold-in rows, and the
  metric; the model hands it predictions and it returns the value (evaluation never lives in a model file);
* ``side`` (optional) is the model's side information, computed from training data only: the explainability
  matrix E for E-AutoRec, the item x feature mask for SEMAUTO, the item x genre matrix for C-VAE;
* ``users`` is None (every fitted user), an integer array of rows of ``train``, or a sparse matrix of fold-in rows
  of new users (models that cannot fold in say so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..checks import as_csr
from ..errors import ConfigError, DataError

if TYPE_CHECKING:  # the type only: models never import the metrics module
    from ..metrics import Validation

__all__ = ["Recommender", "Entry"]


class Recommender:
    """Base class: input checking and the user-selection rule shared by every model."""

    name: str = "recommender"
    fold_in: bool = False  # whether score() accepts the rows of users outside the training matrix
    history_: pd.DataFrame | None = None

    def fit(self, train: Any, *, valid: "Validation | None" = None, side: Any = None) -> "Recommender":
        raise NotImplementedError

    def score(self, users: Any = None) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------ helpers
    def _set_train(self, train: Any, **checks: Any) -> sp.csr_array:
        self.train_ = as_csr(train, "train", **checks)
        if self.train_.nnz == 0:
            raise DataError("train has no interactions")
        return self.train_

    def _fitted(self) -> sp.csr_array:
        train = getattr(self, "train_", None)
        if train is None:
            raise ConfigError(f"{type(self).__name__} is not fitted: call fit(train) first")
        return train

    def _rows(self, users: Any) -> tuple[sp.csr_array, np.ndarray | None]:
        """The input rows for `users` and, for fitted users, their row indices (None for fold-in rows)."""
        train = self._fitted()
        if users is None:
            return train, np.arange(train.shape[0])
        if sp.issparse(users):
            if not self.fold_in:
                raise ConfigError(f"{type(self).__name__} scores only the users it was fitted on: pass row indices")
            return as_csr(users, "fold-in rows", n_items=train.shape[1], nonneg=True), None
        idx = np.asarray(users)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ConfigError(f"users must be None, a 1-D integer array of rows or a sparse matrix, got {idx!r}")
        if idx.size and (idx.min() < 0 or idx.max() >= train.shape[0]):
            raise ConfigError(f"user rows must lie in [0, {train.shape[0] - 1}], got [{idx.min()}, {idx.max()}]")
        return train[idx], idx

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.endswith("_") and not k.startswith("_"))
        return f"{type(self).__name__}({params})"


@dataclass(frozen=True)
class Entry:
    """A model registered by name in its own module's ``REGISTERED``: how to build it and the facts the experiments
    need about it, so that adding a model touches one file."""

    build: Callable[..., Recommender]
    side: str | None = None  # the side information fit() receives, computed from training data by the experiments
    trained: bool = False  # trained iteratively, stopping early on validation data
    implicit: bool = False  # trained on ratings >= 4 as implicit feedback (Liang et al.)
    seeded: bool = False  # takes a seed (initialisation, sampling)
    cost: float = 1.0  # the relative cost of one fit (the runner starts the costliest jobs first)
