"""The chapter skeleton every chapter module is written on:

* a frozen :class:`ChapterConfig` subclass, ``Config``, holding the paper's defaults, each with its one-line reason
  (``param(default, why)``); the notebook's parameters cell repeats them (a test keeps the two equal) and builds the
  config by name (``Config.from_parameters(globals())``); exercises re-run with ``config.replace(...)``;
* ``run(config) -> ChapterResult``: the tidy records the results file keeps, the config, timings and whatever the
  figures and tables need (``artifacts``);
* ``claims(result)``, ``numbers(result)`` (pure functions of the result), figures and tables;
* :func:`finish`: the cell every notebook ends its claims with (results file, glued verdicts, the claims table).

Plumbing shared by the chapters lives here too: the chapter set-up, the data set a chapter ran on, metric records.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence, TypeVar

import pandas as pd

from .. import datasets, results
from ..checks import check_choice, check_int
from ..errors import ConfigError
from ..experiments import runner
from ..experiments.claims import Claim, claims_table
from ..experiments.protocols import data_source, load_data
from ..papers import source_words

C = TypeVar("C", bound="ChapterConfig")


def param(default: Any, why: str) -> Any:
    """A Config field with its default and the one-line reason for it (lists and dicts are copied per instance)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: _frozen(default), metadata={"why": why})
    return field(default=default, metadata={"why": why})


def _frozen(value: Any) -> Any:
    """Lists (and lists inside dicts) as tuples, so that a config cannot be changed in place."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    """The JSON form of a config value: tuples as lists."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple:
        return "a list of " + {int: "integers", float: "numbers", str: "strings"}.get(args[0], _type_name(args[0]))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
            type(None): "None"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _matches(value: Any, annotation: Any) -> bool:
    """Whether `value` is of the parameter's declared type (an integer is a number; a bool is not an integer)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin is tuple:
        return isinstance(value, tuple) and all(_matches(v, args[0]) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _check_type(chapter: str, name: str, value: Any, annotation: Any) -> None:
    if not _matches(value, annotation):
        raise ConfigError(f"{chapter}: parameter {name} must be {_type_name(annotation)}, got {_plain(value)!r}")


@dataclass(frozen=True)
class ChapterConfig:
    """Base of every chapter's Config: frozen, lists stored as tuples; unknown names are an error, never dropped.
    Subclasses set ``chapter`` (the results file's name) and may check their values in ``validate``."""

    chapter: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _frozen(getattr(self, f.name))
            _check_type(self.chapter, f.name, value, hints.get(f.name, Any))
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Check the values (one clear error naming the parameter and what is allowed); nothing by default."""

    @classmethod
    def names(cls) -> list[str]:
        """The parameters, the chapter's own first, then those every chapter of its kind shares (n_jobs, data)."""
        shared = {f.name for base in cls.__mro__[1:] if dataclasses.is_dataclass(base)
                  for f in dataclasses.fields(base)}
        own = [f.name for f in dataclasses.fields(cls) if f.name not in shared]
        return own + [f.name for f in dataclasses.fields(cls) if f.name in shared]

    @classmethod
    def of(cls: type[C], values: Mapping[str, Any]) -> C:
        """A config from {name: value}; an unknown name is an error that lists the allowed ones."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ConfigError(f"{cls.chapter}: unknown parameter(s) {unknown}; allowed: {', '.join(cls.names())}")
        return cls(**values)

    @classmethod
    def from_parameters(cls: type[C], namespace: Mapping[str, Any]) -> C:
        """The config a notebook's parameters cell describes: every field taken by name from `namespace`."""
        missing = [name for name in cls.names() if name not in namespace]
        if missing:
            raise ConfigError(f"{cls.chapter}: the parameters cell does not set {missing}")
        return cls(**{name: namespace[name] for name in cls.names()})

    def replace(self: C, **changes: Any) -> C:
        """This config with some values changed (an exercise's setting); unknown names are an error."""
        return type(self).of({**{n: getattr(self, n) for n in self.names()}, **changes})

    def as_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists): what the results file records."""
        return {name: _plain(getattr(self, name)) for name in self.names()}

    @classmethod
    def reasons(cls) -> pd.DataFrame:
        """Every parameter with its default and the reason for it, as a table for the reader."""
        default, by_name = cls(), {f.name: f for f in dataclasses.fields(cls)}
        return pd.DataFrame([{"parameter": name, "default": _plain(getattr(default, name)),
                              "why": by_name[name].metadata.get("why", "")} for name in cls.names()]).set_index(
            "parameter")

    @property
    def source(self) -> dict[str, str]:
        """The data set the chapter reads, as job parameters: ML-100K offline for chapters without the choice."""
        return {"dataset": datasets.OFFLINE, "data_dir": ""}


@dataclass(frozen=True)
class Workers(ChapterConfig):
    """A chapter whose experiments run through the runner's worker processes."""

    n_jobs: int = param(0, "worker processes, one torch thread each; 0 = every core this process may use")

    def validate(self) -> None:
        check_int("n_jobs", self.n_jobs, 0)


