"""The book's front page "What holds?": every chapter's headline claims in one table, read from the results files
the chapters wrote (executed after them and after the appendix, whose book-wide q-values it shows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import report, results
from ..experiments import claims as C
from ..experiments.claims import VERDICTS
from .common import ChapterConfig, ChapterResult, param, records, setup


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Where the findings page reads the chapters' results files."""

    chapter = "findings"
    results_dir: str = param("", "folder of the chapter results files; empty means the project results folder")


def run(config: Config = Config()) -> ChapterResult:
    """Read every chapter's results file and keep its headline claims."""
    setup()
    folder = Path(config.results_dir or results.default_results_dir())
    all_results = report.chapter_results(folder)
    table = report.findings_table(all_results)
    frame = pd.DataFrame(records({"headline claims": len(table), **counts(table)}))
    return ChapterResult(frame, config, {}, {"folder": folder, "all_results": all_results, "table": table,
                                             "checksums": {name: min(d) for name, d in
                                                           report.digests_by_file(all_results).items()}})


def counts(table: pd.DataFrame) -> dict[str, int]:
    """How many headline claims have each verdict and each robustness (spaces as underscores)."""
    out = {v: int((table["verdict"] == v).sum()) for v in VERDICTS}
    out |= {r: int((table["robustness"] == r).sum()) for r in ("robust", "fragile", "reversed")}
    return {k.replace(" ", "_"): v for k, v in out.items()}


def table(result: ChapterResult) -> object:
    """The findings table as the page shows it (the chapter names are links)."""
    from IPython.display import HTML

    return HTML(report.findings_html(result["table"]))


def numbers(result: ChapterResult) -> dict:
    t = result["table"]
    return {"n_headline": len(t), **{f"n_headline_{k}": v for k, v in counts(t).items()},
            "n_chapters": int(t["chapter"].nunique())}


def claims(result: ChapterResult) -> list[C.Claim]:
    """The page's own check: every chapter that replicates a paper has a headline, each one of its claims."""
    missing = [name for name in report.PAPER_CHAPTERS if name in result["all_results"]
               and not result["all_results"][name]["config"].get("headline")]
    return [C.claim("every_chapter_has_a_headline", "every chapter's results name the headline claims this page "
                    "shows", None, C.Judgement(C.all_of([not missing]).verdict, ", ".join(missing) or
                                                "all present", "presence check"),
                    no_alternative="a file check", source=C.BOOK)]
