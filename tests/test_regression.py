"""The regression comparison itself: record keys, tolerances, skipped timing metrics, verdict changes (main and
sensitivity), missing records and files."""

from __future__ import annotations

import json

from replication import regression


def payload(values, verdicts=("holds",), alternatives=("holds",)):
    records = [{"model": "A", "metric": m, "value": v} for m, v in values.items()]
    claims = [{"id": f"c{i}", "verdict": v, "sensitivity": [{"choice": "k", "verdict": a, "measured": ""}]}
              for i, (v, a) in enumerate(zip(verdicts, alternatives))]
    return {"metrics": records, "claims": claims}


def test_record_keys_and_skipped_timings():
    head = regression.headline(payload({"ndcg": 0.4, "train_seconds": 9.0, "peak_mb": 3.0, "best_epoch": 419,
                                        "epochs_trained": 429}))
    assert head["metrics"] == {"metric=ndcg|model=A": 0.4}
    assert head["verdicts"] == {"c0": "holds", "c0 [k]": "holds"}


def test_small_noise_passes_and_real_moves_fail():
    ref = payload({"ndcg": 0.400, "rmse": 0.950, "tiny": 0.001})
    assert regression.compare(payload({"ndcg": 0.404, "rmse": 0.951, "tiny": 0.004}), ref) == []
    problems = regression.compare(payload({"ndcg": 0.380, "rmse": 0.950, "tiny": 0.001}), ref)
    assert problems == ["metric metric=ndcg|model=A: fresh 0.38 vs reference 0.4"]


def test_verdict_changes_and_missing_records_fail():
    ref = payload({"a": 1.0, "b": 2.0})
    problems = regression.compare(payload({"a": 1.0}, verdicts=("does not hold",), alternatives=("inconclusive",)),
                                  ref)
    assert "metric metric=b|model=A: present in only one of fresh / reference" in problems
    assert "claim c0: verdict 'does not hold' vs reference 'holds'" in problems
    assert "claim c0 [k]: verdict 'inconclusive' vs reference 'holds'" in problems


def test_compare_folder_reports_missing_fresh_file(tmp_path):
    ref_dir, fresh_dir = tmp_path / "ref", tmp_path / "fresh"
    ref_dir.mkdir(), fresh_dir.mkdir()
    (ref_dir / "x.json").write_text(json.dumps(payload({"a": 1.0})))
    (ref_dir / "y.json").write_text(json.dumps(payload({"a": 1.0})))
    (fresh_dir / "x.json").write_text(json.dumps(payload({"a": 1.0})))
    report = regression.compare_folder(fresh_dir, ref_dir)
    assert report["x"] == [] and "no fresh results file" in report["y"][0]
