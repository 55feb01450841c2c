"""Larger MovieLens by one parameter: synthetic archives in each GroupLens layout go through the reader's own
download-and-verify path and load as a Dataset; a damaged extracted file is re-extracted, a missing or changed
download is named; scoring by blocks of users equals scoring the dense matrix; and every chapter that needs no
knowledge graph runs end to end with `-p dataset ...` on such an archive."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replication import book, cli, datasets, explain, metrics, neighbours, settings, synthetic
from replication.errors import ConfigError, DataError
from replication.experiments import protocols, runner

SMALL = dict(n_users=60, n_items=80, n_ratings=1500)
RAW = {"ml-100k": ("u.data", "\t", 0), "ml-1m": ("ratings.dat", "::", 0), "ml-20m": ("ratings.csv", ",", 1)}


def raw_ratings(folder: Path, name: str) -> pd.DataFrame:
    file, sep, header = RAW[name]
    lines = (folder / file).read_text(encoding="latin-1").splitlines()[header:]
    rows = [line.split(sep) for line in lines]
    return pd.DataFrame({"user": [int(r[0]) for r in rows], "item": [int(r[1]) for r in rows],
                         "rating": [float(r[2]) for r in rows]})


@pytest.mark.parametrize("name", synthetic.LAYOUTS)
def test_each_layout_loads_through_the_download_path(tmp_path, name):
    data_dir = synthetic.prepare_download(name, tmp_path, **SMALL)
    data = datasets.load(name, data_dir)
    raw = raw_ratings(data_dir / name, name)
    assert data.name == name and len(data.ratings) == len(raw)
    assert data.n_users == raw["user"].nunique() and data.n_items == raw["item"].nunique()
    # the matrix holds exactly the file's ratings, under the original ids
    R = data.rating_matrix()
    users = data.users["raw_id"].to_numpy()[R.nonzero()[0]]
    items = data.items["raw_id"].to_numpy()[R.nonzero()[1]]
    got = pd.DataFrame({"user": users, "item": items, "rating": R.data.astype(float)})
    pd.testing.assert_frame_equal(got.sort_values(["user", "item"]).reset_index(drop=True),
                                  raw.sort_values(["user", "item"]).reset_index(drop=True))
    assert data.kg.empty and data.items["entity"].isna().all()
    assert data.genres == datasets.GENRES and data.genre_matrix().shape == (data.n_items, 18)
    assert data.genre_matrix().sum(axis=1).min() >= 1
    assert set(data.checksums) == {f"{name}.zip"}
    if name == "ml-20m":
        assert (data.ratings["rating"] % 1 == 0.5).any(), "half stars survive"


def test_ml20m_genre_names_become_the_books(tmp_path):
    data_dir = synthetic.prepare_download("ml-20m", tmp_path, **SMALL)
    movies = (data_dir / "ml-20m" / "movies.csv").read_text().splitlines()[1:]
    children = [int(line.split(",")[0]) for line in movies if "|Children" in line or ",Children" in line]
    data = datasets.load("ml-20m", data_dir)
    rows = data.items[data.items["raw_id"].isin(children)]
    assert len(rows) and all("Children's" in genres for genres in rows["genres"])


def test_genre_vocabulary_keeps_the_books_order_then_extra_genres():
    vocabulary = datasets.genre_vocabulary(pd.Series([["Drama", "IMAX"], ["Action"]], dtype=object))
    assert vocabulary == datasets.GENRES + ("IMAX",)


def test_a_damaged_or_missing_file_is_re_extracted_with_a_message(tmp_path, capsys):
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    ratings = data_dir / "ml-1m" / "ratings.dat"
    good = ratings.read_bytes()
    for damage in (lambda: ratings.write_bytes(good[: len(good) // 2]), ratings.unlink,
                   lambda: ratings.write_bytes(good.replace(b"::5::", b"::1::", 1))):
        damage()
        datasets.load_grouplens.cache_clear()
        data = datasets.load("ml-1m", data_dir)
        assert ratings.read_bytes() == good and len(data.ratings) == good.count(b"\n")
        assert "ratings.dat: missing or damaged" in capsys.readouterr().err


def test_a_missing_or_changed_download_is_named(tmp_path):
    with pytest.raises(DataError, match=r"no ml-1m archive at .*run `python -m replication download ml-1m"):
        datasets.load("ml-1m", tmp_path / "nothing")
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    with open(data_dir / "ml-1m.zip", "ab") as handle:
        handle.write(b"tampered")
    datasets.load_grouplens.cache_clear()
    with pytest.raises(DataError, match="was not unpacked from the verified"):
        datasets.load("ml-1m", data_dir)


def test_data_source_checks_the_name_and_knows_what_needs_the_graph(tmp_path):
    with pytest.raises(ConfigError, match="dataset must be one of"):
        protocols.data_source("ml-5m")
    assert protocols.data_source() == {"dataset": "ml-100k", "data_dir": ""}
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    source = protocols.data_source("ml-1m", str(data_dir))
    assert source == {"dataset": "ml-1m", "data_dir": str(data_dir.absolute())}
    train = protocols.holdout(0, "random", 0.1, **source).fit_train
    with pytest.raises(ConfigError, match="knowledge graph"):
        protocols.side_information("item_features", train, **source)
    assert protocols.side_information("genres", train, **source).shape == (train.shape[1], 18)


def test_the_cache_key_follows_the_data(tmp_path):
    a = synthetic.prepare_download("ml-1m", tmp_path / "a", **SMALL)
    b = synthetic.prepare_download("ml-1m", tmp_path / "b", **SMALL | {"seed": 1})
    job = lambda d: runner.Job(runner.JobOutput, {"dataset": "ml-1m", "data_dir": str(d)})  # noqa: E731
    assert runner.job_key(job(a)) != runner.job_key(job(b))
    assert runner.job_key(job(a)) == runner.job_key(job(a))


# ------------------------------------------------------------------------------------------ scoring in blocks


@pytest.fixture()
def small_blocks(monkeypatch):
    monkeypatch.setattr(metrics, "BLOCK_ENTRIES", 7 * 30)  # 7 users per block of 30 items


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    train = sp.random(40, 30, density=0.2, random_state=seed, format="csr", data_rvs=lambda n: rng.integers(1, 6, n))
    test = sp.random(40, 30, density=0.1, random_state=seed + 1, format="csr",
                     data_rvs=lambda n: rng.integers(1, 6, n))
    test = test - test.multiply(train > 0)
    scores = np.round(rng.random((40, 30)), 1)  # many ties
    return sp.csr_array(train), sp.csr_array(test), scores


@pytest.mark.parametrize("candidates", metrics.CANDIDATES)
def test_a_scorer_gives_the_dense_matrix_metrics(small_blocks, candidates):
    train, test, scores = problem()
    calls = []

    def scorer(rows):
        calls.append(len(rows))
        return scores[rows]

    expl = sp.csr_array(scores > 0.6)
    dense = metrics.evaluate_topn(scores, train, test, ks=(3, 10), relevant_threshold=4.0, explainable=expl,
                                  candidates=candidates)
    blocked = metrics.evaluate_topn(scorer, train, test, ks=(3, 10), relevant_threshold=4.0, explainable=expl,
                                    candidates=candidates)
    assert blocked == dense
    assert max(calls) <= 7 and len(calls) > 1, "scored a block of users at a time"
    assert metrics.rmse(scorer, test) == metrics.rmse(scores, test)
    assert metrics.mae(scorer, test) == metrics.mae(scores, test)


def test_a_scorer_of_the_wrong_shape_is_named(small_blocks):
    train, test, scores = problem()
    with pytest.raises(DataError, match=r"the scorer returned shape \(7, 29\) for 7 user rows; expected \(7, 30\)"):
        metrics.evaluate_topn(lambda rows: scores[rows][:, 1:], train, test)


def test_scores_are_held_dense_only_up_to_the_limit(monkeypatch):
    score = lambda rows: np.zeros((3, 4))  # noqa: E731
    assert isinstance(metrics.scores_or_scorer(score, (3, 4)), np.ndarray)
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "11")
    assert metrics.scores_or_scorer(score, (3, 4)) is score


@pytest.mark.parametrize("block_entries", [1, 40 * 3, 40 * 40])
@pytest.mark.parametrize("dense", [False, True])
def test_nearest_rows_by_blocks_equals_the_full_similarity(block_entries, dense):
    X = sp.random(40, 25, density=0.15, random_state=3, format="csr")
    X.data = np.ceil(X.data * 2)  # few distinct values: tied similarities
    X = X.toarray() if dense else X
    full = neighbours.top_neighbours(neighbours.cosine_similarity(X), 6, exclude_self=True)
    idx, sim = neighbours.nearest_rows(X, 6, block_entries=block_entries)
    np.testing.assert_array_equal(idx, full[0])
    if dense:  # BLAS sums a block's products in another order: equal to the last bit or two
        np.testing.assert_allclose(sim, full[1], rtol=1e-14)
    else:  # sparse products are exact
        np.testing.assert_array_equal(sim, full[1])
    assert (idx != np.arange(40)[:, None]).all()


@pytest.mark.parametrize("theta", [0.0, 1.0, 3.0])
def test_the_sparse_explainability_matrix_equals_the_thresholded_dense_scores(theta):
    train, _, _ = problem(2)
    dense = explain.explanation_scores(train, 5)
    dense[dense <= theta] = 0
    E = explain.explainability_matrix(train, 5, theta)
    np.testing.assert_array_equal(E.toarray(), dense.astype(np.float32))
    assert E.nnz == np.count_nonzero(dense)
    np.testing.assert_array_equal(explain.explanation_scores(train, 5, users=[7, 2]),
                                  explain.explanation_scores(train, 5)[[7, 2]])


# ------------------------------------------------------------------------------------------ chapters end to end


def smoke_arguments(chapter: str) -> list[str]:
    notebook = next(p for p in book.toc_notebooks() if p.stem == chapter)
    params = book.smoke_parameters(notebook)
    if chapter == "comparison":
        params["models"] = [m for m in params["models"] if not m.startswith("SEMAUTO")]
    return [arg for name, value in params.items() for arg in ("-p", name, repr(value))]


@pytest.mark.parametrize("chapter, layout", [("eautorec", "ml-1m"), ("autoencoders", "ml-20m"),
                                             ("cvae", "ml-100k"), ("comparison", "ml-1m")])
def test_a_chapter_runs_on_a_larger_data_set_by_one_parameter(tmp_path, capsys, chapter, layout):
    data_dir = synthetic.prepare_download(layout, tmp_path, n_users=400, n_items=300, n_ratings=14000)
    output = tmp_path / "runs" / f"{chapter}.ipynb"
    code = cli.main(["run", chapter, "-p", "dataset", layout, "-p", "data_dir", str(data_dir),
                     *smoke_arguments(chapter), "--output", str(output)])
    assert code == 0, capsys.readouterr().err
    saved = json.loads(output.with_suffix(".json").read_text())
    assert saved["config"]["dataset"] == layout and saved["config"]["data_dir"] == str(data_dir)
    assert saved["data"] == datasets.load(layout, data_dir).checksums
    assert saved["metrics"], "the chapter measured something"
    assert f"This run used {layout}" in output.read_text(), "the chapter says which data it ran on"


@pytest.mark.parametrize("theta", [0.0, 2.5])
def test_explainability_by_rows_gives_the_matrix_mep(small_blocks, monkeypatch, theta):
    train, test, scores = problem(4)
    rows = explain.ExplainableRows(train, 5, theta)
    E = explain.explainability_matrix(train, 5, theta)
    np.testing.assert_array_equal(rows.rows([3, 0]).toarray(), E[[3, 0]].toarray())
    np.testing.assert_array_equal(rows(np.arange(40)).toarray(), explain.explainable_mask(E).toarray())
    by_matrix = metrics.per_user_metrics(scores, train, test, ks=(3, 10), explainable=E)
    by_rows = metrics.per_user_metrics(lambda r: scores[r], train, test, ks=(3, 10), explainable=rows)
    pd.testing.assert_frame_equal(by_rows, by_matrix)
    assert metrics.mep_of_lists(by_rows, rows, (3,)) == metrics.mep_of_lists(by_matrix, E, (3,))
    assert isinstance(explain.explainable_pairs(train, 5, theta), sp.csr_array)
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "10")
    assert isinstance(explain.explainable_pairs(train, 5, theta), explain.ExplainableRows)


def test_neighbour_lists_are_found_once_per_ratings(monkeypatch):
    train, _, _ = problem(5)
    first = explain.neighbours(train, 4)
    calls = []
    monkeypatch.setattr(explain, "nearest_rows", lambda *a: calls.append(a) or (np.zeros((40, 4), int), None))
    np.testing.assert_array_equal(explain.neighbours(train.copy(), 4), first)  # the same ratings (a copy)
    assert not calls and not first.flags.writeable
    changed = train.copy()
    changed.data[0] += 1
    explain.neighbours(changed, 4)
    assert len(calls) == 1, "other ratings: found afresh"


def test_the_loss_decomposition_of_one_row_for_everyone_is_the_dense_one():
    from replication import teaching

    train, _, _ = problem(6)
    row = np.linspace(0.5, 4.5, 30)
    dense = teaching.loss_decomposition(np.tile(row, (40, 1)), train)
    by_row = teaching.loss_decomposition(row, train)
    assert by_row.keys() == dense.keys()
    for key, value in dense.items():
        assert by_row[key] == pytest.approx(value, rel=1e-12), key
    with pytest.raises(DataError, match="a prediction row of 29 items for a target with 30 columns"):
        teaching.loss_decomposition(row[1:], train)


def test_conditioned_evaluation_by_blocks_equals_the_dense_one(small_blocks):
    train, test, scores = problem(7)
    conditions = (np.random.default_rng(0).random((30, 3)) > 0.6).astype(np.float32)
    for post_filter in (False, True):
        dense = protocols.conditioned_eval(lambda c: scores + c, train, test, conditions, k=5, post_filter=post_filter)
        blocked = protocols.conditioned_eval(lambda c: (lambda rows: scores[rows] + c), train, test, conditions, k=5,
                                             post_filter=post_filter)
        pd.testing.assert_frame_equal(blocked, dense)


def test_a_fold_in_scorer_is_dense_when_small_and_blocked_when_large(monkeypatch):
    from replication import models

    train, test, _ = problem(8)
    model = models.EASE(10.0).fit(train)
    dense = protocols.fold_in_scorer(model, test)
    np.testing.assert_array_equal(dense, model.score(test))
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "10")
    scorer = protocols.fold_in_scorer(model, test)
    np.testing.assert_array_equal(scorer(np.array([3, 1])), model.score(sp.csr_array(test)[[3, 1]]))


def test_a_second_rating_of_the_same_film_names_the_line(tmp_path):
    folder = synthetic.write_grouplens("ml-1m", tmp_path / "src", **SMALL)
    lines = (folder / "ratings.dat").read_text(encoding="latin-1").splitlines()
    (folder / "ratings.dat").write_text("\n".join(lines + [lines[3]]) + "\n", encoding="latin-1")
    import hashlib
    import zipfile

    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    from replication import grouplens

    grouplens.download("ml-1m", tmp_path / "data", url=archive.as_uri(),
                       sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), progress=False)
    user, item = lines[3].split("::")[:2]
    with pytest.raises(DataError, match=rf"ratings line {len(lines) + 1}: user {user} rates item {item} a second"):
        datasets.load("ml-1m", tmp_path / "data")


def test_the_dense_limit_is_a_setting_with_a_clear_error(monkeypatch):
    monkeypatch.delenv("REPLICATION_DENSE_ENTRIES", raising=False)
    assert settings.dense_entries() == 1 << 26
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "0")
    assert settings.dense_entries() == 0
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "lots")
    with pytest.raises(ConfigError, match="REPLICATION_DENSE_ENTRIES must be a non-negative integer.*'lots'"):
        settings.dense_entries()
