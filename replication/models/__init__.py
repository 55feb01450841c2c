"""Every recommender of the book under one protocol (see :mod:`replication.models.base`), by name.

    model = models.make("E-AutoRec", hidden=300, seed=0)       # a fresh, unfitted Recommender
    models.MODELS["E-AutoRec"].side                            # which side information its fit() needs

Each model module registers its models in its own ``REGISTERED`` (an :class:`Entry` each: how to build the model,
its side information, whether it trains on validation, on implicit feedback, with a seed, and its relative cost).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import autorec, baselines, semauto, vae
from .autorec import AutoRec
from .base import Entry, Recommender
from .baselines import EASE, IALS, BiasedMF, ItemKNN, Popularity, PureSVD, Random, RP3beta, UserKNN
from .semauto import SemAuto
from .vae import MultVAE

__all__ = ["Recommender", "Entry", "Random", "Popularity", "ItemKNN", "UserKNN", "EASE", "RP3beta", "PureSVD", "IALS",
           "BiasedMF", "AutoRec",
           "SemAuto", "MultVAE", "MODELS", "SIDE", "make"]

MODELS: dict[str, Entry] = {**baselines.REGISTERED, **autorec.REGISTERED, **semauto.REGISTERED, **vae.REGISTERED}
SIDE: dict[str, str | None] = {name: entry.side for name, entry in MODELS.items()}  # what each fit() receives


def make(name: str, **params: Any) -> Recommender:
    """A fresh model registered under `name` with hyper-parameters `params`."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; allowed: {list(MODELS)}")
    return MODELS[name].build(**params)
