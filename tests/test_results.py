"""Results files: the documented schema (metric records, claims with test and sensitivity) validated on write and on
read, atomic writes, plain values; the report helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from replication import report, results
from replication.errors import DataError
from replication.experiments import claims as C


def a_claim(verdict: str = "does not hold") -> C.Claim:
    return C.Claim("c1", "A beats B", 0.9, "A - B = -0.1", verdict, "paired t-interval over 5 seeds",
                   [{"choice": "k = 20", "measured": "A - B = -0.2", "verdict": "does not hold"}])


def write(tmp_path, **overrides):
    kwargs = dict(config={"k": 3}, seeds=[0, 1],
                  metrics=[{"model": "A", "seed": 0, "metric": "rmse", "value": np.float32(0.5)},
                           {"model": "A", "seed": 1, "metric": "rmse", "value": 0.75}],
                  claims=[a_claim()], timings={"train": 1.5}, data={"f": "abc"})
    kwargs.update(overrides)
    return results.write_results(tmp_path, "demo", **kwargs)


def test_round_trip_follows_the_schema(tmp_path):
    payload = results.read_results(write(tmp_path))
    assert set(results.REQUIRED_KEYS) <= set(payload)
    assert payload["metrics"][0] == {"model": "A", "seed": 0, "metric": "rmse", "value": 0.5}
    assert payload["claims"][0]["verdict"] == "does not hold"
    assert payload["claims"][0]["sensitivity"][0]["choice"] == "k = 20"
    assert set(payload["claims"][0]) == set(results.CLAIM_KEYS)
    assert payload["environment"]["torch"].startswith("2.13")
    assert "metric" in results.SCHEMA and "sensitivity" in results.SCHEMA


def test_a_tidy_frame_becomes_records_and_nan_becomes_null(tmp_path):
    frame = pd.DataFrame({"model": ["A", "B"], "k": [10, np.nan], "metric": ["ndcg", "ndcg"],
                          "value": [0.3, float("nan")]})
    payload = json.loads(write(tmp_path, metrics=frame).read_text())
    assert payload["metrics"] == [{"model": "A", "k": 10.0, "metric": "ndcg", "value": 0.3},
                                  {"model": "B", "metric": "ndcg", "value": None}]


@pytest.mark.parametrize("metrics, words", [
    ({"rmse": 0.5}, "list of records"),
    ([{"metric": "rmse"}], "'metric' and 'value'"),
    ([{"metric": "rmse", "value": 1.0, "curve": [1, 2]}], "non-scalar"),
])
def test_metrics_that_break_the_schema_are_refused(tmp_path, metrics, words):
    with pytest.raises(DataError, match=words):
        write(tmp_path, metrics=metrics)


def test_claims_that_break_the_schema_are_refused(tmp_path):
    bad = a_claim().as_dict()
    del bad["test"]
    with pytest.raises(DataError, match="exactly the keys"):
        write(tmp_path, claims=[bad])
    no_sensitivity = {**a_claim().as_dict(), "sensitivity": []}
    with pytest.raises(DataError, match="no alternative"):
        write(tmp_path, claims=[no_sensitivity])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write(tmp_path)
    before = path.read_text()
    with pytest.raises((TypeError, DataError)):
        write(tmp_path, metrics=[{"metric": "x", "value": object()}])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]


def test_read_rejects_incomplete_files(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"chapter": "x"}))
    with pytest.raises(DataError, match="lacks keys"):
        results.read_results(tmp_path / "x.json")


def test_non_finite_values_become_null():
    assert results.to_jsonable({"x": math.inf, "y": [1.0, float("nan")]}) == {"x": None, "y": [1.0, None]}


def test_timer_accumulates():
    timer = results.Timer()
    for _ in range(2):
        with timer("a"):
            pass
    assert set(timer.seconds) == {"a"} and timer.seconds["a"] >= 0


def test_digests_by_file_flags_disagreement():
    same = {"a": {"data": {"f": "1", "g": "2"}}, "b": {"data": {"f": "1"}}}
    differ = {"a": {"data": {"f": "1"}}, "b": {"data": {"f": "9"}}}
    assert report.digests_by_file(same) == {"f": {"1"}, "g": {"2"}}
    assert report.digests_by_file(differ) == {"f": {"1", "9"}}


def test_claims_table_reports_robustness(tmp_path):
    write(tmp_path)
    table = report.claims_table(report.load_all_results(tmp_path))
    assert table.loc[0, "robustness"] == "robust" and table.loc[0, "alternatives"] == "k = 20: does not hold"
