"""Tables across chapters for the reproducibility appendix: environment, execution log, claims, deviations."""

from __future__ import annotations

import json
import platform
from html import escape
from pathlib import Path

import pandas as pd

from .papers import BOOK, PAPERS, source_words
from .results import environment, read_results


def cpu_name() -> str:
    """The CPU model as the OS reports it (Linux /proc/cpuinfo, else platform.processor())."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def environment_table() -> pd.DataFrame:
    """Python, platform, CPU and package versions as a two-column table."""
    env = {**environment(), "cpu": cpu_name()}
    return pd.DataFrame({"component": list(env), "version": list(env.values())}).set_index("component")


def load_all_results(folder: str | Path) -> dict[str, dict]:
    """Every chapter's results file in `folder`, by chapter name (validated)."""
    return {path.stem: read_results(path) for path in sorted(Path(folder).glob("*.json"))}


def chapter_results(folder: str | Path) -> dict[str, dict]:
    """The results files of the chapters in `folder`, without those of the summary pages (SUMMARIES)."""
    return {name: payload for name, payload in load_all_results(folder).items() if name not in SUMMARIES}


BUILD_PARAMETERS = ("results_dir",)  # set by the build (or a test) for every notebook, not by a reader
# pages that summarise the chapters' results files (executed after the chapters, in this order; not chapters)
SUMMARIES = ("reproducibility", "findings")


def execution_table(log_path: str | Path) -> pd.DataFrame:
    """Seconds and status of each executed notebook, from the build's execution log; the parameters column shows
    what a reader set (the build's own results folder, a temporary one under the tests, is left out)."""
    path = Path(log_path)
    if not path.exists():
        return pd.DataFrame(columns=["seconds", "status", "parameters"])
    log = json.loads(path.read_text())
    table = pd.DataFrame.from_dict(log, orient="index")[["seconds", "status", "parameters"]]
    table["parameters"] = table["parameters"].map(lambda p: ", ".join(f"{k}={v}" for k, v in p.items()
                                                                       if k not in BUILD_PARAMETERS) or "defaults")
    table.index.name = "notebook"
    return table


def cost_table(all_results: dict[str, dict], executions: pd.DataFrame) -> pd.DataFrame:
    """Per chapter: its runner jobs, their CPU seconds (one thread each, as the chapter's results file recorded
    them) and the chapter's wall seconds in this build (its notebook's execution)."""
    rows = []
    for chapter, payload in all_results.items():
        timings = payload.get("timings", {})
        wall = executions["seconds"].get(chapter, float("nan")) if len(executions) else float("nan")
        rows.append({"chapter": chapter, "jobs": int(timings.get("jobs", 0)),
                     "job CPU s": float(timings.get("job cpu seconds", 0.0)), "wall s": wall})
    table = pd.DataFrame(rows, columns=["chapter", "jobs", "job CPU s", "wall s"]).set_index("chapter")
    table.loc["total"] = table.sum(numeric_only=True)
    return table.round(1)


def claims_table(all_results: dict[str, dict]) -> pd.DataFrame:
    """All claims of all chapters: verdict, p-value, book-wide q-value, robustness under the alternative choices,
    the test and the alternatives' verdicts."""
    rows = [{"chapter": chapter, **{k: claim[k] for k in ("id", "statement", "verdict", "p_value", "q_value",
                                                           "robustness", "kind", "test")},
             "alternatives": "; ".join(f"{s['choice']}: {s['verdict']}" for s in claim["sensitivity"]) or "-"}
            for chapter, payload in all_results.items() for claim in payload["claims"]]
    return pd.DataFrame(rows, columns=["chapter", "id", "statement", "verdict", "p_value", "q_value", "robustness",
                                       "kind", "test", "alternatives"])


def book_q_values(all_results: dict[str, dict]) -> dict[tuple[str, str], float]:
    """Benjamini-Hochberg q-values over the main p-value of every claim of the book that has one (counts and
    checks have none), keyed by (chapter, claim id)."""
    from .experiments.claims import benjamini_hochberg

    keys = [(chapter, c["id"]) for chapter, payload in all_results.items() for c in payload["claims"]
            if c["p_value"] is not None]
    p = [c["p_value"] for payload in all_results.values() for c in payload["claims"] if c["p_value"] is not None]
    return dict(zip(keys, (float(q) for q in benjamini_hochberg(p))))


def power_table(all_results: dict[str, dict]) -> pd.DataFrame:
    """Every inconclusive test: the observed distance from what it must clear, the runs it had, the smallest
    difference those runs detect with 80% power, and the runs that would resolve the observed difference."""
    rows = [{"chapter": chapter, "id": c["id"], "observed": c["power"]["observed"], "runs": c["power"]["runs"],
             "minimum detectable": c["power"]["mdd"],
             "runs needed (80% power)": ("not reachable" if c["power"]["runs_needed"] is None
                                         else c["power"]["runs_needed"])}
            for chapter, payload in all_results.items() for c in payload["claims"] if c.get("power")]
    return pd.DataFrame(rows, columns=["chapter", "id", "observed", "runs", "minimum detectable",
                                       "runs needed (80% power)"])


