"""Synthetic MovieLens-shaped data in the official GroupLens file layouts, for tests and scaling benchmarks.

``write_grouplens("ml-1m", folder, n_users=6040, n_items=3706, n_ratings=1_000_209)`` writes ``folder/ml-1m``
(``ratings.dat``, ``movies.dat``) exactly as GroupLens publishes it, so that everything downstream (the strict
loaders, the download-and-verify path when the folder is zipped, every chapter's ``dataset`` parameter) runs
unchanged on data of any size without a download. The ratings have the structure real ones have, enough for the
models to learn something: a long-tailed item popularity, user activity from a log-normal, taste as a
low-rank affinity between users and genre-shaped items, and ratings that rise with that affinity. They are not
MovieLens: numbers measured on them are costs (time, memory), never results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import check_int
from .errors import ConfigError
from .grouplens import ML100K_GENRES

__all__ = ["LAYOUTS", "write_grouplens", "prepare_download"]

LAYOUTS = ("ml-100k", "ml-1m", "ml-20m")
_GENRES = [g for g in ML100K_GENRES if g != "unknown"]  # the 18 genres every layout knows
_BLOCK_ENTRIES = 1 << 22  # users x items entries per sampling block (bounds memory at any size)


def _ratings(n_users: int, n_items: int, n_ratings: int, genre_of: np.ndarray, rng: np.random.Generator,
             half_stars: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, rating) triples, each user rating distinct items, about `n_ratings` in all."""
    rank = 8
    item_taste = rng.normal(size=(n_items, rank)) * 0.5
    item_taste[np.arange(n_items), genre_of % rank] += 1.5  # genres shape taste
    log_pop = -1.1 * np.log1p(rng.permutation(n_items).astype(np.float64))  # Zipf-like popularity
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    counts = np.maximum(20, np.round(activity / activity.sum() * n_ratings)).astype(np.int64)
    counts = np.minimum(counts, n_items // 2)
    users, items, ratings = [], [], []
    block = max(1, _BLOCK_ENTRIES // n_items)
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        taste = rng.normal(size=(stop - start, rank))
        affinity = taste @ item_taste.T / np.sqrt(rank)
        keys = log_pop + 0.7 * affinity + rng.gumbel(size=affinity.shape)  # Gumbel top-k = sampling w/o repl.
        order = np.argsort(-keys, axis=1)
        for row, user in enumerate(range(start, stop)):  # one slice per user of a block (cheap)
            chosen = order[row, :counts[user]]
            stars = 3.4 + 0.9 * affinity[row, chosen] + rng.normal(scale=0.8, size=chosen.size)
            users.append(np.full(chosen.size, user))
            items.append(chosen)
            ratings.append(stars)
    stars = np.concatenate(ratings)
    stars = np.clip(np.round(stars * 2) / 2 if half_stars else np.round(stars), 0.5 if half_stars else 1, 5)
    return np.concatenate(users), np.concatenate(items), stars


def write_grouplens(name: str, root: str | Path, *, n_users: int = 200, n_items: int = 300, n_ratings: int = 6000,
                    seed: int = 0) -> Path:
    """Write a synthetic data set in the `name` layout into ``root/<name>`` and return that folder. Ids are
    1-based as in the originals; ml-20m has half-star ratings and a header line, ml-100k the 19 genre flags."""
    if name not in LAYOUTS:
        raise ConfigError(f"unknown GroupLens layout {name!r}; allowed: {', '.join(LAYOUTS)}")
    n_users = check_int("n_users", n_users, 2)
    n_items = check_int("n_items", n_items, 2)
    n_ratings = check_int("n_ratings", n_ratings, 1)
    rng = np.random.default_rng(seed)
    genre_of = rng.integers(0, len(_GENRES), size=n_items)
    second = rng.integers(0, len(_GENRES), size=n_items)
    user, item, rating = _ratings(n_users, n_items, n_ratings, genre_of, rng, half_stars=name == "ml-20m")
    stamps = rng.integers(874_724_710, 1_427_784_002, size=user.size)
    years = rng.integers(1920, 2015, size=n_items)
    genres = [sorted({_GENRES[a], _GENRES[b]}, key=_GENRES.index) for a, b in zip(genre_of, second)]
    titles = [f"Synthetic Film {i + 1} ({y})" for i, y in enumerate(years)]
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    stars = [f"{r:.1f}" for r in rating] if name == "ml-20m" else [str(int(r)) for r in rating]
    lines = (f"{u + 1}{{sep}}{i + 1}{{sep}}{s}{{sep}}{t}" for u, i, s, t in zip(user, item, stars, stamps))
    if name == "ml-100k":
        _write(folder / "u.data", (line.format(sep="\t") for line in lines), "latin-1")
        flags = ["|".join("1" if g in gs else "0" for g in ML100K_GENRES) for gs in genres]
        _write(folder / "u.item", (f"{i + 1}|{t}|01-Jan-{y}||http://example.org|{f}"
                                   for i, (t, y, f) in enumerate(zip(titles, years, flags))), "latin-1")
    elif name == "ml-1m":
        _write(folder / "ratings.dat", (line.format(sep="::") for line in lines), "latin-1")
        _write(folder / "movies.dat", (f"{i + 1}::{t}::{'|'.join(gs)}" for i, (t, gs) in enumerate(zip(titles, genres))),
               "latin-1")
    else:
        _write(folder / "ratings.csv", ["userId,movieId,rating,timestamp"]
               + [line.format(sep=",") for line in lines], "utf-8")
        ml20 = [[g.replace("Children's", "Children") for g in gs] for gs in genres]
        _write(folder / "movies.csv", ["movieId,title,genres"]
               + [f'{i + 1},"{t}",{"|".join(gs)}' for i, (t, gs) in enumerate(zip(titles, ml20))], "utf-8")
    return folder


def prepare_download(name: str, root: str | Path, **size: int) -> Path:
    """A synthetic `name` archive put through the reader's own path: written, zipped as GroupLens zips it, then
    fetched from a file URL by :func:`replication.grouplens.download` (checksum-verified, unpacked) into
    ``root/data``, which is returned: the `data_dir` a chapter's ``-p data_dir`` takes. `size`: n_users, n_items,
    n_ratings, seed of :func:`write_grouplens`."""
    import hashlib
    import zipfile

    from . import grouplens

    root = Path(root)
    source = write_grouplens(name, root / "source", **size)
    archive = root / "served" / f"{name}.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            zf.write(path, path.relative_to(source.parent).as_posix())
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    grouplens.download(name, root / "data", url=archive.as_uri(), sha256=sha256, progress=False)
    return root / "data"


def _write(path: Path, lines, encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")
