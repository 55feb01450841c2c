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
