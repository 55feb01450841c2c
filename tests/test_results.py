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
                   [{"choice": "k = 20", "measured": "A - B = -0.2", "verdict": "does not hold"}], source=C.BOOK)


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


def test_timer_accumulates(monkeypatch):
    """Two 0.25 s stages of the same name add up (a timer that overwrote would show 0.25)."""
    clock = iter([10.0, 10.25, 20.0, 20.25])
    monkeypatch.setattr(results.time, "perf_counter", lambda: next(clock))
    timer = results.Timer()
    for _ in range(2):
        with timer("a"):
            pass
    assert timer.seconds == {"a": pytest.approx(0.5)}
    timer.count(type("Outcome", (), {"job_seconds": [1.0, 2.5]})())
    timer.count(type("Outcome", (), {"job_seconds": [0.5]})())
    assert timer.seconds["jobs"] == 3 and timer.seconds["job cpu seconds"] == pytest.approx(4.0)


def test_digests_by_file_flags_disagreement():
    same = {"a": {"data": {"f": "1", "g": "2"}}, "b": {"data": {"f": "1"}}}
    differ = {"a": {"data": {"f": "1"}}, "b": {"data": {"f": "9"}}}
    assert report.digests_by_file(same) == {"f": {"1"}, "g": {"2"}}
    assert report.digests_by_file(differ) == {"f": {"1", "9"}}


def test_claims_table_reports_robustness(tmp_path):
    write(tmp_path)
    table = report.claims_table(report.load_all_results(tmp_path))
    assert table.loc[0, "robustness"] == "robust" and table.loc[0, "alternatives"] == "k = 20: does not hold"


def some_tested_claims() -> list[C.Claim]:
    """Three claims with p-values (a paired test, a non-inferiority test with its margin, an inconclusive one)."""
    design = C.Resampling.random_splits(800, 100, "ratings")
    a, b = np.array([0.30, 0.32, 0.31, 0.33, 0.34]), np.array([0.29, 0.30, 0.30, 0.31, 0.31])
    margin = C.Bound(0.05, "a margin wide enough for the test")
    return [C.claim("clear", "A beats B", None, C.paired(a, b, design=design), {"k": C.paired(a, b, design=design)},
                    source=C.BOOK),
            C.claim("close", "A as good as B", None, C.noninferior(a, b, margin=margin, design=design), {},
                    source=C.BOOK),
            C.claim("unclear", "B beats A", None, C.paired(b + np.array([0.02, 0, 0, 0.01, 0.02]), a,
                                                            design=design), {}, source=C.BOOK)]


def test_claim_records_carry_p_margin_and_robustness(tmp_path):
    payload = results.read_results(write(tmp_path, claims=some_tested_claims()))
    clear, close, unclear = payload["claims"]
    assert clear["kind"] == "paired" and 0 < clear["p_value"] < 0.05 and clear["robustness"] == "robust"
    assert close["margin"]["reason"] == "a margin wide enough for the test" and close["q_value"] is None
    assert unclear["verdict"] == "inconclusive" and unclear["power"]["runs"] == 5
    broken = {**close, "margin": None}
    with pytest.raises(DataError, match="margin"):
        write(tmp_path, claims=[broken])


def test_book_q_values_are_benjamini_hochberg_over_every_chapter(tmp_path):
    claims = some_tested_claims()
    results.write_results(tmp_path, "one", config={}, seeds=[0], metrics=[], claims=claims[:2], timings={}, data={})
    results.write_results(tmp_path, "two", config={}, seeds=[0], metrics=[], claims=claims[2:], timings={}, data={})
    all_results = report.load_all_results(tmp_path)
    q = report.book_q_values(all_results)
    p = np.array([c.p_value for c in claims])
    m = len(p)
    by_hand = np.minimum.accumulate((np.sort(p) * m / np.arange(1, m + 1))[::-1])[::-1]
    expected = dict(zip([("one", "clear"), ("one", "close"), ("two", "unclear")], by_hand[np.argsort(np.argsort(p))]))
    assert q == pytest.approx(expected)
    results.set_q_values(tmp_path / "one.json", {cid: v for (ch, cid), v in q.items() if ch == "one"})
    again = results.read_results(tmp_path / "one.json")
    assert [c["q_value"] for c in again["claims"]] == pytest.approx([expected["one", "clear"], expected["one", "close"]])
    power = report.power_table(report.load_all_results(tmp_path))
    assert list(power["id"]) == ["unclear"] and power.loc[0, "runs"] == 5