@dataclass(frozen=True)
class OnData(Workers):
    """A chapter that also runs on the larger MovieLens data sets (it needs no knowledge graph)."""

    dataset: str = param("ml-100k", "ships with the book; ml-1m / ml-20m after `python -m replication download "
                                    "NAME`")
    data_dir: str = param("", "folder of the download (empty: data/ for ml-1m / ml-20m, the shipped ML-100K "
                              "otherwise)")

    def validate(self) -> None:
        super().validate()
        check_choice("dataset", self.dataset, datasets.DATASETS)

    @property
    def source(self) -> dict[str, str]:
        """{"dataset", "data_dir"} made explicit for the jobs (the download folder resolved), the data verified."""
        return data_source(self.dataset, self.data_dir)


@dataclass
class ChapterResult:
    """What every chapter's ``run`` returns: the tidy records its results file keeps (``frame``), the config it ran
    with, the seconds per stage, and the artifacts its figures, tables and claims read."""

    frame: pd.DataFrame
    config: ChapterConfig
    timings: dict[str, float]
    artifacts: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.artifacts[name]
        except KeyError:
            raise KeyError(f"{self.config.chapter}: no artifact {name!r}; the run kept {sorted(self.artifacts)}") \
                from None


def setup() -> None:
    """What every chapter does first: one thread per process (the runner adds processes), the book's plot style,
    and tables that show their text in full (claims, explanations)."""
    from .. import plots

    runner.limit_threads()
    plots.use_book_style()
    pd.set_option("display.max_colwidth", None)


def chapter_data(config: ChapterConfig) -> datasets.Dataset:
    """The data set a chapter ran on (its `dataset` and `data_dir` parameters; ML-100K when it has none)."""
    return load_data(**config.source)


def dataset_note(config: ChapterConfig) -> Any:
    """A visible note when a chapter ran on another data set than the book's ML-100K (None otherwise): the prose
    describes the book's run, the numbers in it come from this one."""
    from IPython.display import Markdown

    data = chapter_data(config)
    if data.name == datasets.OFFLINE and not config.source["data_dir"]:
        return None
    return Markdown(f"**This run used {data.name}** ({data.n_users:,} users, {data.n_items:,} films, "
                    f"{len(data.ratings):,} ratings, {len(data.genres)} genres) from `{config.source['data_dir']}`. "
                    "The text was written for the book's run on ML-100K; every number in it is this run's.")


def records(values: dict[str, Any], **labels: Any) -> list[dict[str, Any]]:
    """{metric: value} as metric records {**labels, "metric": name, "value": value}, one per number."""
    return [{**labels, "metric": name, "value": value} for name, value in values.items()]


