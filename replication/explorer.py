"""A pipeline explorer for the rendered book: real users' vectors through trained autoencoders, stage by stage
(input -> code -> output), with the films each model fills in.

Everything is computed here, at build time; the page gets a self-contained widget (inline JavaScript and CSS from
``replication/assets/``, the numbers embedded as JSON), so it works in the static HTML book without a kernel and
without a network. Vectors longer than :data:`EXACT_UP_TO` are stored as 8-bit codes (their plots need no more);
the recommended films' scores are stored exactly.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .errors import ConfigError, DataError
from .models.autorec import AutoRec
from .models.vae import MultVAE

EXACT_UP_TO = 256  # vectors up to this length are embedded as rounded numbers, longer ones as 8-bit codes


@dataclass(frozen=True)
class Layer:
    """One stage of an autoencoder's pipeline: its name, its width and how it is computed."""

    name: str
    size: int
    what: str


@dataclass(frozen=True)
class ExplorerUser:
    """A user shown in the explorer: their training ratings and the films they rated 4+ in the held-out part."""

    user: int
    label: str
    x: np.ndarray  # training ratings in stars, one entry per film (0 = not rated)
    held_out: np.ndarray  # films rated 4 or 5 stars among the user's held-out ratings (marked in the lists)


def layers(model: Any) -> list[Layer]:
    """The stages of a fitted AutoRec or Mult-DAE / Mult-VAE, from input to output, with their widths."""
    if isinstance(model, AutoRec):
        net = model.network_
        if net.n_extra_inputs:
            raise ConfigError("the explorer shows plain AutoRec only (this one has an extra input block)")
        return [Layer("input x", net.n_items, "the user's training ratings in stars; 0 = not rated"),
                Layer("code z", net.hidden, "z = sigmoid(W₁ x/5 + b₁): one number in (0, 1) per hidden unit"),
                Layer("output x̂", net.n_items, "x̂ = 5 (W₂ z + b₂): predicted stars for every film")]
    if isinstance(model, MultVAE):
        net = model.network_
        if net.n_conditions:
            raise ConfigError("the explorer shows unconditioned Mult-DAE / Mult-VAE only")
        code = Layer("code z", net.latent, "z = W₂ h + b₂")
        if net.variational:
            code = Layer("code μ", net.latent, "μ = W₂ h + b₂: the mean of q(z|x), the code used at test time "
                         "(the encoder also outputs log σ², used only to sample z in training)")
        return [Layer("input x", net.n_items, "1 for each film rated 4 or 5 stars, else 0 (then divided by its norm)"),
                Layer("encoder h", net.hidden, "h = tanh(W₁ x/‖x‖ + b₁)"), code,
                Layer("decoder h′", net.hidden, "h′ = tanh(W₃ z + b₃)"),
                Layer("output π", net.n_items,
                      "π = softmax(W₄ h′ + b₄): the share of probability of each film")]
    raise ConfigError(f"the explorer shows fitted AutoRec or MultVAE models, got {type(model).__name__}")


