"""Appendix "Reproducibility": the environment, the data digests, the execution log of this build, and every
claim of every chapter with its verdict, read from the results files the chapters wrote; the book-wide error
control (Benjamini-Hochberg over every claim) and the power of the inconclusive tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import datasets, report, results, settings
from ..experiments import claims as C
from .common import ChapterConfig, ChapterResult, param, records, setup

FDR = 0.05  # the book-wide false discovery rate at which decisive verdicts are counted


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Where the appendix reads the chapters' results and the build's execution log."""

    chapter = "reproducibility"
    results_dir: str = param("", "folder of the chapter results files; empty means the project results folder")
    execution_log: str = param("", "the build execution log; empty means _build/executed/execution_log.json")


def run(config: Config = Config()) -> ChapterResult:
    """Read every chapter's results file, adjust the main p-values of all their claims together (Benjamini-Hochberg)
    and write each claim's book-wide q-value back into its chapter's file."""
    setup()
    folder = Path(config.results_dir or results.default_results_dir())
    log_path = Path(config.execution_log or settings.EXECUTED / "execution_log.json")
    q_values = report.book_q_values(report.chapter_results(folder))  # not our own file, nor the findings page's
    for name in sorted(report.chapter_results(folder)):
        results.set_q_values(folder / f"{name}.json", {cid: q for (chapter, cid), q in q_values.items()
                                                       if chapter == name})
    all_results = report.chapter_results(folder)
    executions = report.execution_table(log_path)
    result = ChapterResult(pd.DataFrame(), config, {"total_seconds": float(executions["seconds"].fillna(0).sum())},
                           {"folder": folder, "log_path": log_path, "all_results": all_results,
                            "executions": executions, "checksums": {datasets.WHEEL_NAME: datasets.WHEEL_SHA256}})
    table = report.claims_table(all_results)
    values = {"chapters_with_results": len(all_results), "claims": len(table)}
    values |= {f"verdicts_{k.replace(' ', '_')}": int(v) for k, v in table["verdict"].value_counts().items()}
    values |= {f"robustness_{k.replace(' ', '_')}": int(v) for k, v in table["robustness"].value_counts().items()}
    result.frame = pd.DataFrame(records(values | report.error_control(result["all_results"], FDR)))
    return result


def wheel_table() -> pd.DataFrame:
    return pd.DataFrame({"sha256": [datasets.WHEEL_SHA256]}, index=pd.Index([datasets.WHEEL_NAME], name="file"))


def verdict_counts(result: ChapterResult) -> pd.DataFrame:
    """Verdicts and robustness per chapter, and how many decisive verdicts keep a book-wide q-value below 5%."""
    table = report.claims_table(result["all_results"])
    if table.empty:
        return table
    decisive = table[table["verdict"] != "inconclusive"]
    survive = decisive[decisive["q_value"].notna() & (decisive["q_value"] < FDR)].groupby("chapter").size()
    return table.groupby(["chapter", "verdict"]).size().unstack(fill_value=0).join(
        table.groupby(["chapter", "robustness"]).size().unstack(fill_value=0)).join(
        survive.rename(f"decisive with q < {FDR:g}")).fillna(0).astype(int)


def numbers(result: ChapterResult) -> dict:
    return {"total_seconds": float(result["executions"]["seconds"].fillna(0).sum()), "fdr": FDR,
            **{f"n_{k}": v for k, v in report.error_control(result["all_results"], FDR).items()}}


def claims(result: ChapterResult) -> list[C.Claim]:
    chapters = [name for name in result["executions"].index if name not in report.SUMMARIES]
    digests = report.digests_by_file(result["all_results"])
    same_data = all(len(values) == 1 for values in digests.values())
    missing = sorted(set(chapters) - set(result["all_results"]))
    return [
        C.claim("all_chapters_have_results", "every executed chapter wrote a valid results file", None,
                C.Judgement(C.all_of([not missing]).verdict, ", ".join(missing) or "all present", "presence check"),
                no_alternative="a file check", source=C.BOOK),
        C.claim("same_data_everywhere", "every chapter read byte-identical data files", None,
                C.Judgement(C.all_of([same_data]).verdict, f"{len(digests)} files; " + (
                    "one digest each" if same_data else
                    f"differing: {[f for f, v in digests.items() if len(v) > 1]}"), "SHA-256 comparison"),
                no_alternative="a checksum comparison", source=C.BOOK),
    ]
