"""The one training loop: early stopping with patience restores the best weights, seeding, history, devices, and
the Rprop optimizer equal to torch's."""

from __future__ import annotations

import pytest
import torch

from replication.errors import ConfigError
from replication.models.training import Rprop, fit_loop, resolve_device


def toy_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64)
    return x, y


def test_rprop_equals_torch_rprop():
    x, y = toy_problem()
    runs = []
    for cls in (Rprop, torch.optim.Rprop):
        w = torch.zeros(3, requires_grad=True)
        opt = cls([w], lr=0.05)
        for _ in range(25):
            opt.zero_grad()
            ((x @ w - y) ** 2).mean().backward()
            opt.step()
        runs.append(w.detach().clone())
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


@pytest.mark.parametrize("etas, exact", [((0.5, 1.2), True), ((0.3, 1.7), False)])
def test_rprop_equals_torch_rprop_under_random_sign_flips(etas, exact):
    """Random gradients (many flips, some exact zeros) on a 2-D weight: the same steps as torch's Rprop, bit for bit
    with the default etas (to float rounding with others, whose factors 1 + (eta - 1) may round differently)."""
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(40, 30, generator=generator) * (torch.rand(40, 30, generator=generator) > 0.1)
             for _ in range(30)]
    runs = []
    for cls in (Rprop, torch.optim.Rprop):
        w = torch.zeros(40, 30, requires_grad=True)
        opt = cls([w], lr=0.01, etas=etas, step_sizes=(1e-4, 0.05))
        for g in grads:
            w.grad = g.clone()
            opt.step()
        runs.append((w.detach().clone(), opt.state[w]["step_size"].clone()))
    tol = dict(rtol=0, atol=0) if exact else dict(rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(runs[0][0], runs[1][0], **tol)
    torch.testing.assert_close(runs[0][1], runs[1][1], **tol)


def test_loop_restores_the_best_validation_epoch_and_stops_with_patience():
    x, y = toy_problem()
    w = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(w.parameters(), lr=0.1)
    scripted = iter([5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 9.0, 9.0])  # best at epoch 3, then 3 epochs without improvement
    snapshots = []

    def validate():
        snapshots.append({k: v.clone() for k, v in w.state_dict().items()})
        return next(scripted)

    history = fit_loop(w, opt, batches=lambda epoch: [None],
                       loss=lambda batch, step: (((w(x).squeeze(1) - y) ** 2).mean(), {"extra": 1.0}, 2.0),
                       validate=validate, epochs=50, patience=3, higher_is_better=False)
    assert len(history) == 6 and history.attrs["best_epoch"] == 3 and history.attrs["stopped_early"]
    for key, value in w.state_dict().items():
        torch.testing.assert_close(value, snapshots[2][key])  # the weights of epoch 3, not of the last epoch
    assert list(history.columns) == ["epoch", "loss", "extra", "weight", "valid", "seconds"]
    assert (history["weight"] == 2.0).all() and not w.training


def test_logged_terms_are_batch_weighted_means_and_steps_count_updates():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    steps = []

    def loss(batch, step):
        steps.append(step)
        return model.weight.sum() * 0 + batch, {"term": batch * 10}, float(batch)

    history = fit_loop(model, opt, batches=lambda epoch: [1.0, 3.0], loss=loss, epochs=2)
    assert steps == [0, 1, 2, 3]
    assert history["loss"].tolist() == [2.5, 2.5]  # (1*1 + 3*3) / 4
    assert history["term"].tolist() == [25.0, 25.0] and history["valid"].isna().all()
    assert history.attrs["best_epoch"] == 2 and not history.attrs["stopped_early"]


def test_seeded_runs_repeat():
    def run(disturb: int):
        x, y = toy_problem()
        torch.randn(disturb)  # the global generator's state differs between the two runs before training
        model = torch.nn.Linear(3, 1)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.zeros_(model.bias)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        fit_loop(model, opt, batches=lambda e: [None],
                 loss=lambda b, s: (((model(x + torch.randn(64, 3)).squeeze(1) - y) ** 2).mean(), {}, 1.0),
                 epochs=3, seed=7)
        return model.weight.detach().clone()

    torch.testing.assert_close(run(1), run(5))


def test_bad_settings_and_devices():
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="epochs"):
        fit_loop(model, opt, batches=lambda e: [], loss=None, epochs=0)
    with pytest.raises(ConfigError, match="patience"):
        fit_loop(model, opt, batches=lambda e: [], loss=None, epochs=1, patience=0)
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu:x")
