"""The faithfulness chapter: its jobs never read the test ratings, its records and claims have the promised
shape, and bad parameters fail with one line naming the allowed values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from replication.chapters import faithfulness
from replication.errors import ConfigError

CHEAP = ["ItemKNN", "EASE"]


@pytest.fixture(scope="module")
def cheap_result():
    with pytest.MonkeyPatch.context() as m:
        m.setenv("REPLICATION_CACHE", "off")
        yield faithfulness.run(faithfulness.Config(seeds=[0, 1], models=CHEAP, n_jobs=1))


def test_no_job_reads_the_test_ratings(monkeypatch, cheap_result):
    original = faithfulness.holdout

    def flipped(*args, **kwargs):
        split = original(*args, **kwargs)
        test = split.test.copy()
        test.data = 6.0 - test.data
        return dataclasses.replace(split, test=test)

    monkeypatch.setattr(faithfulness, "holdout", flipped)
    out = faithfulness.explain_job("EASE", 0, [1, 5], {})
    mine = pd.DataFrame(out.records)
    theirs = cheap_result.frame[(cheap_result.frame["model"] == "EASE") & (cheap_result.frame["seed"] == 0) &
                                cheap_result.frame["m"].isin([1, 5])]
    merged = mine.merge(theirs, on=["model", "elements", "m", "metric"], suffixes=("", " chapter"))
    assert len(merged) == len(mine) > 0
    np.testing.assert_array_equal(merged["value"], merged["value chapter"])


def test_records_hold_every_model_kind_m_and_metric(cheap_result):
    f = cheap_result.frame
    assert set(f["model"]) == set(CHEAP) and set(f["elements"]) == set(faithfulness.KINDS)
    assert set(f["m"]) == {1, 2, 5, 10} and set(f["seed"]) == {0, 1}
    shares = f[f["metric"].str.startswith(("necessity", "sufficiency"))]["value"]
    assert shares.between(0, 1).all()
    deleted = f[(f["metric"] == "deleted")].set_index(["model", "elements", "seed", "m"])["value"]
    for m in (1, 2, 5, 10):  # the control deletes as many films as the explanation cites
        cited = deleted.xs(("cited", m), level=("elements", "m"))
        random = deleted.xs(("random", m), level=("elements", "m"))
        np.testing.assert_allclose(cited.to_numpy(), random.to_numpy())
        assert (cited <= m).all()
    claims = {c.id: c for c in faithfulness.claims(cheap_result)}
    assert set(claims) == {"itemknn_faithful", "ease_faithful"}, "claims need the models they compare"
    assert all(len(c.sensitivity) >= 5 for c in claims.values())
    table = faithfulness.worked_example(cheap_result)
    assert list(table.index) == CHEAP and table["cited first"].str.count(";").eq(1).all()


def test_bad_parameters_fail_with_one_line():
    with pytest.raises(ConfigError, match=r"unknown or no models \['SVD'\]; allowed: \['ItemKNN'"):
        faithfulness.Config(models=["SVD"])
    with pytest.raises(ConfigError, match=r"hold m_main \(3\)"):
        faithfulness.Config(ms=[1, 2], m_main=3)
