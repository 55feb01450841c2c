"""MovieLens-100K with its Freebase knowledge graph, read offline from the files inside the recbole 1.2.1 wheel.

The wheel is treated as a data archive: `pip download --no-deps` fetches it, its SHA-256 is checked, and the five
`ml-100k.*` files are extracted into a git-ignored cache.  Ids become contiguous integers; the original ids are kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import settings
from .errors import ChecksumError, ConfigError, DataError

WHEEL_NAME = "recbole-1.2.1-py3-none-any.whl"
WHEEL_SPEC = "recbole==1.2.1"
WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
MEMBER_DIR = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user", "ml-100k.kg", "ml-100k.link")
# SHA-256 of each file as extracted from the verified wheel: checked at every load, so a damaged cache never loads.
FILE_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
    "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
}
GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


def readable_title(title: str) -> str:
    """MovieLens writes 'Terminator, The': move a trailing article to the front ('The Terminator')."""
    for article in ("The", "A", "An", "Les", "La", "Il", "Das", "Die", "Le", "L'"):
        suffix = ", " + article
        if title.endswith(suffix):
            return f"{article} {title[: -len(suffix)]}" if article != "L'" else f"L'{title[: -len(suffix)]}"
    return title


def default_cache() -> Path:
    """The data cache folder (`settings.data_cache`: $REPLICATION_DATA, else `data_cache/`)."""
    return settings.data_cache()


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(dest: Path) -> Path:
    """Download the recbole wheel with `pip download --no-deps` into `dest` (no install, no dependencies)."""
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / WHEEL_NAME
    if wheel.exists():
        return wheel
    print(f"Fetching the MovieLens-100K + knowledge-graph files: pip download --no-deps {WHEEL_SPEC} -> {dest}",
          file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL_SPEC, "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not wheel.exists():
        raise DataError(
            f"could not fetch {WHEEL_SPEC} with `{' '.join(cmd)}` (exit {done.returncode}): {done.stderr.strip()[-500:]}"
            f"\nPlace {WHEEL_NAME} in {dest} by hand to work offline."
        )
    return wheel


def extract_wheel(wheel: Path, dest: Path, sha256: str = WHEEL_SHA256) -> Path:
    """Verify the wheel's SHA-256 and extract the five ml-100k files into `dest/ml-100k` (atomically)."""
    actual = sha256_of(wheel)
    if actual != sha256:
        raise ChecksumError(f"{wheel}: SHA-256 is {actual}, expected {sha256}; delete the file and retry")
    target = dest / "ml-100k"
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".ml-100k-"))
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            for name in FILES:
                member = MEMBER_DIR + name
                if member not in names:
                    raise DataError(f"{wheel}: archive has no member {member}")
                with archive.open(member) as src, open(tmp / name, "wb") as out:
                    shutil.copyfileobj(src, out)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def damaged_files(folder: Path, expected: dict[str, str] | None = None) -> list[str]:
    """The files of `folder` that are missing or whose SHA-256 differs from the pinned one (FILE_SHA256)."""
    expected = FILE_SHA256 if expected is None else expected
    return [name for name, digest in expected.items()
            if not (folder / name).is_file() or sha256_of(folder / name) != digest]


def ensure_files(cache: Path | None = None, expected: dict[str, str] | None = None,
                 wheel_sha256: str = WHEEL_SHA256) -> Path:
    """Return the folder holding the five ml-100k files, each verified against its pinned SHA-256; missing or
    damaged files are re-extracted from the verified wheel (fetched on first use), with a message."""
    cache = Path(cache) if cache is not None else default_cache()
    folder = cache / "ml-100k"
    bad = damaged_files(folder, expected)
    if not bad:
        return folder
    damaged = folder.exists()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        folder = extract_wheel(fetch_wheel(cache), cache, wheel_sha256)
    except DataError as error:
        raise DataError(f"{folder / bad[0]} is missing or damaged and could not be restored: {error}") from error
    still = damaged_files(folder, expected)
    if still:
        raise ChecksumError(f"{folder / still[0]}: SHA-256 differs from the pinned value even as extracted from the "
                            f"verified wheel; the pinned values in replication/datasets.py are wrong")
    if damaged:
        print(f"[data] {', '.join(str(folder / name) for name in bad)}: missing or damaged (SHA-256 differed from "
              f"the pinned value); re-extracted from the verified wheel", file=sys.stderr)
    return folder