@torch.no_grad()
def pass_through(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """The values at every stage of :func:`layers` for one user's training ratings `x` (stars, length n_items)."""
    stages = layers(model)
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.shape != (stages[0].size,) or not np.all(np.isfinite(x)) or (x < 0).any():
        raise DataError(f"the user vector must hold {stages[0].size} finite, non-negative ratings, got shape "
                        f"{x.shape}")
    net = model.network_
    was_training = net.training
    net.eval()
    try:
        if isinstance(model, AutoRec):
            z = net.encode(torch.from_numpy(x[None] / model.scale).float())
            return [x, z.numpy()[0].astype(np.float64), (net.decode(z) * model.scale).numpy()[0].astype(np.float64)]
        binary = (x >= 4.0).astype(np.float32)
        if not binary.any():
            raise DataError("Mult-DAE / Mult-VAE need at least one film rated 4 or 5 stars in the user vector")
        h = torch.tanh(net.hidden_input(torch.from_numpy(binary[None])))
        code = net.enc_out(h)[:, :net.latent]
        h_dec = torch.tanh(net.dec_hidden(code))
        logits = net.dec_out(h_dec).numpy()[0].astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        return [binary.astype(np.float64), h.numpy()[0].astype(np.float64), code.numpy()[0].astype(np.float64),
                h_dec.numpy()[0].astype(np.float64), probabilities / probabilities.sum()]
    finally:
        net.train(was_training)


def top_unrated(scores: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """The k films with the largest scores among those the user has not rated (ties: lower index first)."""
    unrated = np.flatnonzero(np.asarray(x) == 0)
    return unrated[np.argsort(-np.asarray(scores)[unrated], kind="stable")[:k]]


def _stage_json(values: np.ndarray) -> dict:
    """A vector for the page: rounded numbers when short, else 8-bit codes between its min and max (base64)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= EXACT_UP_TO:
        return {"values": [float(f"{v:.4g}") for v in values]}
    lo, hi = float(values.min()), float(values.max())
    codes = np.zeros(values.size, dtype=np.uint8) if hi == lo else np.rint(255 * (values - lo) / (hi - lo))
    return {"lo": lo, "hi": hi, "bytes": base64.b64encode(codes.astype(np.uint8).tobytes()).decode("ascii")}


def explorer_data(models: Mapping[str, Any], users: Sequence[ExplorerUser], titles: Sequence[str],
                  k: int = 10) -> dict:
    """Everything the explorer shows, JSON-ready: each model's stages and top-k unrated films for each user."""
    if not models or not users:
        raise ConfigError("the explorer needs at least one model and one user")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    out_models = []
    for name, model in models.items():
        runs = []
        for person in users:
            stages = pass_through(model, person.x)
            top = top_unrated(stages[-1], person.x, int(k))
            runs.append({"stages": [_stage_json(v) for v in stages], "top": top.tolist(),
                         "scores": [float(f"{stages[-1][i]:.4g}") for i in top]})
        out_models.append({"name": name, "layers": [vars(layer) for layer in layers(model)], "runs": runs})
    if len(titles) != len(users[0].x):
        raise DataError(f"{len(titles)} titles for {len(users[0].x)} films")
    people = []
    for person in users:
        rated = np.flatnonzero(person.x)
        order = rated[np.argsort(-person.x[rated], kind="stable")]
        people.append({"user": int(person.user), "label": person.label, "rated": order.tolist(),
                       "stars": person.x[order].astype(int).tolist(),
                       "held_out": sorted(int(i) for i in person.held_out)})
    return {"k": int(k), "titles": [str(t) for t in titles], "users": people, "models": out_models}


def _asset(name: str) -> str:
    return resources.files("replication").joinpath("assets", name).read_text(encoding="utf-8")


class Explorer:
    """The explorer as a notebook output: rendered as self-contained HTML (``_repr_html_``)."""

    def __init__(self, data: dict, caption: str = "") -> None:
        self.data, self.caption = data, caption

    def _repr_html_(self) -> str:
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        caption = f'<p class="aex-caption">{html.escape(self.caption)}</p>' if self.caption else ""
        return (f'<style>{_asset("explorer.css")}</style>\n<div class="aex">'
                f'<script type="application/json" class="aex-data">{payload}</script>{caption}'
                f'<noscript>The explorer needs JavaScript.</noscript></div>\n<script>{_asset("explorer.js")}</script>')

    def __repr__(self) -> str:
        d = self.data
        return (f"Explorer({len(d['users'])} users x {len(d['models'])} models, top-{d['k']}; "
                f"{self.size_kb():.0f} kB as HTML)")

    def size_kb(self) -> float:
        """What the explorer adds to the page, in kB."""
        return len(self._repr_html_().encode("utf-8")) / 1024
