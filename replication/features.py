"""Item features from the knowledge graph: the items x features 0/1 matrix M and a readable label per feature.

A feature is one neighbour entity of a film under one (folded) relation, e.g. ("actor", m.0jmj) or ("genre", m.02l7c8).
Inverse relations (`film.director.film` beside `film.film.directed_by`) are folded so that each neighbour counts once.
Freebase ids are not readable, so a feature is described by its relation and the best-known films linked to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .datasets import Dataset, readable_title
from .errors import ConfigError

# inverse relation -> forward relation (head and tail swap when folding)
INVERSE = {
    "film.actor.film": "film.film.actor",
    "film.director.film": "film.film.directed_by",
    "film.writer.film": "film.film.written_by",
    "film.producer.film": "film.film.produced_by",
    "film.cinematographer.film": "film.film.cinematography",
    "film.production_company.films": "film.film.production_companies",
    "film.film_genre.films_in_this_genre": "film.film.genre",
    "film.content_rating.film": "film.film.rating",
    "film.film_subject.films": "film.film.subjects",
}
# film-to-film relations: both films get the other as a feature ("in a series with")
SYMMETRIC = {"film.film.sequel": "series", "film.film.prequel": "series"}
# forward relation -> short name used in feature keys and labels
SHORT = {
    "film.film.actor": "actor",
    "film.film.directed_by": "director",
    "film.film.written_by": "writer",
    "film.film.produced_by": "producer",
    "film.film.cinematography": "cinematographer",
    "film.film.production_companies": "studio",
    "film.film.genre": "genre",
    "film.film.rating": "content rating",
    "film.film.subjects": "subject",
    "film.film.language": "language",
    "film.film.country": "country",
    "film.film.award_nomination": "award nomination",
    "film.film.award_won": "award won",
    "series": "series",
}
# how a label reads: "<phrase> Taxi Driver, GoodFellas"
PHRASE = {
    "actor": "actor in", "director": "director of", "writer": "writer of", "producer": "producer of",
    "cinematographer": "cinematographer of", "studio": "studio behind", "genre": "genre of",
    "content rating": "content rating of", "subject": "subject of", "language": "language of",
    "country": "country of", "award nomination": "award nomination of", "award won": "award won by",
    "series": "in a series with",
}
RELATION_GROUPS = {
    "all": tuple(SHORT.values()),
    "genres": ("genre", "subject"),
    "people": ("actor", "director", "writer", "producer", "cinematographer"),
    "production": ("studio", "language", "country", "content rating"),
    "awards": ("award nomination", "award won"),
}


def fold_triples(data: Dataset) -> pd.DataFrame:
    """(item, relation, entity) rows: every triple touching a linked film, inverse relations folded, deduplicated."""
    kg = data.kg
    linked = data.items.dropna(subset=["entity"])
    entity_to_item = pd.Series(linked["item"].to_numpy(), index=linked["entity"].to_numpy())
    rel = kg["relation"].to_numpy()
    inverse = np.isin(rel, list(INVERSE))
    head = np.where(inverse, kg["tail"].to_numpy(), kg["head"].to_numpy())
    tail = np.where(inverse, kg["head"].to_numpy(), kg["tail"].to_numpy())
    forward = pd.Series(rel).replace(INVERSE).replace({k: "series" for k in SYMMETRIC}).to_numpy()
    series = forward == "series"
    # a series link holds both ways
    head = np.concatenate([head, tail[series]])
    tail = np.concatenate([tail, kg["head"].to_numpy()[series]])
    forward = np.concatenate([forward, forward[series]])
    frame = pd.DataFrame({"entity_head": head, "relation": forward, "entity": tail})
    frame = frame[frame["entity_head"].isin(entity_to_item.index)]
    unknown = sorted(set(frame["relation"]) - set(SHORT))
    if unknown:
        raise ConfigError(f"knowledge graph has relations with no short name: {unknown}")
    frame = frame.assign(
        item=entity_to_item.loc[frame["entity_head"]].to_numpy(),
        relation=frame["relation"].map(SHORT),
    )
    return frame[["item", "relation", "entity"]].drop_duplicates().reset_index(drop=True)


@dataclass
class ItemFeatures:
    """The items x features 0/1 matrix M (CSR, float32) and a table describing each feature."""

    matrix: sp.csr_array
    features: pd.DataFrame  # feature, relation, entity, n_items, label

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]

    def labels(self) -> list[str]:
        return self.features["label"].tolist()

    def item_features(self, item: int) -> np.ndarray:
        """Feature indices of one item."""
        return self.matrix.indices[self.matrix.indptr[item]:self.matrix.indptr[item + 1]]


def resolve_relations(relations: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Turn a group name ("all", "genres", "people", ...) or a list of short relation names into a tuple."""
    if isinstance(relations, str):
        if relations not in RELATION_GROUPS:
            raise ConfigError(f"unknown relation group {relations!r}; allowed: {sorted(RELATION_GROUPS)}")
        return RELATION_GROUPS[relations]
    wrong = sorted(set(relations) - set(SHORT.values()))
    if wrong:
        raise ConfigError(f"unknown relations {wrong}; allowed: {sorted(SHORT.values())}")
    return tuple(relations)