def deviations_table(all_results: dict[str, dict]) -> pd.DataFrame:
    """Every deviation from a paper that a chapter recorded in `config['deviations']` ({what: this chapter's
    choice})."""
    rows = [{"chapter": chapter, "what": what, "this chapter's choice": choice}
            for chapter, payload in all_results.items()
            for what, choice in payload["config"].get("deviations", {}).items()]
    return pd.DataFrame(rows, columns=["chapter", "what", "this chapter's choice"])


def digests_by_file(all_results: dict[str, dict]) -> dict[str, set[str]]:
    """For every data file any chapter recorded, the set of SHA-256 digests recorded for it (one if consistent)."""
    found: dict[str, set[str]] = {}
    for payload in all_results.values():
        for name, digest in payload["data"].items():
            found.setdefault(name, set()).add(digest)
    return found


def checksum_table(all_results: dict[str, dict]) -> pd.DataFrame:
    """The SHA-256 of every data file, as recorded by the chapters (one row per file)."""
    rows = {name: digest for payload in all_results.values() for name, digest in payload["data"].items()}
    return pd.DataFrame({"file": list(rows), "sha256": list(rows.values())}).set_index("file")


def error_control(all_results: dict[str, dict], fdr: float = 0.05) -> dict[str, int]:
    """The book-wide account: claims, tested claims, decisive verdicts, those that keep a q-value below `fdr`, and
    the inconclusive tests more runs would resolve (or not)."""
    table = claims_table(all_results)
    tested = table[table["p_value"].notna()]
    decisive = tested[tested["verdict"] != "inconclusive"]
    power = power_table(all_results)
    reachable = power["runs needed (80% power)"] != "not reachable"
    return {"claims": len(table), "tested": len(tested), "decisive": len(decisive),
            "survive_fdr": int((decisive["q_value"] < fdr).sum()),
            "lost_to_fdr": int((decisive["q_value"] >= fdr).sum()),
            "inconclusive_tested": int((tested["verdict"] == "inconclusive").sum()),
            "resolvable": int(reachable.sum()), "unresolvable": int((~reachable).sum()),
            "reversed": int((table["robustness"] == "reversed").sum())}


# the chapters that replicate a paper, and the paper: the findings page's first column
PAPER_CHAPTERS = {"autoencoders": "The autoencoder primer (teaching chapter)", "semauto": "SEMAUTO (Bellini et al.)",
                  "eautorec": "E-AutoRec (Haghighi, Seton & Nasraoui)", "cvae": "C-VAE (Carraro, Polato & Aiolli)",
                  "comparison": "All models under one protocol",
                  "faithfulness": "Are the explanations faithful? (the book's question)", "data": "The data"}


def findings_table(all_results: dict[str, dict]) -> pd.DataFrame:
    """The headline claims of every chapter (its results' `config['headline']`), in the book's order: the chapter
    (a link to its page), the claim, its source, what was measured, the verdict and its robustness."""
    rows = []
    for chapter, title in PAPER_CHAPTERS.items():
        payload = all_results.get(chapter)
        if payload is None:
            continue
        by_id = {c["id"]: c for c in payload["claims"]}
        for cid in payload["config"].get("headline", []):
            c = by_id[cid]
            rows.append({"chapter": f'<a href="{chapter}.html">{escape(title)}</a>', "claim": escape(c["statement"]),
                         "source": escape(source_words(c["source"])), "measured": escape(c["measured"]),
                         "verdict": c["verdict"], "robustness": c["robustness"]})
    return pd.DataFrame(rows, columns=["chapter", "claim", "source", "measured", "verdict", "robustness"])


def findings_html(table: pd.DataFrame) -> str:
    """The findings table as HTML: one row per claim, the chapter (a link) once per group of rows, the verdict and
    its robustness in the last column (the page's CSS keeps that column readable)."""
    rows = []
    for chapter, group in table.groupby("chapter", sort=False):
        for i, r in enumerate(group.itertuples()):
            first = f'<td rowspan="{len(group)}">{chapter}</td>' if i == 0 else ""
            verdict = f'<span class="verdict verdict-{r.verdict.replace(" ", "-")}">{r.verdict}</span> ({r.robustness})'
            rows.append(f"<tr>{first}<td>{r.claim}</td><td>{r.source}</td><td>{r.measured}</td>"
                        f'<td class="verdict-cell">{verdict}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("chapter", "claim", "the source's words", "measured",
                                             "verdict (robustness)"))
    return f'<table class="findings"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'



def unchecked_sources(all_results: dict[str, dict]) -> pd.DataFrame:
    """The claims that cite a publication whose text is not supplied beside the project: their source names the
    publication and the place, but no test can check the words against it."""
    rows = [{"chapter": chapter, "id": c["id"], "publication": PAPERS[c["source"]["paper"]][0],
             "where": c["source"]["locator"]}
            for chapter, payload in all_results.items() for c in payload["claims"]
            if c["source"] != BOOK and PAPERS[c["source"]["paper"]][1] is None]
    return pd.DataFrame(rows, columns=["chapter", "id", "publication", "where"])
