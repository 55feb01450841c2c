"""The chapters' modules at the tiny parameters of notebooks/smoke.yml: they run, write schema-valid results with a
test and a sensitivity list for every claim, and their numbers and verdicts match the committed smoke reference
values (tests/reference/smoke/), so a quiet shift shows up without executing the book."""

from __future__ import annotations

import json

import pytest

from replication import regression, results


@pytest.mark.parametrize("chapter", regression.SMOKE_CHAPTERS)
def test_smoke_run_matches_the_reference(chapter, tmp_path):
    path = regression.run_smoke(chapter, tmp_path)
    payload = results.read_results(path)
    assert payload["metrics"] and payload["claims"]
    for claim in payload["claims"]:
        assert claim["test"] and (claim["sensitivity"] or "no alternative:" in claim["measured"]), claim["id"]
    reference = regression.SMOKE_REFERENCE_DIR / f"{chapter}.json"
    assert reference.exists(), "no smoke reference: run `python -m replication reference --smoke`"
    problems = regression.compare(payload, json.loads(reference.read_text()))
    assert not problems, "smoke results moved (regenerate only after review):\n" + "\n".join(problems[:20])


def test_eautorec_tie_share_by_hand():
    """Per list length n: the share of users whose n-th and (n+1)-th best unrated items tie (known items never
    count)."""
    import numpy as np
    import scipy.sparse as sp

    from replication.chapters.eautorec import _tied_shares

    scores = np.array([[5.0, 5.0, 4.0, 3.0, 9.0],   # item 4 is known: ranked 5, 5 | 4, 3 -> tie at n=1
                       [1.0, 2.0, 2.0, 2.0, 0.0]])  # 2, 2 | 2 -> ties at n=1 and n=2
    known = sp.csr_array(np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]))
    assert _tied_shares(scores, known, [1, 2, 3]) == {1: 1.0, 2: 0.5, 3: 0.0}


def test_eautorec_reference_runs_converged_and_lambda_per_seed():
    """The committed reference of the E-AutoRec chapter (a full execution): every early-stopped run stopped before
    its budget, and lambda was chosen per seed and model (for the fixed budget too)."""
    payload = json.loads((regression.REFERENCE_DIR / "eautorec.json").read_text())
    runs = {}
    for r in payload["metrics"]:
        if r.get("budget") == "early" and r["metric"] in ("best_epoch", "epochs_trained"):
            runs.setdefault((r["model"], r["seed"], r["l2"], r["hidden"], r["n_neighbors"], r["theta"]), {})[
                r["metric"]] = r["value"]
    assert len(runs) >= 45
    assert all(run["best_epoch"] < run["epochs_trained"] <= payload["config"]["epochs"] for run in runs.values())
    chosen = payload["config"]["l2_chosen"]
    seeds = payload["config"]["seeds"]
    for budget, models in (("early", {"AutoRec", "E-AutoRec", "E-AutoRec (r + e)"}), ("fixed", {"AutoRec",
                                                                                                 "E-AutoRec"})):
        pairs = {(c["seed"], c["model"]) for c in chosen if c["budget"] == budget}
        assert pairs == {(s, m) for s in seeds for m in models}, budget