def deviations_table(result: ChapterResult) -> pd.DataFrame:
    """The choices the paper leaves open (or makes differently) and the one this chapter makes, as the results file
    records them (the chapter's DEVIATIONS), for the reader."""
    return pd.Series(dict(result["deviations"]), name="this chapter's choice (and the alternative it is re-judged "
                                                      "under)").rename_axis("left open by the paper, or changed") \
        .to_frame()


def save(result: ChapterResult, claims: Sequence[Claim], results_dir: str = "") -> Path:
    """The chapter's results file (schema-checked): its config (with the protocol's fixed facts, its deviations and
    the resampling design the tests used), seeds, records, claims and timings, in `results_dir` or the project's
    results folder."""
    config = result.config.as_dict()
    if "protocol" in result.artifacts:
        config["protocol"] = dict(result.artifacts["protocol"])
    if "deviations" in result.artifacts:
        config["deviations"] = dict(result.artifacts["deviations"])
    if "headline" in result.artifacts:
        config["headline"] = headline_ids(result, claims)
    if "design" in result.artifacts:
        design = result.artifacts["design"]
        config["resampling"] = {name: dataclasses.asdict(d) for name, d in design.items()} \
            if isinstance(design, dict) else dataclasses.asdict(design)
    folder = results_dir or result.artifacts.get("folder") or results.default_results_dir()
    return results.write_results(folder, result.config.chapter,
                                 config=config, seeds=list(getattr(result.config, "seeds", [])),
                                 metrics=result.frame, claims=list(claims), timings=result.timings,
                                 data=result.artifacts.get("checksums") or chapter_data(result.config).checksums)


def finish(result: ChapterResult, claims: Sequence[Claim], results_dir: str = "") -> pd.DataFrame:
    """The end of every chapter's claims section: write the results file, glue each verdict for the prose, and
    return the claims table to show."""
    save(result, claims, results_dir)
    results.glue_verdicts(list(claims))
    return claims_table(list(claims))


HEADLINE_SIZE = (3, 6)  # how many claims a chapter's headline box holds


def headline_ids(result: ChapterResult, claims: Sequence[Claim]) -> list[str]:
    """The ids of the chapter's headline claims (its HEADLINE), checked: 3-6 of them, each one of its claims. On
    another data set than ML-100K, claims that need its knowledge graph are not made, and leave the headline."""
    known = [c.id for c in claims]
    ids = list(result["headline"])
    if getattr(result.config, "dataset", "ml-100k") != "ml-100k":
        ids = [i for i in ids if i in known]
    unknown = [i for i in ids if i not in known]
    if unknown or not HEADLINE_SIZE[0] <= len(ids) <= HEADLINE_SIZE[1]:
        raise ConfigError(f"{result.config.chapter}: HEADLINE must name {HEADLINE_SIZE[0]}-{HEADLINE_SIZE[1]} of the "
                          f"chapter's claims; unknown {unknown}, {len(ids)} given; claims: {', '.join(known)}")
    return ids


def headline_box(result: ChapterResult, claims: Sequence[Claim]) -> Any:
    """The box at the top of a chapter (an IPython HTML display): its headline claims, each with the paper's words,
    what was measured, the verdict and its robustness, read from the claims just computed (never typed)."""
    from IPython.display import HTML

    by_id = {c.id: c for c in claims}
    items = []
    for cid in headline_ids(result, claims):
        c = by_id[cid]
        items.append(f"<li><span class='verdict verdict-{c.verdict.replace(' ', '-')}'>{escape(c.verdict)}</span> "
                     f"<span class='robustness'>({escape(c.robustness)})</span> {escape(c.statement)}."
                     f"<br><span class='source'>Source: {escape(source_words(c.source))}.</span> "
                     f"<span class='measured'>Measured: {escape(c.measured)}.</span></li>")
    return HTML("<div class='admonition headline'><p class='admonition-title'>What this chapter finds</p>"
                f"<ul>{''.join(items)}</ul><p>Every claim, its test and its alternatives: the claims table of this "
                "chapter; the verdicts of the whole book: the findings page.</p></div>")
