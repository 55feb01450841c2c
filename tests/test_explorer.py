"""The pipeline explorer's data (replication/explorer.py): every stage, the top-k lists and the embedding in the
page, checked against the models' own scoring paths and against hand-made cases. The rendered widget is used in a
real browser by tests/test_book.py."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from replication import explorer, teaching
from replication.errors import ConfigError, DataError
from replication.models import AutoRec, MultVAE

N_USERS, N_ITEMS = 40, 30


@pytest.fixture(scope="module")
def ratings() -> sp.csr_array:
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(N_USERS, N_ITEMS)) * (rng.random((N_USERS, N_ITEMS)) < 0.3)
    dense[:, 0] = 5  # everyone rated film 0 with 5 stars, so every row has a film rated 4+
    return sp.csr_array(dense.astype(np.float64))


@pytest.fixture(scope="module")
def fitted(ratings) -> dict:
    binary = sp.csr_array((ratings >= 4).astype(np.float64))
    return {"AutoRec": AutoRec(hidden=6, epochs=5, seed=0, device="cpu").fit(ratings),
            "Mult-DAE": MultVAE(variational=False, hidden=8, latent=4, epochs=3, seed=0, device="cpu").fit(binary),
            "Mult-VAE": MultVAE(hidden=8, latent=4, epochs=3, seed=0, device="cpu").fit(binary)}


def user_row(ratings, user: int) -> np.ndarray:
    return ratings[[user]].toarray().ravel()


def test_layers_follow_the_networks(fitted):
    assert [(la.name, la.size) for la in explorer.layers(fitted["AutoRec"])] == [
        ("input x", N_ITEMS), ("code z", 6), ("output x̂", N_ITEMS)]
    assert [la.size for la in explorer.layers(fitted["Mult-DAE"])] == [N_ITEMS, 8, 4, 8, N_ITEMS]
    assert [la.name for la in explorer.layers(fitted["Mult-VAE"])][2] == "code μ"
    with pytest.raises(ConfigError, match="AutoRec or MultVAE"):
        explorer.layers(object())


def test_autorec_stages_equal_its_scoring_and_the_chapter_trip(fitted, ratings):
    model = fitted["AutoRec"]
    x = user_row(ratings, 3)
    stages = explorer.pass_through(model, x)
    assert [len(v) for v in stages] == [la.size for la in explorer.layers(model)]
    np.testing.assert_array_equal(stages[0], x)
    np.testing.assert_allclose(stages[-1], model.score(np.array([3]))[0], rtol=1e-5, atol=1e-5)
    net = model.network_
    with torch.no_grad():
        trip = teaching.step_through(x, lambda v: net.encode(torch.from_numpy(v / model.scale).float()),
                                     lambda z: net.decode(torch.from_numpy(z)) * model.scale, k=5)
    np.testing.assert_allclose(stages[1], trip.z, rtol=1e-6)
    np.testing.assert_array_equal(explorer.top_unrated(stages[-1], x, 5), trip.filled_in["item"].to_numpy())


@pytest.mark.parametrize("name", ["Mult-DAE", "Mult-VAE"])
def test_vae_stages_equal_its_scoring(fitted, ratings, name):
    model = fitted[name]
    x = user_row(ratings, 5)
    binary = sp.csr_array((x >= 4).astype(np.float64)[None])
    stages = explorer.pass_through(model, x)
    np.testing.assert_array_equal(stages[0], (x >= 4).astype(float))
    np.testing.assert_allclose(stages[2], model.encode(binary)[0], rtol=1e-5, atol=1e-6)
    logits = model.score(binary)[0].astype(np.float64)
    expected = np.exp(logits - logits.max())
    np.testing.assert_allclose(stages[-1], expected / expected.sum(), rtol=1e-5)
    assert stages[-1].sum() == pytest.approx(1.0)
    assert np.all(np.abs(stages[1]) < 1) and np.all(np.abs(stages[3]) < 1), "tanh layers"
    unrated = np.flatnonzero(x == 0)
    np.testing.assert_array_equal(explorer.top_unrated(stages[-1], x, 4),
                                  unrated[np.argsort(-logits[unrated], kind="stable")[:4]])


def test_pass_through_leaves_the_model_as_it_was(fitted, ratings):
    net = fitted["Mult-DAE"].network_
    net.train()
    before = [p.detach().clone() for p in net.parameters()]
    first = explorer.pass_through(fitted["Mult-DAE"], user_row(ratings, 1))
    second = explorer.pass_through(fitted["Mult-DAE"], user_row(ratings, 1))
    assert net.training, "the training mode is restored"
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    for a, b in zip(first, second):  # no dropout at inference although the net was in training mode
        np.testing.assert_array_equal(a, b)


def test_pass_through_rejects_bad_vectors(fitted):
    with pytest.raises(DataError, match="30 finite"):
        explorer.pass_through(fitted["AutoRec"], np.ones(N_ITEMS + 1))
    with pytest.raises(DataError, match="non-negative"):
        explorer.pass_through(fitted["AutoRec"], -np.ones(N_ITEMS))
    with pytest.raises(DataError, match="4 or 5 stars"):
        explorer.pass_through(fitted["Mult-VAE"], np.r_[3.0, np.zeros(N_ITEMS - 1)])


def test_top_unrated_by_hand():
    scores = np.array([0.9, 0.5, 0.7, 0.7, 0.1])
    x = np.array([5, 0, 0, 0, 0])
    np.testing.assert_array_equal(explorer.top_unrated(scores, x, 3), [2, 3, 1])  # rated film 0 skipped, tie: 2 first
    np.testing.assert_array_equal(explorer.top_unrated(scores, x, 10), [2, 3, 1, 4])


def test_stage_encoding_exact_when_short_and_within_half_a_step_when_long():
    short = explorer._stage_json(np.array([0.123456, -2.0]))
    assert short == {"values": [0.1235, -2.0]}
    values = np.linspace(-1.0, 4.0, 1000) ** 2
    long = explorer._stage_json(values)
    codes = np.frombuffer(base64.b64decode(long["bytes"]), dtype=np.uint8)
    restored = long["lo"] + codes / 255 * (long["hi"] - long["lo"])
    assert len(codes) == 1000
    assert np.abs(restored - values).max() <= (values.max() - values.min()) / 510 + 1e-12
    flat = explorer._stage_json(np.full(300, 2.5))
    assert flat["lo"] == flat["hi"] == 2.5 and set(base64.b64decode(flat["bytes"])) == {0}


def test_explorer_data_and_page(fitted, ratings):
    users = [explorer.ExplorerUser(u, f"user {u}", user_row(ratings, u), np.array([2, 7])) for u in (0, 9)]
    titles = [f"film {i}" for i in range(N_ITEMS)]
    titles[4] = "A </script><b>tricky</b> & title"
    data = explorer.explorer_data(fitted, users, titles, k=3)
    assert json.loads(json.dumps(data)) == data, "JSON-ready"
    assert [m["name"] for m in data["models"]] == list(fitted)
    for model, entry in zip(fitted.values(), data["models"]):
        for person, run in zip(users, entry["runs"]):
            stages = explorer.pass_through(model, person.x)
            assert run["top"] == explorer.top_unrated(stages[-1], person.x, 3).tolist()
            np.testing.assert_allclose(run["scores"], stages[-1][run["top"]], rtol=1e-3)
            assert len(run["stages"]) == len(entry["layers"])
    person = data["users"][0]
    assert person["held_out"] == [2, 7] and sorted(person["rated"]) == np.flatnonzero(users[0].x).tolist()
    assert person["stars"] == sorted(person["stars"], reverse=True)
    assert explorer.explorer_data(fitted, users, titles, k=3) == data, "deterministic"
    page = explorer.Explorer(data)._repr_html_()
    assert page.count("</script>") == 2, "a title cannot close the data block"
    embedded = re.search(r'class="aex-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == data
    assert "function init(root)" in page and ".aex-controls" in page, "the widget's script and style are inline"
    assert not re.search(r'(src|href)="https?://', page), "nothing is loaded from the network"


def test_explorer_data_rejects_bad_inputs(fitted, ratings):
    users = [explorer.ExplorerUser(0, "user 0", user_row(ratings, 0), np.array([], dtype=int))]
    titles = [f"film {i}" for i in range(N_ITEMS)]
    with pytest.raises(ConfigError, match="at least one model"):
        explorer.explorer_data({}, users, titles)
    with pytest.raises(ConfigError, match="k must be"):
        explorer.explorer_data(fitted, users, titles, k=0)
    with pytest.raises(DataError, match="29 titles for 30 films"):
        explorer.explorer_data(fitted, users, titles[:-1])
