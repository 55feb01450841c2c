"""Item features from the knowledge graph: folding of inverse relations, pruning, relation selection, labels."""

from __future__ import annotations

import numpy as np
import pytest

from replication import features
from replication.errors import ConfigError


def feature_set(M: features.ItemFeatures, item: int) -> set[tuple[str, str]]:
    rows = M.features.set_index("feature").loc[M.item_features(item)]
    return set(zip(rows["relation"], rows["entity"]))


def test_inverse_relations_fold_onto_one_feature(tiny):
    triples = features.fold_triples(tiny)
    # directed_by and director.film for Heat/Mann are the same link, counted once
    assert ((triples["item"] == 0) & (triples["relation"] == "director")).sum() == 1
    assert set(map(tuple, triples[["item", "relation", "entity"]].values.tolist())) == {
        (0, "director", "m.mann"), (1, "director", "m.mann"), (0, "actor", "m.deniro"),
        (1, "genre", "m.scifi"), (0, "series", "m.term"), (1, "series", "m.heat"),
    }


def test_min_items_prunes_and_matrix_is_binary(tiny):
    M1 = features.build_item_features(tiny, min_items=1)
    M2 = features.build_item_features(tiny, min_items=2)
    assert M1.n_features == 5  # mann, deniro, scifi, series:term, series:heat
    assert M2.n_features == 1 and M2.features.loc[0, "entity"] == "m.mann"
    assert M2.matrix.toarray().tolist() == [[1.0], [1.0], [0.0]]
    assert set(np.unique(M1.matrix.data)) == {1.0}


def test_relation_selection(tiny):
    people = features.build_item_features(tiny, min_items=1, relations="people")
    assert set(people.features["relation"]) == {"director", "actor"}
    only_genre = features.build_item_features(tiny, min_items=1, relations=("genre",))
    assert feature_set(only_genre, 1) == {("genre", "m.scifi")}


def test_labels_name_the_relation_and_best_known_films(tiny):
    M = features.build_item_features(tiny, min_items=1, popularity=np.array([5, 9, 0]))
    labels = dict(zip(M.features["entity"] + "/" + M.features["relation"], M.labels()))
    assert labels["m.mann/director"] == "director of The Terminator, Heat"  # most-rated first
    assert labels["m.deniro/actor"] == "actor in Heat"
    assert not any(label.startswith("m.") for label in M.labels())


def test_labels_count_the_films_not_shown(tiny):
    M = features.build_item_features(tiny, min_items=1, n_examples=1, popularity=np.array([5, 9, 0]))
    label = M.features.set_index("entity").loc["m.mann", "label"]
    assert label == "director of The Terminator (+1)"


def test_bad_parameters_raise(tiny):
    with pytest.raises(ConfigError, match="unknown relation group 'cast'"):
        features.build_item_features(tiny, relations="cast")
    with pytest.raises(ConfigError, match=r"unknown relations \['dog'\]"):
        features.build_item_features(tiny, relations=("actor", "dog"))
    with pytest.raises(ConfigError, match="min_items must be >= 1"):
        features.build_item_features(tiny, min_items=0)


def test_real_feature_matrix(ml100k):
    M = features.build_item_features(ml100k, min_items=2)
    assert M.matrix.shape == (1682, M.n_features)
    assert (np.asarray(M.matrix.sum(0)).ravel() >= 2).all()
    assert M.features["n_items"].tolist() == np.asarray(M.matrix.sum(0)).ravel().astype(int).tolist()
    unlinked = ml100k.items["entity"].isna().to_numpy()
    assert np.diff(M.matrix.indptr)[unlinked].sum() == 0
    assert 5_000 < M.n_features < 15_000
