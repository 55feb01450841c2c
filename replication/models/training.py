"""THE torch training loop of the book (AutoRec, E-AutoRec, Mult-DAE, Mult-VAE, C-VAE all train through it).

    history = fit_loop(module, optimizer, batches=..., loss=..., validate=..., epochs=200, patience=10, ...)

Per epoch: the model's `batches(epoch)` are fed to its `loss(batch, step)` (one optimizer step each); then
`validate()` is evaluated without gradients in eval mode. The loop keeps the weights of the best validation
epoch and restores them at the end; with `patience` it stops after that many epochs without improvement. Seeded
(torch's global generator is reset to `seed` first), with a progress bar and a per-epoch history frame.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import torch

from ..checks import check_int
from ..errors import ConfigError

__all__ = ["fit_loop", "resolve_device"]

LossFn = Callable[[Any, int], tuple[torch.Tensor, dict[str, float], float]]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; any other value is passed to torch.device."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from None


def fit_loop(module: torch.nn.Module, optimizer: torch.optim.Optimizer, *,
             batches: Callable[[int], Iterable[Any]], loss: LossFn, validate: Callable[[], float] | None = None,
             epochs: int, patience: int | None = None, higher_is_better: bool = True, seed: int = 0,
             progress: bool = False, desc: str = "training") -> pd.DataFrame:
    """Train `module` and return its history: one row per epoch with `epoch`, the batch-weighted means of every
    logged term (`loss` first), `weight` (the epoch's total batch weight, e.g. rows), `valid` (nan without
    `validate`) and `seconds`.

    `loss(batch, step)` returns (objective, {name: float to log}, weight of the batch); `step` counts optimizer
    steps from 0 (annealing schedules read it). With `validate`, the module ends with the weights of the epoch
    whose validation value was best (`history.attrs["best_epoch"]`), and `patience` stops training after that
    many epochs without improvement (`history.attrs["stopped_early"]`). Without `validate` the last epoch's weights
    are kept. The module is left in eval mode.
    """
    epochs = check_int("epochs", epochs, 1)
    if patience is not None:
        patience = check_int("patience", patience, 1)
    torch.manual_seed(seed)
    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), disable=not progress, desc=desc, leave=False)
    sign = 1.0 if higher_is_better else -1.0
    best, best_epoch, best_state, since_best, step, rows = -math.inf, 0, None, 0, 0, []
    for epoch in bar:
        start = time.perf_counter()
        module.train()
        sums: dict[str, float] = {}
        total_weight = 0.0
        for batch in batches(epoch):
            objective, logs, weight = loss(batch, step)
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            step += 1
            total_weight += weight
            for name, value in {"loss": float(objective.detach()), **logs}.items():
                sums[name] = sums.get(name, 0.0) + weight * float(value)
        row: dict[str, float] = {"epoch": epoch, **{k: v / max(total_weight, 1e-12) for k, v in sums.items()},
                                 "weight": total_weight}
        row["valid"] = float("nan")
        if validate is not None:
            module.eval()
            with torch.no_grad():
                row["valid"] = float(validate())
            if np.isfinite(row["valid"]) and sign * row["valid"] > best:
                best, best_epoch, since_best = sign * row["valid"], epoch, 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                since_best += 1
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        if progress:
            bar.set_postfix(loss=f"{row['loss']:.4g}", valid=f"{row['valid']:.4g}")
        if patience is not None and validate is not None and since_best >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    history = pd.DataFrame(rows)
    history.attrs["best_epoch"] = best_epoch if best_state is not None else len(rows)
    history.attrs["stopped_early"] = len(rows) < epochs
    return history