def build_item_features(data: Dataset, min_items: int = 2, relations: str | tuple[str, ...] = "all",
                        popularity: np.ndarray | None = None, n_examples: int = 2) -> ItemFeatures:
    """Build M: one column per (relation, entity) linked to at least `min_items` items of the chosen relations.

    `popularity` (ratings per item, e.g. from the training split) ranks the example films in labels; it defaults to
    the number of ratings per item in the whole data set, which is metadata about fame, not a training signal.
    """
    if min_items < 1:
        raise ConfigError(f"min_items must be >= 1, got {min_items}")
    chosen = resolve_relations(relations)
    triples = fold_triples(data)
    triples = triples[triples["relation"].isin(chosen)]
    counts = triples.groupby(["relation", "entity"]).size().rename("n_items").reset_index()
    counts = counts[counts["n_items"] >= min_items].sort_values(["relation", "entity"]).reset_index(drop=True)
    counts["feature"] = np.arange(len(counts))
    triples = triples.merge(counts, on=["relation", "entity"])
    matrix = sp.csr_array(
        (np.ones(len(triples), np.float32), (triples["item"].to_numpy(), triples["feature"].to_numpy())),
        shape=(data.n_items, len(counts)),
    )
    matrix.sort_indices()
    if popularity is None:
        popularity = np.bincount(data.ratings["item"].to_numpy(), minlength=data.n_items)
    counts["label"] = feature_labels(data, triples, counts, np.asarray(popularity), n_examples)
    return ItemFeatures(matrix=matrix, features=counts[["feature", "relation", "entity", "n_items", "label"]])


def feature_labels(data: Dataset, triples: pd.DataFrame, counts: pd.DataFrame, popularity: np.ndarray,
                   n_examples: int) -> list[str]:
    """'<relation phrase> <the n best-known linked films>' for each feature, e.g. 'actor in Heat, Casino (+3)'."""
    ranked = triples.assign(pop=popularity[triples["item"].to_numpy()]).sort_values(
        ["feature", "pop", "item"], ascending=[True, False, True])
    ranked = ranked.groupby("feature").head(n_examples)
    titles = np.array([readable_title(t) for t in data.items["title"]], dtype=object)
    examples = ranked.assign(title=titles[ranked["item"].to_numpy()]).groupby("feature")["title"].agg(", ".join)
    more = counts["n_items"].to_numpy() - np.minimum(counts["n_items"].to_numpy(), n_examples)
    phrases = counts["relation"].map(PHRASE).to_numpy()
    return [f"{p} {examples[f]}" + (f" (+{m})" if m else "")
            for p, f, m in zip(phrases, counts["feature"].to_numpy(), more)]