def read_atomic_table(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """Read one recbole 'atomic file' (tab-separated, typed header `name:type`) as strings, checking its columns."""
    if not path.exists():
        raise DataError(f"missing data file {path}; expected columns {list(expected)}")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3, engine="c")
    columns = tuple(col.split(":")[0] for col in frame.columns)
    if columns != expected:
        raise DataError(f"{path}: header has columns {list(columns)}, expected {list(expected)}")
    frame.columns = list(expected)
    return frame


def to_int(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Parse a column as integers, naming the first bad row (1-based file line) on failure."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}, line {row + 2}: column '{column}' is not a number: {frame[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.float64)


@dataclass
class Dataset:
    """A MovieLens data set with contiguous integer ids: ML-100K with its knowledge graph, or ML-1M / ML-20M.

    `ratings`: user, item (0-based ints), rating (float32, 1..5; ML-20M 0.5..5), timestamp.  `items`: item, raw_id,
    title, year, genres (list), entity (Freebase id or None).  `users`: user, raw_id (ML-100K also age, gender,
    occupation, zip_code).  `kg`: head, relation, tail (Freebase ids as in the file; empty beyond ML-100K).
    `checksums`: SHA-256 of each source file (of the verified archive beyond ML-100K).
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    kg: pd.DataFrame
    checksums: dict[str, str] = field(default_factory=dict)
    name: str = "ml-100k"
    genres: tuple[str, ...] = GENRES  # the columns of genre_matrix()

    def view(self) -> "Dataset":
        """A Dataset over the same data whose tables are shallow copies: pandas copies a table only when one is
        changed (copy-on-write), so a change made through the view never reaches the shared, cached original."""
        return replace(self, ratings=self.ratings.copy(deep=False), items=self.items.copy(deep=False),
                       users=self.users.copy(deep=False), kg=self.kg.copy(deep=False),
                       checksums=dict(self.checksums))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def rating_matrix(self, ratings: pd.DataFrame | None = None) -> sp.csr_array:
        """Users x items CSR matrix of ratings (of `ratings`, default all ratings)."""
        frame = self.ratings if ratings is None else ratings
        return sp.csr_array(
            (frame["rating"].to_numpy(np.float32), (frame["user"].to_numpy(), frame["item"].to_numpy())),
            shape=(self.n_users, self.n_items),
        )

    def genre_matrix(self) -> np.ndarray:
        """Items x genres 0/1 matrix in the order of `genres`."""
        out = np.zeros((self.n_items, len(self.genres)), dtype=np.float32)
        index = {g: j for j, g in enumerate(self.genres)}
        rows = np.repeat(self.items["item"].to_numpy(), self.items["genres"].map(len).to_numpy())
        cols = [index[g] for genres in self.items["genres"] for g in genres]
        out[rows, cols] = 1.0
        return out

    def title(self, item: int) -> str:
        """A readable title with year for an item index."""
        row = self.items.iloc[item]
        name = readable_title(str(row["title"]))
        return f"{name} ({row['year']})" if pd.notna(row["year"]) else name

    def summary(self) -> dict[str, int]:
        """The headline sizes: ratings, users, items, linked items, triples."""
        return {
            "ratings": len(self.ratings),
            "users": self.n_users,
            "items": self.n_items,
            "linked_items": int(self.items["entity"].notna().sum()),
            "triples": len(self.kg),
        }


def parse_folder(folder: Path) -> Dataset:
    """Parse the five recbole ml-100k files in `folder` into a Dataset with contiguous ids."""
    folder = Path(folder)
    paths = {name: folder / name for name in FILES}
    inter = read_atomic_table(paths["ml-100k.inter"], ("user_id", "item_id", "rating", "timestamp"))
    item = read_atomic_table(paths["ml-100k.item"], ("item_id", "movie_title", "release_year", "class"))
    user = read_atomic_table(paths["ml-100k.user"], ("user_id", "age", "gender", "occupation", "zip_code"))
    kg = read_atomic_table(paths["ml-100k.kg"], ("head_id", "relation_id", "tail_id"))
    link = read_atomic_table(paths["ml-100k.link"], ("item_id", "entity_id"))

    inter_path = paths["ml-100k.inter"]
    rating = to_int(inter, "rating", inter_path)
    bad = (rating < 1) | (rating > 5)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{inter_path}, line {row + 2}: rating {rating[row]} outside the allowed range 1..5")
    item_raw = to_int(item, "item_id", paths["ml-100k.item"]).astype(np.int64)
    user_raw = to_int(user, "user_id", paths["ml-100k.user"]).astype(np.int64)
    item_index = pd.Index(np.sort(item_raw))
    user_index = pd.Index(np.sort(user_raw))
    if item_index.has_duplicates or user_index.has_duplicates:
        raise DataError(f"{folder}: duplicated item or user ids in ml-100k.item / ml-100k.user")

    u = user_index.get_indexer(to_int(inter, "user_id", inter_path).astype(np.int64))
    i = item_index.get_indexer(to_int(inter, "item_id", inter_path).astype(np.int64))
    for name, codes, col in (("user", u, "user_id"), ("item", i, "item_id")):
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataError(f"{inter_path}, line {row + 2}: unknown {name} id {inter[col].iloc[row]!r}")
    ratings = pd.DataFrame({
        "user": u.astype(np.int64), "item": i.astype(np.int64), "rating": rating.astype(np.float32),
        "timestamp": to_int(inter, "timestamp", inter_path).astype(np.int64),
    })
    if ratings.duplicated(["user", "item"]).any():
        row = int(np.flatnonzero(ratings.duplicated(["user", "item"]).to_numpy())[0])
        raise DataError(f"{inter_path}, line {row + 2}: a second rating for the same (user, item)")

    links = dict(zip(to_int(link, "item_id", paths["ml-100k.link"]).astype(np.int64), link["entity_id"]))
    order = np.argsort(item_raw)
    item = item.iloc[order].reset_index(drop=True)
    years = pd.to_numeric(item["release_year"], errors="coerce").astype("Int64")
    items = pd.DataFrame({
        "item": np.arange(len(item), dtype=np.int64),
        "raw_id": item_index.to_numpy(),
        "title": item["movie_title"].to_numpy(),
        "year": years,
        "genres": [[g for g in text.split(" ") if g] for text in item["class"]],
        "entity": [links.get(r) for r in item_index.to_numpy()],
    })
    unknown = sorted({g for genres in items["genres"] for g in genres} - set(GENRES) - {"unknown"})
    if unknown:
        raise DataError(f"{paths['ml-100k.item']}: unknown genres {unknown}; allowed {list(GENRES)}")
    items["genres"] = [[g for g in genres if g != "unknown"] for genres in items["genres"]]

    user = user.iloc[np.argsort(user_raw)].reset_index(drop=True)
    users = pd.DataFrame({
        "user": np.arange(len(user), dtype=np.int64),
        "raw_id": user_index.to_numpy(),
        "age": to_int(user, "age", paths["ml-100k.user"]).astype(np.int64),
        "gender": user["gender"].to_numpy(),
        "occupation": user["occupation"].to_numpy(),
        "zip_code": user["zip_code"].to_numpy(),
    })
    kg = kg.rename(columns={"head_id": "head", "relation_id": "relation", "tail_id": "tail"})
    checksums = {name: sha256_of(path) for name, path in paths.items()}
    return Dataset(ratings=ratings, items=items, users=users, kg=kg, checksums=checksums)


@lru_cache(maxsize=4)
def load_movielens_100k(cache: str | None = None) -> Dataset:
    """MovieLens-100K with its knowledge graph; fetches and verifies the data archive on first use."""
    return parse_folder(ensure_files(Path(cache) if cache else None))


DATASETS = ("ml-100k", "ml-1m", "ml-20m")
OFFLINE = "ml-100k"  # the one data set that ships inside a wheel (with its knowledge graph)


def default_data_dir() -> Path:
    """Where `python -m replication download NAME` puts ML-1M / ML-20M by default: `data/` at the project root."""
    return Path(__file__).resolve().parent.parent / "data"


def genre_vocabulary(genres: pd.Series) -> tuple[str, ...]:
    """The book's 18 genres in their order, then any other genre the data has (ML-20M: IMAX) in first-seen order."""
    extra = dict.fromkeys(g for gs in genres for g in gs if g not in GENRES)
    return GENRES + tuple(extra)


@lru_cache(maxsize=2)
def load_grouplens(name: str, data_dir: str) -> Dataset:
    """ML-1M / ML-20M (or any GroupLens layout) from a folder prepared by `python -m replication download NAME
    --dest data_dir`, verified first (:func:`replication.grouplens.verified_folder`). Users and the items that
    have at least one rating get contiguous ids (ML-1M: 6,040 users, 3,706 of its 3,883 films); no knowledge
    graph (`kg` is empty), so the SEMAUTO chapter stays on ML-100K. ML-20M's "Children" is the book's
    "Children's"; its "(no genres listed)" films have no genre."""
    from . import grouplens

    folder = grouplens.verified_folder(name, data_dir)
    raw, movies = grouplens.load_grouplens(name, folder)
    if raw.empty:
        raise DataError(f"{folder}: the ratings file holds no ratings")
    users, u = np.unique(raw["user_id"].to_numpy(), return_inverse=True)
    rated, i = np.unique(raw["item_id"].to_numpy(), return_inverse=True)
    movies = movies.set_index("item_id")
    missing = np.setdiff1d(rated, movies.index.to_numpy())
    if missing.size:
        raise DataError(f"{folder}: the ratings name item id {missing[0]} that the items file does not list")
    movies = movies.loc[rated]
    genres = [[("Children's" if g == "Children" else g) for g in gs] for gs in movies["genres"]]
    ratings = pd.DataFrame({"user": u.astype(np.int64), "item": i.astype(np.int64),
                            "rating": raw["rating"].to_numpy(np.float32), "timestamp": raw["timestamp"].to_numpy()})
    dup = ratings.duplicated(["user", "item"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(f"{folder}: ratings line {row + 1 + (name == 'ml-20m')}: user {raw['user_id'].iloc[row]} "
                        f"rates item {raw['item_id'].iloc[row]} a second time")
    items = pd.DataFrame({"item": np.arange(rated.size, dtype=np.int64), "raw_id": rated,
                          "title": [title_without_year(t) for t in movies["title"]], "year": movies["year"].to_numpy(),
                          "genres": genres, "entity": None})
    archive = Path(data_dir).expanduser().absolute() / f"{name}.zip"
    return Dataset(ratings=ratings, items=items,
                   users=pd.DataFrame({"user": np.arange(users.size, dtype=np.int64), "raw_id": users}),
                   kg=pd.DataFrame({"head": [], "relation": [], "tail": []}, dtype=str),
                   checksums={archive.name: sha256_of(archive)}, name=name,
                   genres=genre_vocabulary(pd.Series(genres, dtype=object)))


def title_without_year(title: str) -> str:
    """A GroupLens title without its trailing "(1995)" (the year is its own column, as in ML-100K's items)."""
    import re

    return re.sub(r"\s*\(\d{4}\)\s*$", "", str(title))


def load(name: str = "ml-100k", data_dir: str | os.PathLike[str] | None = None, cache: str | None = None) -> Dataset:
    """Load a data set by name: ml-100k ships offline (with its knowledge graph); ml-1m / ml-20m are read from
    `data_dir` (default `data/`), where `python -m replication download NAME` put them. ml-100k with a `data_dir`
    reads GroupLens' own ml-100k archive from there (no knowledge graph)."""
    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; allowed: {', '.join(DATASETS)}")
    if name == OFFLINE and not data_dir:
        return load_movielens_100k(cache).view()
    return load_grouplens(name, str(Path(data_dir or default_data_dir()).expanduser().absolute())).view()
