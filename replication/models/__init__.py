"""Every recommender of the book under one protocol (see :mod:`replication.models.base`), by name.

    model = models.make("E-AutoRec", hidden=300, seed=0)       # a fresh, unfitted Recommender
    models.SIDE["E-AutoRec"]                                   # which side information its fit() needs
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ConfigError
from .autorec import AutoRec
from .base import Recommender
from .baselines import EASE, BiasedMF, ItemKNN, Popularity, Random, UserKNN
from .semauto import SemAuto
from .vae import MultVAE

__all__ = ["Recommender", "Random", "Popularity", "ItemKNN", "UserKNN", "EASE", "BiasedMF", "AutoRec", "SemAuto",
           "MultVAE", "MODELS", "SIDE", "make"]

MODELS: dict[str, Callable[..., Recommender]] = {
    "Random": Random,
    "Pop": Popularity,
    "ItemKNN": ItemKNN,
    "UserKNN": UserKNN,
    "EASE": EASE,
    "BiasedMF": BiasedMF,
    "Biases": lambda **kw: BiasedMF(factors=0, **kw),
    "AutoRec": AutoRec,
    "E-AutoRec": AutoRec,
    "SEMAUTO-sum": lambda **kw: SemAuto(recommender="sum", **kw),
    "SEMAUTO-kNN": lambda **kw: SemAuto(recommender="knn", **kw),
    "Mult-DAE": lambda **kw: MultVAE(variational=False, **kw),
    "Mult-VAE": MultVAE,
    "C-VAE": MultVAE,
}
# the side information each model's fit() receives (None: none); computed from training data by the experiments
SIDE: dict[str, str | None] = {name: None for name in MODELS} | {
    "E-AutoRec": "explainability", "SEMAUTO-sum": "item_features", "SEMAUTO-kNN": "item_features",
    "C-VAE": "genres"}


def make(name: str, **params: Any) -> Recommender:
    """A fresh model registered under `name` with hyper-parameters `params`."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; allowed: {list(MODELS)}")
    return MODELS[name](**params)
