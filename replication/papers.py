"""The publications the book's claims come from, and the check that a quoted phrase is in a paper's supplied text.

A claim's `source` is either ``"book"`` (a question the book asks itself: a control, a baseline, the sensitivity of
a protocol choice) or :func:`cite` = {paper, locator, quotation}: the publication (a key of :data:`PAPERS`), where in
it (section, figure, equation) and a short verbatim phrase. The supplied texts of some papers travel beside the
project (``../shared/papers/``); a quotation from one of them is checked against it (:func:`quoted_in`); a claim
from a publication not supplied there names it and its locator, and the appendix lists it as not checked.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import ROOT

__all__ = ["PAPERS", "SHORT", "BOOK", "cite", "check_source", "source_words", "supplied_folder", "normalized",
           "quoted_in"]

BOOK = "book"
# key -> (the publication, its supplied text's file name in ../shared/papers or None)
PAPERS: dict[str, tuple[str, str | None]] = {
    "primer": ("Autoencoders for Collaborative Filtering (the primer this book's teaching chapter follows)",
               "autoencoders-for-cf-primer.txt"),
    "liang2018": ("Liang, Krishnan, Hoffman & Jebara 2018, Variational Autoencoders for Collaborative Filtering",
                  None),
    "semauto-overview": ("Bellini et al., SEMAUTO: an overview of the semantics-aware autoencoder",
                         "semauto-overview.txt"),
    "semauto-blog": ("Bellini et al., SEMAUTO: Semantics-Aware Autoencoder in Recommendation Scenario (blog post)",
                     "semauto-blog-post.md"),
    "bellini2017": ("Bellini, Anelli, Di Noia & Di Sciascio 2017, Auto-Encoding User Ratings via Knowledge Graphs "
                    "in Recommendation Scenarios (DLRS)", None),
    "bellini2018": ("Bellini, Di Noia, Di Sciascio & Schiavone 2018, Semantics-Aware Autoencoder (IEEE Access), the "
                    "SEMAUTO publication the supplied texts cite", None),
    "eautorec": ("Haghighi, Seton & Nasraoui 2019, An Explainable Autoencoder For Collaborative Filtering "
                 "Recommendation", "e-autorec.txt"),
    "cvae": ("Carraro, Polato & Aiolli 2020, A look inside the black-box: towards the interpretability of "
             "conditioned variational autoencoders for collaborative filtering", "cvae-look-inside-the-black-box.md"),
    "kb4rec": ("Zhao et al. 2019, KB4Rec: A Data Set for Linking Knowledge Bases with Recommender Systems", None),
    "movielens": ("Harper & Konstan 2015, The MovieLens datasets: history and context", None),
}


# key -> how a table names the publication in a few words
SHORT: dict[str, str] = {"primer": "the primer", "liang2018": "Liang et al. 2018",
                         "semauto-overview": "SEMAUTO overview", "semauto-blog": "SEMAUTO blog post",
                         "bellini2017": "Bellini et al. 2017",
                         "bellini2018": "Bellini et al. 2018", "eautorec": "E-AutoRec paper", "cvae": "C-VAE paper",
                         "kb4rec": "KB4Rec paper", "movielens": "Harper & Konstan 2015"}


def cite(paper: str, locator: str, quotation: str | None = None) -> dict[str, Any]:
    """A claim's source: the publication, where in it, and a short verbatim phrase (checked where supplied)."""
    source = {"paper": paper, "locator": locator, "quotation": quotation}
    check_source(source)
    return source


def check_source(source: Any, where: str = "a claim") -> None:
    """"book", or {paper, locator, quotation} with a known paper, a locator, and a quotation wherever the paper's
    text is supplied (a claim cites the paper's words); a ConfigError naming what is wrong otherwise."""
    if source == BOOK:
        return
    if not isinstance(source, dict) or set(source) != {"paper", "locator", "quotation"}:
        raise ConfigError(f"{where}: source must be 'book' or {{paper, locator, quotation}}, got {source!r}")
    if source["paper"] not in PAPERS:
        raise ConfigError(f"{where}: unknown paper {source['paper']!r}; allowed: {', '.join(PAPERS)}")
    if not isinstance(source["locator"], str) or not source["locator"].strip():
        raise ConfigError(f"{where}: the source needs a locator (section, figure, equation)")
    supplied = PAPERS[source["paper"]][1] is not None
    if supplied and not (isinstance(source["quotation"], str) and len(source["quotation"]) >= 12):
        raise ConfigError(f"{where}: {source['paper']}'s text is supplied, so the source quotes it (a phrase of "
                          "at least 12 characters)")


def source_words(source: Any) -> str:
    """A claim's source as a reader sees it: the paper's words and where they are, or the book's own question."""
    if source == BOOK:
        return "the book's own question"
    quoted = f"“{source['quotation']}” " if source.get("quotation") else ""
    return f"{quoted}({SHORT[source['paper']]}, {source['locator']})"


def supplied_folder() -> Path:
    """Where the papers' texts lie beside the project (they are not part of it)."""
    return ROOT.parent / "shared" / "papers"


def normalized(text: str) -> str:
    """Text compared the way a reader would, whatever the extraction did to it: the supplied PDF extractions'
    broken apostrophes repaired, Unicode folded, then only letters and digits kept, lower case (so a word broken
    at a line end, a LaTeX formula's markup, quotes, dashes and spacing do not matter)."""
    for broken in ("âĂŹ", "â€™", "’", "‘"):
        text = text.replace(broken, "'")
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum())


def quoted_in(source: dict[str, Any], folder: Path | None = None) -> bool | None:
    """Whether the source's quotation is in its paper's supplied text (None: no text supplied for that paper, or
    the folder is not there)."""
    file = PAPERS[source["paper"]][1]
    path = (folder or supplied_folder()) / file if file else None
    if path is None or not path.exists() or not source.get("quotation"):
        return None
    return normalized(source["quotation"]) in normalized(path.read_text(encoding="utf-8", errors="replace"))
