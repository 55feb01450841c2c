"""Claim sources: every claim of every committed reference names where it comes from, and every quotation from a
paper whose text is supplied beside the project is in that text (a claim pinned on words the paper does not say
fails here, naming the claim)."""

from __future__ import annotations

import pytest

from replication import papers, regression, results
from replication.errors import ConfigError
from replication.experiments import claims as C


def reference_claims() -> list[tuple[str, dict]]:
    paths = sorted(regression.REFERENCE_DIR.glob("*.json")) + sorted(regression.SMOKE_REFERENCE_DIR.glob("*.json"))
    return [(f"{path.parent.name}/{path.stem}", claim) for path in paths
            for claim in results.read_results(path)["claims"]]


def test_every_reference_claim_has_a_source():
    found = reference_claims()
    assert len(found) > 50
    for where, claim in found:
        papers.check_source(claim["source"], f"{where}: {claim['id']}")


@pytest.mark.skipif(not papers.supplied_folder().exists(), reason="the papers' texts are not beside the project")
def test_every_quotation_is_in_the_supplied_text():
    checked = 0
    for where, claim in reference_claims():
        source = claim["source"]
        if source == papers.BOOK:
            continue
        found = papers.quoted_in(source)
        if papers.PAPERS[source["paper"]][1] is not None:
            assert found is True, f"{where}: {claim['id']} quotes {source['quotation']!r}, not in {source['paper']}"
            checked += 1
    assert checked > 20


def test_quotation_matching_ignores_layout_but_not_words(tmp_path):
    (tmp_path / "e-autorec.txt").write_text("The E-AutoRec model out-\nperforms AutoRec in terms of \"MEP@10\"")
    assert papers.quoted_in(papers.cite("eautorec", "s. 5", "model outperforms AutoRec in terms of MEP@10"),
                            tmp_path) is True
    assert papers.quoted_in(papers.cite("eautorec", "s. 5", "model outperforms AutoRec in terms of RMSE"),
                            tmp_path) is False
    assert papers.quoted_in(papers.cite("kb4rec", "Table 2"), tmp_path) is None  # no text supplied


@pytest.mark.parametrize("source, message", [
    (None, "source must be"), ({"paper": "nobody", "locator": "s. 1", "quotation": None}, "unknown paper"),
    ({"paper": "kb4rec", "locator": "", "quotation": None}, "locator"),
    ({"paper": "eautorec", "locator": "s. 5", "quotation": None}, "quotes it")])
def test_bad_sources_are_refused_by_name(source, message):
    with pytest.raises(ConfigError, match=message):
        papers.check_source(source)
    judged = C.paired([1.0, 2.0, 3.0], [0.0, 1.0, 2.1], design=C.INDEPENDENT)
    with pytest.raises(ConfigError, match="claim 'x'"):
        C.claim("x", "A beats B", None, judged, no_alternative="a test", source=source)


PAPER_CHAPTERS = ("autoencoders", "semauto", "eautorec", "cvae", "comparison", "faithfulness")


def test_every_paper_chapter_records_its_deviations_and_its_headline():
    """Each chapter that replicates a paper lists its deviations from it (E-AutoRec's 80% fit and masked loss
    among them) and names 3-6 of its claims as its headline, in the full and the smoke references."""
    for folder in (regression.REFERENCE_DIR, regression.SMOKE_REFERENCE_DIR):
        for name in PAPER_CHAPTERS:
            payload = results.read_results(folder / f"{name}.json")
            assert payload["config"].get("deviations"), f"{folder.name}/{name}: no deviations recorded"
            headline = payload["config"].get("headline", [])
            known = {c["id"] for c in payload["claims"]}
            assert 3 <= len(headline) <= 6 and set(headline) <= known, (name, headline)
        deviations = results.read_results(folder / "eautorec.json")["config"]["deviations"]
        assert {"training data", "loss"} <= set(deviations)


def test_a_headline_naming_an_unknown_claim_is_refused():
    from replication.chapters import common
    from replication.chapters.data import Config

    judged = C.Judgement("holds", "1", "count")
    claims = [C.claim(f"c{i}", f"statement {i}", None, judged, no_alternative="a count", source=C.BOOK)
              for i in range(4)]
    result = common.ChapterResult(None, Config(), {}, {"headline": ("c0", "c1", "c9")})
    with pytest.raises(ConfigError, match="unknown \\['c9'\\]"):
        common.headline_box(result, claims)
    result.artifacts["headline"] = ("c0", "c1", "c2")
    box = common.headline_box(result, claims).data
    assert "statement 2" in box and "statement 3" not in box and "the book&#x27;s own question" in box


def test_every_publication_has_a_short_name():
    assert set(papers.SHORT) == set(papers.PAPERS)
